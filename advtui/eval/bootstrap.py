"""Bootstrap intervals over photos for eval's detection metrics (numpy only, torch-free).

The unit of resampling is the photo (a row's ``group``): each resample draws as many photos
as there are, with replacement, and every row of a drawn photo — its clean row, every view,
every target mode — enters with the photo's multiplicity as its weight. So the views and modes
of one photo move together and the interval reflects the number of photos, not of rows.

Every metric is computed on weighted rows, for all resamples at once: one sort of the
scores, then cumulative sums of a (resamples × rows) weight matrix. Resample 0 is never
special: the point estimate is the metric with every weight 1 (the pooled out-of-fold value,
as ``roc.png`` shows it). Intervals are percentile intervals of the resamples in which the
metric exists (a resample that draws no adversarial or no clean photo has no AUC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Default resamples (``--bootstrap``) and interval level.
DEFAULT_RESAMPLES = 1000
LEVEL = 0.95
#: The false-positive rate at which TPR is reported (as advtui.detect.base.FPR_BUDGET, which
#: imports scikit-learn lazily; kept equal by a test).
FPR_BUDGET = 0.05


@dataclass
class Resampler:
    """Photo multiplicities of ``n`` resamples: ``counts[b, g]`` = how often resample ``b``
    drew photo ``g`` (of the sorted unique ``photos``)."""

    photos: np.ndarray
    counts: np.ndarray  # (n, len(photos)) float64
    seed: int

    @classmethod
    def make(cls, groups: Sequence | np.ndarray, n: int, seed: int) -> Resampler:
        """``n`` resamples of the photos of ``groups`` (one entry per row), seeded by
        ``seed``: the same photos give the same resamples in every variant and detector, so
        their intervals are paired."""
        photos = np.unique(np.asarray([str(g) for g in groups]))
        rng = np.random.default_rng(seed)
        k = len(photos)
        counts = (
            rng.multinomial(k, np.full(k, 1.0 / k), size=n).astype(np.float64)
            if k and n
            else np.zeros((n, k))
        )
        return cls(photos, counts, seed)

    @property
    def n(self) -> int:
        return len(self.counts)

    def weights(self, groups: Sequence | np.ndarray) -> np.ndarray:
        """(n, rows) weights of rows whose photos are ``groups`` (each must be a photo of the
        resampler)."""
        g = np.asarray([str(x) for x in groups])
        idx = np.searchsorted(self.photos, g)
        if len(g) and (idx.max(initial=0) >= len(self.photos) or (self.photos[idx] != g).any()):
            raise ValueError("rows of a photo the resampler does not know")
        return self.counts[:, idx]


def _nan_if_empty(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def weighted_accuracy(w: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Accuracy of each weight row ``w`` (B, N) on the rows' 0/1 ``correct``."""
    return _nan_if_empty(w @ np.asarray(correct, dtype=np.float64), w.sum(1))


def _tie_blocks(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order ascending, start index of each block of equal scores in that order)."""
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if len(s) else np.zeros(0, int)
    return order, starts


def weighted_auc_tpr(
    w: np.ndarray, y: np.ndarray, scores: np.ndarray, budget: float = FPR_BUDGET
) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC and the TPR at FPR ≤ ``budget`` of each weight row ``w`` (B, N).

    AUC is the weighted Mann–Whitney statistic (ties count one half), equal to scikit-learn's
    ``roc_auc_score`` with unit weights; TPR is the largest TPR on the ROC curve whose FPR is
    at most ``budget`` (no interpolation), as :func:`advtui.detect.base.tpr_at_fpr`. NaN
    where a resample holds one class only.

    One ascending sort; per resample, the clean and adversarial weight *below* each block of
    tied scores (cumulative sums). Flagging the blocks from ``k`` up costs a false-positive
    weight ``total clean − clean below k``, so the allowed thresholds are a suffix of the
    blocks, and the best TPR is that of the first allowed block.
    """
    y = np.asarray(y).astype(bool)
    order, starts = _tie_blocks(np.asarray(scores, dtype=np.float64))
    # rows × resamples, float32 (integer weights: sums exact below 2**24): cumulative sums
    # run down contiguous columns, several times faster than along the rows of (B, N)
    ws = np.asarray(w, dtype=np.float32).T[order]
    wp = ws * y[order, None]
    wn = ws - wp
    if len(starts) < ws.shape[0]:  # ties: one row per block of equal scores
        wp = np.add.reduceat(wp, starts, axis=0)
        wn = np.add.reduceat(wn, starts, axis=0)
    below_n = np.cumsum(wn, axis=0)
    below_n -= wn  # clean weight strictly below each block
    below_p = np.cumsum(wp, axis=0)
    below_p -= wp
    tot_p = wp.sum(0, dtype=np.float64)
    tot_n = wn.sum(0, dtype=np.float64)
    below_n += 0.5 * wn
    # the pair count: exact in float32 while every partial sum (≤ tot_p · tot_n, in halves)
    # stays below 2**23; float64 beyond (tens of thousands of photos)
    big = len(tot_p) and float((tot_p * tot_n).max()) >= 2**23
    pairs = np.einsum("kb,kb->b", wp, below_n, dtype=np.float64 if big else np.float32)
    below_n -= 0.5 * wn
    auc = _nan_if_empty(pairs.astype(np.float64), tot_p * tot_n)
    allowed = below_n >= ((1.0 - budget) * tot_n - 1e-6 * np.maximum(tot_n, 1.0))[None, :]
    k = allowed.shape[0]
    first = allowed.argmax(0) if k else np.zeros(ws.shape[1], dtype=int)
    any_ok = allowed.any(0) if k else np.zeros(ws.shape[1], dtype=bool)
    tp = tot_p - (np.take_along_axis(below_p, first[None, :], 0)[0] if k else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr_at = np.where(any_ok, tp / tot_p, 0.0)
    tpr_at[(tot_p <= 0) | (tot_n <= 0)] = np.nan
    return auc, tpr_at


def interval(values: np.ndarray, level: float = LEVEL) -> tuple[float | None, float | None]:
    """The percentile interval of the finite ``values`` (None, None without any)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return None, None
    lo, hi = np.percentile(v, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _block(estimate: float, resampled: np.ndarray, level: float) -> dict:
    lo, hi = interval(resampled, level)
    est = float(estimate) if np.isfinite(estimate) else None
    return {"estimate": est, "low": lo, "high": hi}


def detection_intervals(
    res: Resampler,
    y: np.ndarray,
    groups: Sequence | np.ndarray,
    scores: np.ndarray,
    flags: np.ndarray | None,
    level: float = LEVEL,
) -> dict:
    """``{"accuracy", "roc_auc", "tpr_at_5fpr"}`` → ``{"estimate", "low", "high"}`` of
    out-of-fold ``scores`` (NaN = never tested: left out) and 0/1 ``flags`` (the detector's
    own verdicts; None leaves accuracy out), with the point estimates on all rows."""
    y = np.asarray(y).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    tested = np.isfinite(s)
    y, s, g = y[tested], s[tested], np.asarray([str(x) for x in groups])[tested]
    w = res.weights(g)
    ones = np.ones((1, len(y)))
    auc, tpr = weighted_auc_tpr(w, y, s)
    auc0, tpr0 = weighted_auc_tpr(ones, y, s)
    out = {
        "roc_auc": _block(auc0[0], auc, level),
        "tpr_at_5fpr": _block(tpr0[0], tpr, level),
    }
    if flags is not None:
        correct = np.asarray(flags)[tested].astype(int) == y
        out = {
            "accuracy": _block(
                weighted_accuracy(ones, correct)[0], weighted_accuracy(w, correct), level
            )
        } | out
    return out


def share_interval(
    res: Resampler, groups: Sequence | np.ndarray, hits: Sequence | np.ndarray, level: float = LEVEL
) -> dict:
    """The share of rows with ``hits`` (e.g. adversarial top class below clean) with its
    interval over the photos of ``groups``."""
    hits = np.asarray(hits, dtype=np.float64)
    if not len(hits):
        return {"estimate": None, "low": None, "high": None}
    w = res.weights(groups)
    est = float(hits.mean())
    return _block(est, weighted_accuracy(w, hits), level)
