"""Explainers: their specs, the default, and the keyword arguments each one takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advtui.registry.params import Param, _unknown, _within


@dataclass(frozen=True)
class ExplainerSpec:
    """An explainer: ``label`` names its maps in panels and files (``IG``); ``background``
    says whether it integrates from background images (SHAP) — the factory loads them only
    then; ``nsamples`` what ``--nsamples`` counts for it ("" when it is ignored)."""

    name: str
    description: str
    path: str
    label: str
    params: tuple[Param, ...] = ()
    background: bool = False
    nsamples: str = "samples"
    paper: str = ""


#: the explainer of every face unless --explainer says otherwise (the paper's SHAP); runs made
#: with it record no explainer of their own, as runs did before there were others
DEFAULT_EXPLAINER = "shap"
#: the original repository's protocol (--protocol seed) explains with SHAP
SEED_EXPLAINER = "shap"

EXPLAINERS: dict[str, ExplainerSpec] = {
    s.name: s
    for s in (
        ExplainerSpec(
            "shap",
            "expected gradients as shap.GradientExplainer computes them (from background images)",
            "advtui.explain.shap:Explainer",
            "SHAP",
            params=(
                Param("layer", None, "explain the input of this backbone layer"),
                Param("local_smoothing", 0.0, "std of noise added to the input", 0.0),
            ),
            background=True,
            paper="Lundberg & Lee 2017; Erion et al. 2021",
        ),
        ExplainerSpec(
            "ig",
            "Integrated Gradients of the class logit from a black (or blurred) baseline (captum)",
            "advtui.explain.captum:IG",
            "IG",
            params=(Param("baseline", "black", "black | blur: where the path starts"),),
            nsamples="steps",
            paper="Sundararajan et al. 2017",
        ),
        ExplainerSpec(
            "saliency",
            "the signed gradient of the class logit (captum Saliency)",
            "advtui.explain.captum:Saliency",
            "saliency",
            nsamples="",
            paper="Simonyan et al. 2014",
        ),
        ExplainerSpec(
            "smoothgrad",
            "the mean gradient over seeded noisy copies (captum NoiseTunnel over Saliency)",
            "advtui.explain.captum:SmoothGrad",
            "SmoothGrad",
            params=(Param("noise_std", 0.15, "σ of the noise in pixel units", 0.001, 1.0),),
            nsamples="noisy copies",
            paper="Smilkov et al. 2017",
        ),
        ExplainerSpec(
            "gradcam",
            "the class logit's gradient-weighted activations of the last conv features (signed)",
            "advtui.explain.gradcam:GradCAM",
            "Grad-CAM",
            params=(Param("layer", None, "explain the input of this backbone layer"),),
            nsamples="",
            paper="Selvaraju et al. 2017",
        ),
    )
}


def explainer_spec(name: str) -> ExplainerSpec:
    spec = EXPLAINERS.get(str(name).strip().lower())
    if spec is None:
        raise _unknown("explainer", name, EXPLAINERS)
    return spec


def explainer_kwargs(name: str, params: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """The keyword arguments explainer ``name`` takes, from ``params`` (any explainer's
    registry parameters plus ``seed`` and ``batch_size``).

    ``strict``: a parameter of another explainer set away from its default (``--baseline blur``
    with SHAP) raises :class:`~advtui.errors.ExplainError` naming the flag and the explainers
    that take it; otherwise it is dropped (the explorer cycles explainers under one set of
    flags).
    """
    from advtui.errors import ExplainError

    spec = explainer_spec(name)
    own = {p.name for p in spec.params} | {"seed", "batch_size"}
    every = {p.name: p for s in EXPLAINERS.values() for p in s.params}
    kwargs = {}
    for key, value in params.items():
        if key in own:
            p = every.get(key)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if p is not None and number and not _within(value, p):
                low = "-∞" if p.low is None else f"{p.low:g}"
                high = "∞" if p.high is None else f"{p.high:g}"
                raise ExplainError(
                    f"--{key.replace('_', '-')} must be in [{low}, {high}] (got {value:g})"
                )
            kwargs[key] = value
            continue
        other = every.get(key)
        if other is None:
            raise ExplainError(f"unknown explainer parameter {key!r}")
        if strict and value is not None and value != other.default:
            users = [s for s in EXPLAINERS.values() if any(p.name == key for p in s.params)]
            raise ExplainError(
                f"--{key.replace('_', '-')} applies to {', '.join(s.label for s in users)} "
                f"only, not {spec.label}: drop it or use --explainer "
                + " or ".join(s.name for s in users)
            )
    return kwargs
