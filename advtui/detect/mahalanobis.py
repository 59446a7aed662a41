"""Mahalanobis distance on penultimate features (Lee, Lee, Lee & Shin, NeurIPS 2018,
arXiv:1807.03888).

Class-conditional Gaussians with one shared (tied) covariance are fitted to the model's
penultimate features (the input of its final linear layer) of *clean training-fold rows only*,
each row under its clean label; an input's score is its smallest squared Mahalanobis distance
to a class mean. We use the final layer only, without the paper's input preprocessing or its
feature ensemble. With far fewer rows than dimensions (1280 for EfficientNet-Lite0) the sample
covariance is singular, so it is shrunk towards a scaled identity (Ledoit–Wolf); when no class
holds two rows (no within-class spread to estimate), the covariance of all clean rows about
their mean is used instead and the fit says so (``note``).
"""

from __future__ import annotations

import numpy as np

from advtui.detect.base import ThresholdDetector
from advtui.errors import DetectorError


class GaussianClasses:
    """Class means and the precision of their tied covariance."""

    def __init__(self) -> None:
        self.classes: np.ndarray = np.zeros(0, dtype=np.int64)
        self.means: np.ndarray = np.zeros((0, 0))
        self.precision: np.ndarray = np.zeros((0, 0))
        self.note: str | None = None

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
        self.classes = np.unique(labels)
        self.means = np.stack([f[labels == c].mean(0) for c in self.classes])
        centred = f - self.means[np.searchsorted(self.classes, labels)]
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
                return self
        if shrink:
            cov = LedoitWolf(assume_centered=True).fit(centred).covariance_
        else:
            cov = empirical_covariance(centred, assume_centered=True)
        self.precision = np.linalg.pinv(cov, hermitian=True)
        return self

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row to each class mean, (N, classes)."""
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        d = f[:, None, :] - self.means[None, :, :]
        return np.einsum("ncd,de,nce->nc", d, self.precision, d)

    def score(self, features: np.ndarray) -> np.ndarray:
        """The smallest squared distance to a class mean (higher = less like clean data)."""
        return self.distances(features).min(1)


class Mahalanobis(ThresholdDetector):
    """Fitted on the clean training rows' penultimate features; score = min distance."""

    name = "mahalanobis"

    def fit(self, data, train: np.ndarray) -> Mahalanobis:
        if data.penultimate is None:
            raise DetectorError("no penultimate features stored (the model has no final linear)")
        clean = train[data.y[train] == 0]
        self.gauss = GaussianClasses().fit(data.penultimate[clean], data.label[clean])
        self.note = self.gauss.note
        super().fit(data, train)
        return self

    def scores(self, data, idx: np.ndarray) -> np.ndarray:
        return self.gauss.score(data.penultimate[idx])
