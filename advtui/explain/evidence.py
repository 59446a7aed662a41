"""The SHAP evidence record of one (image, class) pair, and how it is computed from a map.

numpy only (no torch): the explorer's widgets show these records without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Evidence:
    """SHAP evidence for one (image, class) pair.

    ``mean_shap`` is the mean attribution over all elements; ``pos_sum``/``neg_sum`` the total
    positive/negative attribution; ``top5_share`` the share of |attribution| (summed over
    channels per pixel) held by the top 5 % of pixels; ``logit``/``prob`` the model's score.
    """

    class_index: int
    label: str
    mean_shap: float
    pos_sum: float
    neg_sum: float
    top5_share: float
    logit: float
    prob: float

    def to_dict(self) -> dict:
        return asdict(self)


def evidence_stats(
    attribution: np.ndarray, class_index: int, label: str, logit: float, prob: float
) -> Evidence:
    """The :class:`Evidence` record of one attribution array (C, h, w)."""
    a = np.asarray(attribution, dtype=np.float64)
    per_pixel = np.abs(a.sum(axis=0)).ravel() if a.ndim == 3 else np.abs(a).ravel()
    total = per_pixel.sum()
    k = max(1, int(np.ceil(0.05 * per_pixel.size)))
    top = np.partition(per_pixel, per_pixel.size - k)[-k:].sum() if total > 0 else 0.0
    return Evidence(
        class_index=int(class_index),
        label=label,
        mean_shap=float(a.mean()),
        pos_sum=float(a[a > 0].sum()),
        neg_sum=float(a[a < 0].sum()),
        top5_share=float(top / total) if total > 0 else 0.0,
        logit=float(logit),
        prob=float(prob),
    )
