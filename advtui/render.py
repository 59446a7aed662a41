"""Plain rendering functions: PIL/numpy in, PIL out. No Textual here.

Heatmaps follow SHAP's convention — red = positive (evidence for the class), blue = negative,
white ≈ 0 — scaled by a high percentile of |value| so a single outlier pixel does not wash the
map out. Perturbations are shown amplified around mid-grey.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: SHAP's red (#ff0051) and blue (#008bfb) end points, white in the middle.
SHAP_RED = np.array([255, 0, 81], dtype=np.float32)
SHAP_BLUE = np.array([0, 139, 251], dtype=np.float32)
WHITE = np.array([255, 255, 255], dtype=np.float32)


def heatmap_scale(values: np.ndarray, percentile: float = 99.5) -> float:
    """The |value| that maps to full colour: the ``percentile`` of |values| (never 0)."""
    mags = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    if mags.size == 0:
        return 1.0
    scale = float(np.percentile(mags, percentile))
    if scale <= 0:
        scale = float(mags.max())
    return scale if scale > 0 else 1.0


def heatmap_rgb(
    values: np.ndarray, scale: float | None = None, percentile: float = 99.5
) -> np.ndarray:
    """Map a 2-D array to uint8 RGB (H, W, 3): red for positive, blue for negative, white at 0."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 3:  # (C, H, W) attributions: sum channels per pixel
        v = v.sum(axis=0)
    s = heatmap_scale(v, percentile) if scale is None else (scale if scale > 0 else 1.0)
    t = np.clip(v / s, -1.0, 1.0)[..., None]
    pos = WHITE + (SHAP_RED - WHITE) * np.clip(t, 0, 1)
    neg = WHITE + (SHAP_BLUE - WHITE) * np.clip(-t, 0, 1)
    rgb = np.where(t >= 0, pos, neg)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def heatmap_image(
    values: np.ndarray, scale: float | None = None, percentile: float = 99.5
) -> Image.Image:
    """:func:`heatmap_rgb` as a PIL image."""
    return Image.fromarray(heatmap_rgb(values, scale, percentile), mode="RGB")


def overlay(
    image: Image.Image, values: np.ndarray, alpha: float = 0.6, scale: float | None = None
) -> Image.Image:
    """The heatmap blended over a greyed copy of ``image`` (more opaque where |value| is large)."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 3:
        v = v.sum(axis=0)
    heat = heatmap_image(v, scale)
    if heat.size != image.size:
        heat = heat.resize(image.size, Image.Resampling.BILINEAR)
        v = np.asarray(Image.fromarray(v).resize(image.size, Image.Resampling.BILINEAR))
    s = heatmap_scale(v) if scale is None else scale
    weight = np.clip(np.abs(v) / s, 0, 1)[..., None] * alpha
    grey = np.asarray(image.convert("L").convert("RGB"), dtype=np.float32) * 0.6 + 255 * 0.4
    out = grey * (1 - weight) + np.asarray(heat, dtype=np.float32) * weight
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode="RGB")


def perturbation_image(
    x: np.ndarray, x_adv: np.ndarray, eps: float, gain: float | None = None
) -> Image.Image:
    """δ = x_adv − x (3, H, W) amplified around mid-grey: ``0.5 + δ·gain`` with gain 0.5/ε."""
    delta = np.asarray(x_adv, dtype=np.float32) - np.asarray(x, dtype=np.float32)
    if delta.ndim == 4:
        delta = delta[0]
    g = gain if gain is not None else 0.5 / max(eps, 1e-6)
    img = np.clip(0.5 + delta * g, 0.0, 1.0).transpose(1, 2, 0)
    return Image.fromarray(np.rint(img * 255).astype(np.uint8), mode="RGB")


def colorbar(width: int = 64, height: int = 1) -> Image.Image:
    """A horizontal SHAP colour scale: blue (against) → white → red (for)."""
    ramp = np.linspace(-1, 1, width, dtype=np.float32)[None, :].repeat(height, axis=0)
    return heatmap_image(ramp, scale=1.0)


def fit_size(img_w: int, img_h: int, cells_w: int, cells_h: int) -> tuple[int, int]:
    """Pixel size to draw an image into a cells_w × cells_h panel with half-blocks.

    A cell is one pixel wide and two pixels tall, and terminal cells are about twice as tall
    as they are wide, so pixels stay square. Keeps the aspect ratio; at least 1×2.
    """
    max_w, max_h = max(1, cells_w), max(2, cells_h * 2)
    scale = min(max_w / img_w, max_h / img_h)
    w = max(1, int(img_w * scale))
    h = max(2, int(img_h * scale))
    return w, h - (h % 2)
