"""Detector features: the sorted attribution (the paper's feature) and the confidence baseline.

A sorted vector is the empirical quantile function of the attribution values, so we store it
compactly as that function sampled at :data:`N_QUANTILES` evenly spaced positions (linear
interpolation between order statistics, ``np.quantile``'s default). This keeps the shape of the
distribution — the tails, where adversarial and clean images differ, included via the 0 and 1
quantiles (min and max) — makes the feature vector independent of the attribution's size (input
or layer level, any model), and costs 2 KB per row in float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from advtui.errors import DetectorError

#: Quantile positions kept from each sorted attribution vector.
N_QUANTILES = 512
FEATURE_KIND = "sorted-attribution-quantiles"


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
