"""One interface for every detector, and their cross-validation on the same rows and folds.

A detector is fitted on training rows of a :class:`DetectorData` (indices into it) and scores
any rows (higher = more likely adversarial). Trained detectors (SHAP-LR, SHAP-RF, the
confidence baseline) are scikit-learn classifiers whose score is P(adversarial) and whose
decision threshold is 0.5; threshold detectors (squeezing, Mahalanobis) have a score with no
training beyond what their paper fits on clean data (squeezing, Mahalanobis, LID), and flag rows above the
95th percentile of the clean training rows' scores (5 % false positives on training rows).

:func:`benchmark` runs every detector on one list of folds, so their metrics are comparable
fold by fold, and also scores *extra* rows (e.g. adaptive adversarial examples) with the model
of the fold whose test part holds their photo: never a model that saw the photo.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from advtui.detect.cv import CVResult, make_classifier
from advtui.errors import DetectorError

if TYPE_CHECKING:
    from advtui.registry import DetectorSpec

#: The false-positive rate at which TPR is reported.
FPR_BUDGET = 0.05


@dataclass
class DetectorData:
    """Per-row detector inputs: ``y`` 1 = adversarial; ``group`` = photo; ``label`` = the clean
    label (the class Mahalanobis fits a clean row under); optional columns may be None."""

    y: np.ndarray
    group: np.ndarray
    label: np.ndarray
    shap: np.ndarray | None = None  # (N, n_quantiles) sorted-attribution quantiles
    confidence: np.ndarray | None = None  # (N, 2) confidence_features
    squeeze: np.ndarray | None = None  # (N,) max squeezing L1 distance
    penultimate: np.ndarray | None = None  # (N, D)

    def __len__(self) -> int:
        return len(self.y)


class Detector(ABC):
    """The one base of every registry detector: ``fit(data, train)`` then ``scores(data, idx)``
    and ``flags(data, idx)``.

    It owns what detectors share: its registry :attr:`spec` (found by the class's ``name``),
    its ``settings`` (the spec's ``params`` defaults, overridden by keyword arguments that are
    checked against them), the ``seed``, the ``note`` a fit may leave for the summary, and
    reading the spec's feature column (:meth:`column`). A subclass says how it fits, scores and
    decides."""

    name: ClassVar[str] = "detector"

    def __init__(self, seed: int = 0, **settings: Any) -> None:
        self.seed = seed
        self.settings = checked_settings(self.spec, settings)
        self.note: str | None = None

    @property
    def spec(self) -> DetectorSpec:
        from advtui.registry import detector_spec

        return detector_spec(self.name)

    def column(self, data: DetectorData, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` of the spec's ``features`` column as float64 (only these rows, never
        the whole column); :class:`DetectorError` when the run did not store it."""
        col = self.spec.features
        x = getattr(data, col, None)
        if x is None:
            why = f" ({MISSING[col]})" if col in MISSING else ""
            raise DetectorError(f"{self.name}: no {col} features stored in these rows{why}")
        return np.asarray(x[idx], dtype=np.float64)

    @abstractmethod
    def fit(self, data: DetectorData, train: np.ndarray) -> Detector:
        """Fit on the training rows ``train`` (indices into ``data``); returns self."""

    @abstractmethod
    def scores(self, data: DetectorData, idx: np.ndarray) -> np.ndarray:
        """P(adversarial)-like scores of rows ``idx`` (higher = more adversarial)."""

    @abstractmethod
    def verdict(self, scores: np.ndarray) -> np.ndarray:
        """The yes/no verdict on rows whose :meth:`scores` are ``scores``."""

    def flags(self, data: DetectorData, idx: np.ndarray) -> np.ndarray:
        """The detector's yes/no verdict on rows ``idx``."""
        return self.verdict(self.scores(data, idx))


#: Why a feature column can be missing, for the one-line error.
MISSING = {"penultimate": "the model has no final linear layer"}


def checked_settings(spec: DetectorSpec, given: dict[str, Any]) -> dict[str, Any]:
    """The spec's ``params`` defaults with ``given`` applied: an unknown key, a non-number for
    a number, a fraction for an integer or a value outside the range is one
    :class:`DetectorError` line naming the accepted keys."""
    params = {p.name: p for p in spec.params}
    accepted = ", ".join(params) or "none"
    out = {p.name: p.default for p in spec.params}
    for key, value in given.items():
        p = params.get(key)
        if p is None:
            raise DetectorError(f"{spec.name}: unknown setting {key!r}; accepted: {accepted}")
        if isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or (isinstance(p.default, int) and float(value) != int(value)):
                kind = type(p.default).__name__
                raise DetectorError(f"{spec.name}: {key}={value!r}: expected a {kind}")
            if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
                raise DetectorError(
                    f"{spec.name}: {key}={value!r}: must lie in [{p.low:g}, {p.high:g}]"
                )
            value = type(p.default)(value)
        out[key] = value
    return out


class ThresholdDetector(Detector):
    """Flags scores above the (1 − FPR_BUDGET) quantile of the clean training rows' scores;
    a subclass may fit more in :meth:`fit` (calling this one last) and may score its own
    training rows differently through :meth:`training_scores`."""

    threshold: float = math.inf

    def fit(self, data: DetectorData, train: np.ndarray) -> ThresholdDetector:
        clean = train[data.y[train] == 0]
        if len(clean) == 0:
            raise DetectorError(f"{self.name}: no clean training rows to set a threshold on")
        self.threshold = float(np.quantile(self.training_scores(data, clean), 1.0 - FPR_BUDGET))
        return self

    def training_scores(self, data: DetectorData, clean: np.ndarray) -> np.ndarray:
        """The clean training rows' scores the threshold is set on: by default their plain
        scores; a detector whose fit makes its own training rows look cleaner than unseen ones
        (Mahalanobis' class means, LID's neighbours) scores them as if they had been left
        out."""
        return self.scores(data, clean)

    def verdict(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) > self.threshold


class LearnedDetector(Detector):
    """A scikit-learn classifier (``kind`` lr or rf, :func:`advtui.detect.cv.make_classifier`)
    on the spec's feature column; score = P(adversarial), flagged at 0.5."""

    kind: ClassVar[str] = "lr"

    def fit(self, data: DetectorData, train: np.ndarray) -> LearnedDetector:
        x = self.column(data, train)
        self.model = make_classifier(self.kind, self.seed).fit(x, data.y[train])
        return self

    def scores(self, data: DetectorData, idx: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self.column(data, idx))[:, 1]

    def verdict(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) >= 0.5


def make_detector(name: str, seed: int = 0, **settings: Any) -> Detector:
    """A fresh detector by registry name (advtui.registry.DETECTORS), ``settings`` checked
    against its spec's ``params``."""
    from advtui.registry import detector_spec, load

    cls = load(detector_spec(name).path)
    return cls(seed=seed, **settings)


def tpr_at_fpr(y: np.ndarray, scores: np.ndarray, budget: float = FPR_BUDGET) -> float | None:
    """The largest true-positive rate on the ROC curve at a false-positive rate ≤ ``budget``
    (no interpolation: with n clean rows the FPR moves in steps of 1/n, so below 20 clean rows
    5 % means no false positive at all). None without both classes."""
    from sklearn.metrics import roc_curve

    y, s = np.asarray(y).astype(int), np.asarray(scores, dtype=np.float64)
    m = np.isfinite(s)
    y, s = y[m], s[m]
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, _ = roc_curve(y, s)
    return float(tpr[fpr <= budget + 1e-12].max())


@dataclass
class BenchResult:
    """One detector's fold metrics (a :class:`CVResult`) plus pooled out-of-fold TPR at 5 % FPR
    and the scores/flags of the extra rows (NaN / False where not scored)."""

    cv: CVResult
    tpr: float | None = None
    extra_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    extra_flags: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def summary(self) -> dict:
        return self.cv.summary() | {"tpr_at_5fpr": self.tpr}


def benchmark(
    names: Sequence[str],
    data: DetectorData,
    rows: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    extra: np.ndarray | None = None,
    seed: int = 0,
    scheme: str = "",
    progress: Callable[[str, int, int, int], None] | None = None,
) -> dict[str, BenchResult]:
    """Cross-validate detectors ``names`` on ``data[rows]`` with ``folds`` (index arrays into
    ``rows``); rows of ``extra`` (indices into ``data``) are scored by the model of the fold
    whose test part holds their group. ``progress(name, k, fold, folds)`` hears each fold
    before it is fitted (detector ``k`` of ``len(names)``)."""
    from sklearn.metrics import balanced_accuracy_score

    from advtui.detect.cv import _auc

    rows = np.asarray(rows, dtype=np.int64)
    extra = np.zeros(0, dtype=np.int64) if extra is None else np.asarray(extra, dtype=np.int64)
    y = data.y[rows]
    out = {}
    for k, name in enumerate(names, 1):
        oof = np.full(len(rows), np.nan)
        res = CVResult(kind=name, oof=oof, scheme=scheme)
        res.oof_flags = np.zeros(len(rows), dtype=bool)
        ex_s, ex_f = np.full(len(extra), np.nan), np.zeros(len(extra), dtype=bool)
        for fold, (train, test) in enumerate(folds, 1):
            if progress is not None:
                progress(name, k, fold, len(folds))
            try:
                det = make_detector(name, seed).fit(data, rows[train])
            except DetectorError as exc:
                res.note = str(exc)
                break
            if det.note:
                res.note = det.note
            s = det.scores(data, rows[test])
            flag = det.verdict(s)  # one scoring per row: flags come from the scores
            res.accuracy.append(float((flag.astype(int) == y[test]).mean()))
            if len(np.unique(y[test])) == 2:
                res.balanced_accuracy.append(float(balanced_accuracy_score(y[test], flag)))
            res.roc_auc.append(_auc(y[test], s))
            oof[test] = s
            res.oof_flags[test] = flag
            res.folds += 1
            res.n_tested += len(test)
            if len(extra):
                here = np.isin(data.group[extra], np.unique(data.group[rows[test]]))
                if here.any():
                    ex_s[here] = det.scores(data, extra[here])
                    ex_f[here] = det.verdict(ex_s[here])
        tpr = tpr_at_fpr(y, oof) if res.folds else None
        out[name] = BenchResult(res, tpr, ex_s, ex_f)
    return out
