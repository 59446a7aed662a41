"""Cross-validated detector metrics on eval's rows.

Clean and adversarial versions of one photo (and every crop of it) share a *group*; folds never
split a group, so a detector cannot score by recognising the photo. Cross-validation is
stratified by class (``StratifiedGroupKFold``); metrics are reported as mean and standard
deviation over folds. ``index_split`` reproduces the original repository's single 90/10 split
by position instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from advtui.errors import DetectorError

#: Trees in the random forest (100: stable on a few hundred rows, ~0.2 s per fit).
RF_TREES = 100


# ----------------------------------------------------------------------------- models


def rf_jobs() -> int:
    """Trees fitted in parallel: the torch thread count the command set
    (:func:`advtui.threads.configure`), else ``OMP_NUM_THREADS``, else 1. The forest is the
    same whatever the count (each tree's seed is drawn before they are shared out)."""
    from advtui import threads

    return threads.configured() or threads.env_threads() or 1


def make_classifier(kind: str, seed: int):
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
            n_estimators=RF_TREES, class_weight="balanced", random_state=seed, n_jobs=rf_jobs()
        )
    raise DetectorError(f"unknown detector kind {kind!r} (lr or rf)")


def _auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC over the rows that have a score (a fold too small to fit leaves NaN out-of-fold
    scores); None when those rows do not hold both classes."""
    from sklearn.metrics import roc_auc_score

    y, scores = np.asarray(y), np.asarray(scores, dtype=float)
    scored = np.isfinite(scores)
    y, scores = y[scored], scores[scored]
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, scores))


def _spread(values: Sequence[float | None]) -> dict:
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
    roc_auc: list[float | None] = field(default_factory=list)
    oof: np.ndarray | None = None  # out-of-fold P(adversarial), NaN where never tested
    oof_flags: np.ndarray | None = None  # out-of-fold verdicts (False where never tested)
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
    assert res.oof is not None
    res.oof[test] = proba
    if res.oof_flags is None:
        res.oof_flags = np.zeros(len(res.oof), dtype=bool)
    res.oof_flags[test] = pred.astype(bool)
    res.folds += 1
    res.n_tested += len(test)


def check_rows(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    if X.ndim != 2 or len(X) != len(y):
        raise DetectorError(f"features {X.shape} do not match {len(y)} labels")
    return X, y


def group_folds(y: np.ndarray, groups: Sequence | np.ndarray, folds: int, seed: int = 0):
    """(train, test) index arrays of stratified k-fold CV that never splits a group.

    Folds whose training part lacks a class are skipped (possible with very few groups).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(y).astype(int)
    group_ids = np.asarray([str(g) for g in groups])
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in cv.split(np.zeros((len(y), 1)), y, group_ids):
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
    X, y = check_rows(X, y)
    group_ids = np.asarray([str(g) for g in groups])
    res = CVResult(kind=kind, oof=np.full(len(y), np.nan))
    per_class = [len(set(group_ids[y == c])) for c in (0, 1)]
    k = min(folds, *per_class)
    if k < 2:
        res.note = f"too few images to cross-validate (clean groups {per_class[0]}, adversarial groups {per_class[1]})"
        return res
    res.scheme = f"stratified-group-{k}-fold"
    for train, test in group_folds(y, group_ids, k, seed):
        _fold_metrics(res, make_classifier(kind, seed), X, y, train, test)
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
    X, y = check_rows(X, y)
    positions_of = np.asarray(order)
    positions = np.unique(positions_of)
    cut = (
        positions[int(math.floor((1 - test_ratio) * len(positions)))]
        if len(positions) > 1
        else None
    )
    res = CVResult(kind=kind, oof=np.full(len(y), np.nan), scheme="index-90/10")
    if cut is None:
        res.note = "too few images for a 90/10 split"
        return res
    train, test = np.flatnonzero(positions_of < cut), np.flatnonzero(positions_of >= cut)
    if len(np.unique(y[train])) < 2 or len(test) == 0:
        res.note = "the 90/10 split left one class out of training or an empty test set"
        return res
    _fold_metrics(res, make_classifier(kind, seed), X, y, train, test)
    return res
