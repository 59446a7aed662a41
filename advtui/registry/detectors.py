"""Detectors: their specs, the defaults ``eval`` runs and the paper's detector."""

from __future__ import annotations

from dataclasses import dataclass, field

from advtui.registry.params import Param, _unknown


@dataclass(frozen=True)
class DetectorSpec:
    """A detector: ``trained`` detectors are fitted on eval's rows as classifiers; the others
    need no training beyond their paper's fit on clean rows (a threshold on a score).
    ``features`` names the :class:`advtui.detect.base.DetectorData` column it reads (``shap``:
    the sorted attribution quantiles, whichever explainer made them); ``label``
    its display name; ``default``: run by ``eval`` when ``--detectors`` is not given;
    ``summary_key``: summary.json's older per-variant key that also carries its results
    (``lr``, ``rf``, ``confidence_baseline``: what tables, plots and scripts read); ``params``
    its settings (``make_detector(name, **settings)``, typed and checked against them)."""

    name: str
    description: str
    path: str
    trained: bool = True
    features: str = "shap"
    params: tuple[Param, ...] = field(default=())
    label: str = ""
    paper: str = ""
    default: bool = False
    summary_key: str = ""
    #: the detector the paper reports: its figures stand beside this one's, and the adaptive
    #: attacker's report judges this one (exactly one spec sets it)
    the_papers: bool = False


DETECTORS: dict[str, DetectorSpec] = {
    s.name: s
    for s in (
        DetectorSpec(
            "shap-lr",
            "logistic regression on the sorted attribution values (the paper's detector)",
            "advtui.detect.learned:ShapLR",
            label="SHAP-LR",
            paper="Saito & Wang 2020",
            default=True,
            summary_key="lr",
            the_papers=True,
        ),
        DetectorSpec(
            "shap-rf",
            "random forest on the sorted attribution values",
            "advtui.detect.learned:ShapRF",
            label="SHAP-RF",
            default=True,
            summary_key="rf",
        ),
        DetectorSpec(
            "confidence",
            "logistic regression on the predicted class's probability and logit",
            "advtui.detect.learned:Confidence",
            features="confidence",
            label="confidence",
            default=True,
            summary_key="confidence_baseline",
        ),
        DetectorSpec(
            "squeeze",
            "feature squeezing: max L1 softmax change under 5-bit depth and a 2×2 median "
            "filter; threshold (Xu et al. 2018)",
            "advtui.detect.squeeze:Squeeze",
            trained=False,
            features="squeeze",
            label="squeezing",
            paper="Xu, Evans & Qi 2018",
            default=True,
        ),
        DetectorSpec(
            "mahalanobis",
            "min Mahalanobis distance of penultimate features to clean class means, tied "
            "covariance; threshold (Lee et al. 2018)",
            "advtui.detect.mahalanobis:Mahalanobis",
            trained=False,
            features="penultimate",
            label="Mahalanobis",
            paper="Lee, Lee, Lee & Shin 2018",
            default=True,
        ),
        DetectorSpec(
            "lid",
            "local intrinsic dimensionality of penultimate features (maximum likelihood from "
            "the k nearest clean training rows); threshold (Ma et al. 2018)",
            "advtui.detect.lid:LID",
            trained=False,
            features="penultimate",
            params=(
                Param(
                    "k", 20, "nearest clean training rows (capped by those there are)", 2, 10_000
                ),
            ),
            label="LID",
            paper="Ma et al. 2018",
        ),
    )
}
#: ``eval --detectors`` default: the specs marked ``default`` (the paper's detector and the
#: baselines next to it), in registry order.
DEFAULT_DETECTORS = tuple(n for n, s in DETECTORS.items() if s.default)
#: the paper's detector (SHAP-LR), the one its figures and the adaptive report are about
(PAPER_DETECTOR,) = (n for n, s in DETECTORS.items() if s.the_papers)


def detector_spec(name: str) -> DetectorSpec:
    spec = DETECTORS.get(str(name).strip().lower())
    if spec is None:
        raise _unknown("detector", name, DETECTORS)
    return spec
