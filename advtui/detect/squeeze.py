"""Feature squeezing (Xu, Evans & Qi, NDSS 2018, arXiv:1704.01155).

An input is squeezed — its colour depth reduced, or a 2×2 median filter applied — and the
model's softmax on the original is compared with its softmax on each squeezed version; the
score is the largest L1 distance over the squeezers. Adversarial perturbations tend to be
undone by squeezing, so the prediction moves; a clean prediction mostly does not. No training:
a threshold on the score (here the 95th percentile of the clean training-fold scores, i.e.
5 % false positives on training rows). Squeezers as in the paper's ImageNet setting: 5-bit
depth and a 2×2 median filter (we leave out its non-local means filter).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from advtui.detect.base import ThresholdDetector

#: The squeezers, in the order of the row's ``squeeze_parts``.
SQUEEZERS = ("bit-depth-5", "median-2x2")
BITS = 5


def bit_depth(x: torch.Tensor, bits: int = BITS) -> torch.Tensor:
    """Reduce [0, 1] pixels to ``bits`` bits: round(x·(2^b − 1)) / (2^b − 1) (the paper's)."""
    levels = float(2**bits - 1)
    return torch.round(x * levels) / levels


def median_2x2(x: torch.Tensor) -> torch.Tensor:
    """2×2 median filter as ``scipy.ndimage.median_filter(x, size=(1, 1, 2, 2))`` computes it
    (the paper's implementation): the window of pixel (i, j) is rows i−1..i × columns j−1..j,
    edges reflected (the first row/column repeated), and the median of four values is the
    upper of the middle two (rank 2 of 0..3)."""
    padded = F.pad(x, (1, 0, 1, 0), mode="replicate")
    windows = torch.stack(
        [
            padded[..., :-1, :-1],
            padded[..., :-1, 1:],
            padded[..., 1:, :-1],
            padded[..., 1:, 1:],
        ]
    )
    return windows.sort(0).values[2]


@torch.no_grad()
def squeeze_scores(model, x: torch.Tensor, probs: torch.Tensor | None = None) -> np.ndarray:
    """Per image of ``x`` (N, 3, H, W), the L1 distance between the softmax of ``x`` and of each
    squeezed version: (N, len(SQUEEZERS)) float64. ``probs`` are x's softmax if known."""
    was_training = model.training
    model.eval()
    try:
        if probs is None:
            probs = model(x).float().softmax(1)
        out = [
            (model(squeeze(x)).float().softmax(1) - probs).abs().sum(1)
            for squeeze in (bit_depth, median_2x2)
        ]
    finally:
        model.train(was_training)
    return torch.stack(out, 1).double().cpu().numpy()


class Squeeze(ThresholdDetector):
    """Score = max over squeezers of the L1 softmax distance (stored per row as ``squeeze``)."""

    name = "squeeze"

    def scores(self, data, idx: np.ndarray) -> np.ndarray:
        return self.column(data, idx)
