"""The paper's detector: sorted SHAP values → logistic regression / random forest.

Features. Saito & Wang feed the *sorted* flattened attribution of the top class to a linear
model. A sorted vector is the empirical quantile function of the attribution values, so we
store it compactly as that function sampled at :data:`N_QUANTILES` evenly spaced positions
(linear interpolation between order statistics, ``np.quantile``'s default). This keeps the
shape of the distribution — the tails, where adversarial and clean images differ, included
via the 0 and 1 quantiles (min and max) — makes the feature vector independent of the
attribution's size (input or layer level, any model), and costs 2 KB per row in float32.

Evaluation. Clean and adversarial versions of one photo (and every crop of it) share a
*group*; folds never split a group, so a detector cannot score by recognising the photo.
Cross-validation is stratified by class (``StratifiedGroupKFold``); metrics are reported as
mean and standard deviation over folds. ``index_split`` reproduces the original repository's
single 90/10 split by position instead.

The fitted logistic regression is saved as JSON (coefficients, scaler mean/scale, feature
spec, the parameters it was fitted under) — never a pickle — and :func:`load_detector`
reads it back for the TUI's live verdict.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advtui.errors import AdvtuiError
from advtui.names import json_safe

#: Quantile positions kept from each sorted attribution vector.
N_QUANTILES = 512
FEATURE_KIND = "sorted-attribution-quantiles"
DETECTOR_FILE = "detector.json"
DETECTOR_FORMAT = 1
#: Trees in the random forest (100: stable on a few hundred rows, ~0.2 s per fit).
RF_TREES = 100


class DetectorError(AdvtuiError):
    """A detector cannot be fitted, saved or loaded."""


# ----------------------------------------------------------------------------- features


def sorted_features(attribution: np.ndarray, n: int = N_QUANTILES) -> np.ndarray:
    """The sorted flattened ``attribution`` resampled at ``n`` quantiles, float32 (n,)."""
    a = np.asarray(attribution, dtype=np.float64).ravel()
    if a.size == 0:
        raise DetectorError("empty attribution: nothing to score")
    if not np.isfinite(a).all():
        raise DetectorError("attribution holds NaN or infinite values")
    return np.quantile(a, np.linspace(0.0, 1.0, n)).astype(np.float32)


def confidence_features(prob: Sequence[float], logit: Sequence[float]) -> np.ndarray:
    """The confidence-only baseline's features: top-1 logit and log-odds of its probability."""
    p = np.clip(np.asarray(prob, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.stack([np.asarray(logit, dtype=np.float64), np.log(p) - np.log1p(-p)], axis=1)


# ----------------------------------------------------------------------------- models


def _make(kind: str, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "lr":
        return make_pipeline(
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"),
        )
    if kind == "rf":
        return RandomForestClassifier(
            n_estimators=RF_TREES, class_weight="balanced", random_state=seed, n_jobs=1
        )
    raise DetectorError(f"unknown detector kind {kind!r} (lr or rf)")


def _auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, scores))


def _spread(values: list[float]) -> dict:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"mean": None, "std": None}
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals))}


@dataclass
class CVResult:
    """Fold metrics and out-of-fold scores of one detector kind on one feature set."""

    kind: str
    accuracy: list[float] = field(default_factory=list)
    balanced_accuracy: list[float] = field(default_factory=list)
    roc_auc: list[float] = field(default_factory=list)
    oof: np.ndarray | None = None  # out-of-fold P(adversarial), NaN where never tested
    folds: int = 0
    n_tested: int = 0  # rows that were ever in a test fold
    scheme: str = "group-kfold"
    note: str | None = None

    def summary(self) -> dict:
        """``{"accuracy", "roc_auc"}`` as fold means, plus their spread and the scheme."""
        acc, auc, bal = (
            _spread(self.accuracy),
            _spread(self.roc_auc),
            _spread(self.balanced_accuracy),
        )
        out = {
            "accuracy": acc["mean"],
            "accuracy_std": acc["std"],
            "roc_auc": auc["mean"],
            "roc_auc_std": auc["std"],
            "balanced_accuracy": bal["mean"],
            "folds": self.folds,
            "n_tested": self.n_tested,
            "scheme": self.scheme,
        }
        if self.note:
            out["note"] = self.note
        return out


def _fold_metrics(res: CVResult, model, X, y, train, test) -> None:
    from sklearn.metrics import balanced_accuracy_score

    model.fit(X[train], y[train])
    proba = model.predict_proba(X[test])[:, 1]
    pred = (proba >= 0.5).astype(int)
    res.accuracy.append(float((pred == y[test]).mean()))
    if len(np.unique(y[test])) == 2:
        res.balanced_accuracy.append(float(balanced_accuracy_score(y[test], pred)))
    res.roc_auc.append(_auc(y[test], proba))
    res.oof[test] = proba
    res.folds += 1
    res.n_tested += len(test)


def _check(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    if X.ndim != 2 or len(X) != len(y):
        raise DetectorError(f"features {X.shape} do not match {len(y)} labels")
    return X, y


def group_folds(y: np.ndarray, groups: Sequence, folds: int, seed: int = 0):
    """(train, test) index arrays of stratified k-fold CV that never splits a group.

    Folds whose training part lacks a class are skipped (possible with very few groups).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(y).astype(int)
    groups = np.asarray([str(g) for g in groups])
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in cv.split(np.zeros((len(y), 1)), y, groups):
        if len(np.unique(y[train])) == 2:
            yield train, test


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    groups: Sequence,
    *,
    kind: str = "lr",
    folds: int = 5,
    seed: int = 0,
) -> CVResult:
    """Stratified k-fold CV that never splits a group (an image and all its versions).

    ``folds`` shrinks to the number of groups that hold each class; with fewer than two such
    groups nothing can be evaluated and the result carries a ``note`` instead of metrics.
    """
    X, y = _check(X, y)
    groups = np.asarray([str(g) for g in groups])
    res = CVResult(kind=kind, oof=np.full(len(y), np.nan))
    per_class = [len(set(groups[y == c])) for c in (0, 1)]
    k = min(folds, *per_class)
    if k < 2:
        res.note = f"too few images to cross-validate (clean groups {per_class[0]}, adversarial groups {per_class[1]})"
        return res
    res.scheme = f"stratified-group-{k}-fold"
    for train, test in group_folds(y, groups, k, seed):
        _fold_metrics(res, _make(kind, seed), X, y, train, test)
    return res


def index_split(
    X: np.ndarray,
    y: np.ndarray,
    order: Sequence[int],
    *,
    kind: str = "lr",
    test_ratio: float = 0.1,
    seed: int = 0,
) -> CVResult:
    """The original repository's evaluation: one split by position, first 90 % train.

    ``order`` is each row's image position (rows of one image share it), so the clean and
    adversarial versions of an image land on the same side — but crops of one photo may not.
    """
    X, y = _check(X, y)
    order = np.asarray(order)
    positions = np.unique(order)
    cut = (
        positions[int(math.floor((1 - test_ratio) * len(positions)))]
        if len(positions) > 1
        else None
    )
    res = CVResult(kind=kind, oof=np.full(len(y), np.nan), scheme="index-90/10")
    if cut is None:
        res.note = "too few images for a 90/10 split"
        return res
    train, test = np.flatnonzero(order < cut), np.flatnonzero(order >= cut)
    if len(np.unique(y[train])) < 2 or len(test) == 0:
        res.note = "the 90/10 split left one class out of training or an empty test set"
        return res
    _fold_metrics(res, _make(kind, seed), X, y, train, test)
    return res


# ----------------------------------------------------------------------------- saved detector


@dataclass
class Detector:
    """A fitted logistic regression on standardised sorted-attribution quantiles.

    ``score(attribution)`` = sigmoid(w · (f − mean)/scale + b) with ``f`` =
    :func:`sorted_features` of the attribution; ``params`` records what it was fitted under
    (model, layer, nsamples, protocol, …) so a caller can warn on a mismatch.
    """

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    n_quantiles: int = N_QUANTILES
    params: dict = field(default_factory=dict)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        """P(adversarial) for feature rows (N, n_quantiles) or one row."""
        f = np.asarray(features, dtype=np.float64)
        single = f.ndim == 1
        f = np.atleast_2d(f)
        if f.shape[1] != len(self.coef):
            raise DetectorError(f"expected {len(self.coef)} features per row, got {f.shape[1]}")
        z = ((f - self.mean) / self.scale) @ self.coef + self.intercept
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # a sigmoid that cannot overflow
        return p[0] if single else p

    def score(self, attribution: np.ndarray) -> float:
        """Probability that the image whose top-class attribution (C, h, w) this is was attacked."""
        return float(self.score_features(sorted_features(attribution, self.n_quantiles)))

    def to_dict(self) -> dict:
        return {
            "format": DETECTOR_FORMAT,
            "kind": "logistic-regression",
            "features": {"kind": FEATURE_KIND, "n_quantiles": self.n_quantiles},
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "scaler": {
                "mean": [float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale],
            },
            "params": self.params,
        }

    def save(self, folder: str | os.PathLike[str]) -> Path:
        from advtui.images import atomic_write_bytes

        path = Path(folder) / DETECTOR_FILE
        atomic_write_bytes(path, (json.dumps(json_safe(self.to_dict()), indent=1) + "\n").encode())
        return path


def fit_detector(X: np.ndarray, y: np.ndarray, params: dict | None = None) -> Detector:
    """Fit the saved detector (standardise + balanced logistic regression) on all rows."""
    X, y = _check(X, y)
    if len(np.unique(y)) < 2:
        raise DetectorError("need both clean and adversarial rows to fit a detector")
    pipe = _make("lr", 0).fit(X, y)
    scaler, lr = pipe[0], pipe[-1]
    return Detector(
        coef=lr.coef_[0].astype(np.float64),
        intercept=float(lr.intercept_[0]),
        mean=scaler.mean_.astype(np.float64),
        scale=scaler.scale_.astype(np.float64),
        n_quantiles=X.shape[1],
        params=dict(params or {}),
    )


def load_detector(dir_path: str | os.PathLike[str]) -> Detector:
    """Read ``DIR/detector.json`` (or the file itself); DetectorError with a one-line reason."""
    p = Path(dir_path).expanduser()
    path = p / DETECTOR_FILE if p.is_dir() else p
    if not path.exists():
        raise DetectorError(f"{path}: no detector here (run `advtui eval FOLDER --out {p}` first)")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DetectorError(f"{path}: unreadable detector ({type(exc).__name__})") from None
    try:
        if d.get("format") != DETECTOR_FORMAT or d["features"]["kind"] != FEATURE_KIND:
            raise DetectorError(f"{path}: unsupported detector format")
        n = int(d["features"]["n_quantiles"])
        coef = np.asarray(d["coef"], dtype=np.float64)
        mean = np.asarray(d["scaler"]["mean"], dtype=np.float64)
        scale = np.asarray(d["scaler"]["scale"], dtype=np.float64)
        intercept = float(d["intercept"])
        params = dict(d.get("params") or {})
    except DetectorError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DetectorError(f"{path}: malformed detector (missing or bad fields)") from None
    if not (len(coef) == len(mean) == len(scale) == n) or n < 1:
        raise DetectorError(f"{path}: malformed detector (coefficient lengths disagree)")
    if not (np.isfinite(coef).all() and np.isfinite(mean).all() and np.isfinite(intercept)):
        raise DetectorError(f"{path}: malformed detector (non-finite values)")
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise DetectorError(f"{path}: malformed detector (scale must be positive)")
    return Detector(coef, intercept, mean, scale, n, params)
