"""Local intrinsic dimensionality (Ma, Li, Wang, Erfani, Wijewickrema, Schoenebeck, Song, Houle
& Bailey, ICLR 2018, "Characterizing Adversarial Subspaces Using Local Intrinsic
Dimensionality", arXiv:1801.02613).

An input's LID is estimated by maximum likelihood from the distances r₁ ≤ … ≤ r_k to its k
nearest neighbours among reference points (Amsaleg et al. 2015, the paper's Eq. 3):

    LID(x) = −( (1/k) Σᵢ log(rᵢ / r_k) )⁻¹

Adversarial regions are locally higher-dimensional, so an adversarial input tends to have a
larger LID than a clean one. Here the reference points are the model's penultimate features
(the input of its final linear layer, like :mod:`advtui.detect.mahalanobis`) of the *clean
training-fold rows*, distances are Euclidean, and the score is the LID itself with the usual
threshold at 5 % false positives on clean training rows. Those rows' scores are computed
leave-one-out: a training row is never its own neighbour (it would be at distance 0, making
every training LID 0 and the threshold meaningless). We use one layer and a threshold where the
paper fits a logistic regression on the LIDs of every layer, and all clean training rows as
reference where it uses the clean rows of a mini-batch of 100.

Edge cases of the formula: neighbours at distance 0 (a duplicate) give log 0 = −∞ and LID 0 (its
limit), as does r_k = 0; k equidistant neighbours make the sum 0 and the LID unbounded: it is
reported as the largest finite float, so it still ranks first. ``k`` (default 20) is capped by
the clean training rows there are, less one (the left-out row), and the fit says so in its
``note``.

Cost: nearest neighbours come from the expansion ‖a − b‖² = ‖a‖² + ‖b‖² − 2·a·b, one
(block × D) @ (D × train) product per block of query rows and one ``np.argpartition``; the k
chosen distances are then recomputed exactly from the differences (the expansion loses digits
for near neighbours), again in blocks: beyond the inputs, memory stays at a few blocks of
:data:`BLOCK_VALUES` float64 values (32 MB each) whatever the number of rows. 5,000 rows ×
1280 dimensions against themselves take about 4 s on the shared 2-core test machine (the
5,000 × 5,000 × 1280 product dominates).
"""

from __future__ import annotations

import numpy as np

from advtui.detect.base import DetectorData, ThresholdDetector
from advtui.errors import DetectorError

#: A block of query rows holds about this many float64 values (32 MB) at any step.
BLOCK_VALUES = 4_000_000
#: What an unbounded LID (k equidistant neighbours) is reported as.
UNBOUNDED = float(np.finfo(np.float64).max)


def lid_mle(distances: np.ndarray) -> np.ndarray:
    """The maximum-likelihood LID of each row of ``distances`` (N, k): its distances to its k
    nearest neighbours, in any order; k ≥ 2."""
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < 2:
        raise DetectorError(f"LID needs the distances to at least 2 neighbours (got {d.shape})")
    far = d.max(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_log = np.log(d / far).mean(1)  # ≤ 0; −∞ with a neighbour at distance 0
        lid = -1.0 / mean_log
    lid[(far[:, 0] <= 0) | np.isneginf(mean_log)] = 0.0
    lid[mean_log == 0] = UNBOUNDED
    return lid


def knn_distances(
    query: np.ndarray,
    reference: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Euclidean distances (N, k) of each ``query`` row to its k nearest ``reference`` rows,
    ascending. ``exclude``: per query row, the index of a reference row it may not use (its
    own, for leave-one-out), or −1."""
    q = np.atleast_2d(np.asarray(query, dtype=np.float64))
    ref = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    n_ref = len(ref)
    if q.shape[1] != ref.shape[1]:
        raise DetectorError(f"query rows have {q.shape[1]} values, reference rows {ref.shape[1]}")
    if exclude is None:
        exclude = np.full(len(q), -1, dtype=np.int64)
    usable = n_ref - (exclude >= 0).astype(int)
    if len(q) and not 1 <= k <= usable.min():
        raise DetectorError(f"{k} neighbours asked for, {int(usable.min())} reference rows there")
    ref_sq = np.einsum("nd,nd->n", ref, ref)
    out = np.empty((len(q), k))
    step = max(1, BLOCK_VALUES // max(n_ref, k * q.shape[1], 1))
    for start in range(0, len(q), step):
        block = q[start : start + step]
        rows = np.arange(len(block))
        sq = np.einsum("nd,nd->n", block, block)[:, None] + ref_sq[None, :]
        sq -= 2.0 * (block @ ref.T)
        skip = exclude[start : start + len(block)]
        sq[rows[skip >= 0], skip[skip >= 0]] = np.inf
        nearest = np.argpartition(sq, k - 1, axis=1)[:, :k] if k < n_ref else np.argsort(sq, 1)
        nearest = nearest[:, :k]
        diff = block[:, None, :] - ref[nearest]  # (block, k, D): exact distances
        out[start : start + len(block)] = np.sort(np.sqrt(np.einsum("nkd,nkd->nk", diff, diff)))
    return out


class LID(ThresholdDetector):
    """Fitted on the clean training rows' penultimate features; score = LID (k nearest)."""

    name = "lid"

    def fit(self, data: DetectorData, train: np.ndarray) -> LID:
        clean = np.asarray(train)[data.y[train] == 0]
        if len(clean) < 3:
            raise DetectorError(
                f"lid: {len(clean)} clean training rows; LID needs at least 3 (2 neighbours "
                "of each, leaving one out)"
            )
        self.rows = clean
        self.reference = self.column(data, clean)
        wanted = int(self.settings["k"])
        self.k = min(wanted, len(clean) - 1)
        if self.k < wanted:
            self.note = f"k = {self.k} (of {wanted}): {len(clean)} clean training rows"
        super().fit(data, train)
        return self

    def scores(self, data: DetectorData, idx: np.ndarray) -> np.ndarray:
        return lid_mle(knn_distances(self.column(data, idx), self.reference, self.k))

    def training_scores(self, data: DetectorData, clean: np.ndarray) -> np.ndarray:
        """Leave-one-out: each fitting row's LID from the other clean training rows (its own
        index is excluded, so a duplicate of it elsewhere still counts, as it would for an
        unseen row)."""
        clean = np.asarray(clean)
        order = np.argsort(self.rows)
        at = np.searchsorted(self.rows, clean, sorter=order)
        at = np.minimum(at, len(self.rows) - 1)
        own = order[at]
        exclude = np.where(self.rows[own] == clean, own, -1)
        x = self.column(data, clean)
        return lid_mle(knn_distances(x, self.reference, self.k, exclude=exclude))
