"""Mahalanobis distance on penultimate features (Lee, Lee, Lee & Shin, NeurIPS 2018,
arXiv:1807.03888).

Class-conditional Gaussians with one shared (tied) covariance are fitted to the model's
penultimate features (the input of its final linear layer) of *clean training-fold rows only*,
each row under its clean label; an input's score is its smallest squared Mahalanobis distance
to a class mean. We use the final layer only, without the paper's input preprocessing or its
feature ensemble. With far fewer rows than dimensions (1280 for EfficientNet-Lite0) the sample
covariance is singular, so it is shrunk towards a scaled identity (Ledoit–Wolf); when no class
holds two rows (no within-class spread to estimate), the covariance of all clean rows about
their mean is used instead and the fit says so (``note``). The flagging threshold (the clean
training rows' 95th percentile) is set on leave-one-out scores, since a training row helped
place its own class mean (:meth:`GaussianClasses.left_out_score`).

Cost: distances come from the expansion (f − m)ᵀP(f − m) = fᵀPf − 2·fᵀ(P m) + mᵀP m, i.e.
one (rows × D) @ (D × D) and one (rows × D) @ (D × classes) matrix product per block of rows
(``P m`` and ``mᵀP m`` are computed once per fit), never a rows × classes × D² loop; the
class means come from one sort of the labels.
"""

from __future__ import annotations

import numpy as np

from advtui.detect.base import ThresholdDetector
from advtui.errors import DetectorError

#: A row block's distances hold about this many float64 values (32 MB).
BLOCK_VALUES = 4_000_000


class GaussianClasses:
    """Class means and the precision of their tied covariance."""

    def __init__(self) -> None:
        self.classes: np.ndarray = np.zeros(0, dtype=np.int64)
        self.means: np.ndarray = np.zeros((0, 0))
        self.precision: np.ndarray = np.zeros((0, 0))
        self.note: str | None = None
        self._pm: np.ndarray = np.zeros((0, 0))
        self._mpm: np.ndarray = np.zeros(0)

    def fit(
        self, features: np.ndarray, labels: np.ndarray, *, shrink: bool = True
    ) -> GaussianClasses:
        """Fit on (N, D) features with (N,) class labels; ``shrink=False`` uses the plain
        maximum-likelihood tied covariance (needs N − classes > D)."""
        from sklearn.covariance import LedoitWolf, empirical_covariance

        f = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels)
        if f.ndim != 2 or len(f) != len(labels) or len(f) < 2:
            raise DetectorError(f"need at least two feature rows with labels (got {f.shape})")
        self.classes, inverse = np.unique(labels, return_inverse=True)
        self.means = class_means(f, inverse.ravel(), len(self.classes))
        centred = f - self.means[inverse.ravel()]
        if len(f) - len(self.classes) < 1:
            centred = f - f.mean(0)
            self.note = "no class held two clean rows: covariance of all clean rows"
        n, d = centred.shape
        if shrink and n < d:
            # Ledoit–Wolf: cov = (1 − δ)·XᵀX/n + δ·μ·I; inverted with the Woodbury identity in
            # the n-dimensional row space (an n×n solve instead of a d×d eigendecomposition)
            from sklearn.covariance import ledoit_wolf_shrinkage

            delta = float(ledoit_wolf_shrinkage(centred, assume_centered=True))
            mu = float((centred**2).sum() / (n * d))
            if delta > 1e-12 and mu > 0:
                a, b = delta * mu, (1.0 - delta) / n
                inner = np.eye(n) / b + centred @ centred.T / a
                self.precision = (
                    np.eye(d) / a - (centred.T @ np.linalg.solve(inner, centred)) / a**2
                )
                return self._prepared()
        if shrink:
            cov = LedoitWolf(assume_centered=True).fit(centred).covariance_
        else:
            cov = empirical_covariance(centred, assume_centered=True)
        self.precision = np.linalg.pinv(cov, hermitian=True)
        return self._prepared()

    def _prepared(self) -> GaussianClasses:
        """Cache ``P m`` per class and ``mᵀP m`` (what every distance reuses)."""
        self.precision = (self.precision + self.precision.T) / 2  # exactly symmetric
        self._pm = self.means @ self.precision  # (classes, D): row c is (P m_c)ᵀ
        self._mpm = np.einsum("cd,cd->c", self._pm, self.means)
        return self

    def _blocks(self, f: np.ndarray):
        """Row blocks of ``f`` small enough that a block × classes float64 matrix stays near
        :data:`BLOCK_VALUES` values."""
        step = max(1, BLOCK_VALUES // max(1, len(self.classes)))
        for start in range(0, len(f), step):
            yield start, f[start : start + step]

    def _block_distances(self, f: np.ndarray) -> np.ndarray:
        fpf = np.einsum("nd,nd->n", f @ self.precision, f)
        out = fpf[:, None] - 2.0 * (f @ self._pm.T) + self._mpm[None, :]
        return np.maximum(out, 0.0, out=out)  # ≥ 0 as a distance is (rounding can dip below)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row to each class mean, (N, classes)."""
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        out = np.empty((len(f), len(self.classes)))
        for start, block in self._blocks(f):
            out[start : start + len(block)] = self._block_distances(block)
        return out

    def score(self, features: np.ndarray) -> np.ndarray:
        """The smallest squared distance to a class mean (higher = less like clean data);
        never holds more than one row block's distances."""
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        out = np.empty(len(f))
        for start, block in self._blocks(f):
            out[start : start + len(block)] = self._block_distances(block).min(1)
        return out

    def left_out_score(self, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The score each *fitting* row would get had it been left out of its class mean: the
        mean of the n − 1 others is m − (f − m)/(n − 1), so the row's own-class squared
        distance grows by (n / (n − 1))²; a class's only row has no such mean and is scored
        against the other classes alone. The precision is kept as fitted."""
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        own = np.searchsorted(self.classes, np.asarray(labels))
        if len(f) != len(own) or np.any(
            self.classes[np.minimum(own, len(self.classes) - 1)] != labels
        ):
            raise DetectorError("left-out scores need the rows and labels of the fit")
        counts = np.bincount(own, minlength=len(self.classes)).astype(np.float64)
        alone = counts < 2
        factor = (counts / np.maximum(counts - 1, 1)) ** 2
        out = np.empty(len(f))
        for start, block in self._blocks(f):
            d = self._block_distances(block)
            rows = np.arange(len(block))
            cls = own[start : start + len(block)]
            d[rows, cls] = np.where(alone[cls], np.inf, d[rows, cls] * factor[cls])
            out[start : start + len(block)] = d.min(1)
        return out


def class_means(f: np.ndarray, inverse: np.ndarray, classes: int) -> np.ndarray:
    """Mean row of ``f`` per class, ``inverse`` each row's class in 0..classes−1 (every class
    present): one stable sort and one ``np.add.reduceat``, O(rows × D)."""
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.add.reduceat(f[order], starts, axis=0) / counts[:, None]


class Mahalanobis(ThresholdDetector):
    """Fitted on the clean training rows' penultimate features; score = min distance."""

    name = "mahalanobis"

    def fit(self, data, train: np.ndarray) -> Mahalanobis:
        clean = train[data.y[train] == 0]
        self.gauss = GaussianClasses().fit(self.column(data, clean), data.label[clean])
        self.note = self.gauss.note
        super().fit(data, train)
        return self

    def scores(self, data, idx: np.ndarray) -> np.ndarray:
        return self.gauss.score(self.column(data, idx))

    def training_scores(self, data, clean: np.ndarray) -> np.ndarray:
        """Scores of clean rows the fit did not see. A training row is close to the fit in two
        ways: it helped place its own class mean (with one photo per class its distance is 0)
        and, with fewer rows than feature dimensions, the shrunk covariance is tight exactly
        along the directions its own rows span. Leave-one-out on the means alone fixed the
        first and not the second (on the ImageNet sample every test row, clean ones too, lay
        beyond the threshold). So the clean training rows are split in two by photo, each half
        scored by Gaussians fitted on the other half; that threshold is a little high for the
        full fit (more rows, a wider span), so at most about 5 % of clean rows are flagged.
        Fewer than two photos' worth of rows each: the left-out scores of the full fit
        (:meth:`GaussianClasses.left_out_score`)."""
        features, labels = self.column(data, clean), data.label[clean]
        photos = np.unique(data.group[clean])
        half = np.isin(data.group[clean], photos[::2])
        if photos.size < 4 or half.all() or not half.any():
            return self.gauss.left_out_score(features, labels)
        out = np.empty(len(clean))
        for fit_on in (half, ~half):
            if fit_on.sum() < 2:
                return self.gauss.left_out_score(features, labels)
            other = GaussianClasses().fit(features[fit_on], labels[fit_on])
            out[~fit_on] = other.score(features[~fit_on])
        return out
