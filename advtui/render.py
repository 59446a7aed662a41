"""Plain rendering functions: PIL/numpy in, PIL out. No Textual here.

Heatmaps follow SHAP's convention — red = positive (evidence for the class), blue = negative,
white ≈ 0 — scaled by a high percentile of |value| so a single outlier pixel does not wash the
map out. Saved heatmaps carry a legend below the untouched map pixels (colour bar −s … +s, class
label); fonts are Pillow's bundled default, no matplotlib. Perturbations are shown amplified
around mid-grey.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import NamedTuple

import numpy as np
from PIL import Image

#: SHAP's red (#ff0051) and blue (#008bfb) end points, white in the middle.
SHAP_RED = np.array([255, 0, 81], dtype=np.float32)
SHAP_BLUE = np.array([0, 139, 251], dtype=np.float32)
WHITE = np.array([255, 255, 255], dtype=np.float32)
#: Darker red and blue for legend words, legible on white.
SHAP_RED_INK = (200, 0, 64)
SHAP_BLUE_INK = (0, 100, 190)


def resolve_scale(values: np.ndarray, scale: float | None, percentile: float = 99.5) -> float:
    """The scale :func:`heatmap_rgb` actually uses: ``scale`` if positive, 1.0 if not, or
    :func:`heatmap_scale` of ``values`` when None."""
    if scale is None:
        v = np.asarray(values, dtype=np.float32)
        return heatmap_scale(v.sum(axis=0) if v.ndim == 3 else v, percentile)
    return float(scale) if scale > 0 else 1.0


def heatmap_scale(values: np.ndarray, percentile: float = 99.5) -> float:
    """The |value| that maps to full colour: the ``percentile`` of |values| (never 0)."""
    mags = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    if mags.size == 0:
        return 1.0
    scale = float(np.percentile(mags, percentile))
    if scale <= 0:
        scale = float(mags.max())
    return scale if scale > 0 else 1.0


def mono_grey(t: np.ndarray) -> np.ndarray:
    """The colourless scale (``NO_COLOR``) for t ∈ [−1, 1]: mid-grey at 0, darker for the
    evidence *for* (black at +1), lighter *against* (white at −1), so the sign survives a
    terminal without colour (Textual's monochrome filter keeps greys as they are)."""
    return 128.0 - 127.0 * np.clip(t, -1.0, 1.0)


def heatmap_rgb(
    values: np.ndarray, scale: float | None = None, percentile: float = 99.5, mono: bool = False
) -> np.ndarray:
    """Map a 2-D array to uint8 RGB (H, W, 3): red for positive, blue for negative, white at 0
    (``mono``: dark for positive, light for negative, mid-grey at 0; see :func:`mono_grey`)."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 3:  # (C, H, W) attributions: sum channels per pixel
        v = v.sum(axis=0)
    s = resolve_scale(v, scale, percentile)
    t = np.clip(v / s, -1.0, 1.0)[..., None]
    if mono:
        grey = np.repeat(mono_grey(t), 3, axis=-1)
        return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    pos = WHITE + (SHAP_RED - WHITE) * np.clip(t, 0, 1)
    neg = WHITE + (SHAP_BLUE - WHITE) * np.clip(-t, 0, 1)
    rgb = np.where(t >= 0, pos, neg)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def heatmap_image(
    values: np.ndarray, scale: float | None = None, percentile: float = 99.5, mono: bool = False
) -> Image.Image:
    """:func:`heatmap_rgb` as a PIL image."""
    return Image.fromarray(heatmap_rgb(values, scale, percentile, mono), mode="RGB")


def overlay(
    image: Image.Image,
    values: np.ndarray,
    alpha: float = 0.6,
    scale: float | None = None,
    mono: bool = False,
) -> Image.Image:
    """The heatmap blended over a greyed copy of ``image`` (more opaque where |value| is large;
    ``mono``: the colourless scale, dark = for, light = against)."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 3:
        v = v.sum(axis=0)
    heat = heatmap_image(v, scale, mono=mono)
    if heat.size != image.size:
        heat = heat.resize(image.size, Image.Resampling.BILINEAR)
        v = np.asarray(Image.fromarray(v).resize(image.size, Image.Resampling.BILINEAR))
    s = heatmap_scale(v) if scale is None else scale
    weight = np.clip(np.abs(v) / s, 0, 1)[..., None] * alpha
    grey = np.asarray(image.convert("L").convert("RGB"), dtype=np.float32) * 0.6 + 255 * 0.4
    out = grey * (1 - weight) + np.asarray(heat, dtype=np.float32) * weight
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode="RGB")


def perturbation_gain(x: np.ndarray, x_adv: np.ndarray, eps: float | None = None) -> float:
    """The amplification that maps the largest |δ| to black or white: ``0.5 / max|δ|`` (the
    actual perturbation, whatever its norm; ``0.5/ε`` or 1 when nothing changed)."""
    delta = np.asarray(x_adv, dtype=np.float32) - np.asarray(x, dtype=np.float32)
    peak = float(np.abs(delta).max()) if delta.size else 0.0
    if peak > 1e-6:
        return 0.5 / peak
    return 0.5 / eps if eps else 1.0


def perturbation_image(
    x: np.ndarray, x_adv: np.ndarray, eps: float | None = None, gain: float | None = None
) -> Image.Image:
    """δ = x_adv − x (3, H, W) amplified around mid-grey: ``0.5 + δ·gain``, gain
    :func:`perturbation_gain` (the largest |δ| reaches black or white)."""
    delta = np.asarray(x_adv, dtype=np.float32) - np.asarray(x, dtype=np.float32)
    if delta.ndim == 4:
        delta = delta[0]
    g = gain if gain is not None else perturbation_gain(x, x_adv, eps)
    img = np.clip(0.5 + delta * g, 0.0, 1.0).transpose(1, 2, 0)
    return Image.fromarray(np.rint(img * 255).astype(np.uint8), mode="RGB")


def perturbation_title(norm: str, linf: float, l2: float, l0: int, gain: float) -> str:
    """``×16, ‖δ‖∞ = 8/255`` — the amplification and the perturbation's size in the attack's
    norm (``‖δ‖₂ = 0.93``, ``‖δ‖₀ = 12 px``; L∞ in levels of 1/255)."""
    if norm in ("L2", "L1"):
        size = f"‖δ‖₂ = {l2:.3g}"
    elif norm == "L0":
        size = f"‖δ‖₀ = {l0} px"
    else:
        levels = linf * 255
        size = (
            f"‖δ‖∞ = {round(levels) if abs(levels - round(levels)) < 1e-6 else f'{levels:.3g}'}/255"
        )
    return f"×{gain:.0f}, {size}" if gain >= 10 else f"×{gain:.2g}, {size}"


def colorbar(width: int = 64, height: int = 1) -> Image.Image:
    """A horizontal SHAP colour scale: blue (against) → white → red (for)."""
    ramp = np.linspace(-1, 1, width, dtype=np.float32)[None, :].repeat(height, axis=0)
    return heatmap_image(ramp, scale=1.0)


def format_scale(scale: float) -> str:
    """A SHAP scale value written compactly, two significant digits: ``3.2e-04``."""
    return f"{scale:.1e}"


class Legend(NamedTuple):
    """A rendered heatmap legend and where its colour bar sits: ``bar`` = (x0, y0, x1, y1),
    inclusive, in legend pixels. Column ``x0`` shows −scale, ``(x0 + x1) // 2`` shows 0 and
    ``x1`` shows +scale, each exactly as :func:`heatmap_rgb` colours that value."""

    image: Image.Image
    bar: tuple[int, int, int, int]


#: A legend is at least this wide, so its labels stay legible under tiny maps.
LEGEND_MIN_WIDTH = 180
_INK = (32, 32, 32)
_GREY = (110, 110, 110)


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont  # only the file writers need fonts; the explorer does not

    try:
        return ImageFont.load_default(size=size)  # Pillow ≥ 10.1 with FreeType: scalable
    except TypeError:  # older Pillow: one fixed-size bitmap font
        return ImageFont.load_default()


def _ascii(text: str) -> str:
    """Pillow's bundled font has few non-ASCII glyphs: fold accents, replace the rest."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return folded.encode("ascii", "replace").decode("ascii")


def _fit(draw, text: str, font, width: int) -> str:
    """``text``, cut with "..." so it is at most ``width`` pixels wide."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "..."


def heatmap_legend(
    width: int, scale: float, title: str | None = None, note: str = "SHAP value"
) -> Legend:
    """A white legend strip ``width`` pixels wide (at least :data:`LEGEND_MIN_WIDTH`).

    From the top: ``title`` (e.g. the class the map explains, cut to fit), the colour bar from
    −scale (blue) through 0 (white) to +scale (red) in :func:`heatmap_rgb`'s colours, ticks
    labelled ``-s``, ``0`` and ``+s`` (:func:`format_scale`), and the words "against" / "for"
    with ``note`` between them. Values beyond ±scale are shown at full colour.
    """
    from PIL import ImageDraw

    s = float(scale) if scale > 0 else 1.0  # as heatmap_rgb treats it
    w = max(int(width), LEGEND_MIN_WIDTH)
    size = int(np.clip(round(w / 20), 10, 28))
    font = _font(size)
    pad = max(4, size // 2)
    line = size + max(2, size // 4)
    gap = max(3, size // 3)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    y = gap
    title_y = None
    if title:
        title_y, y = y, y + line + gap // 2
    bar_h = max(8, size)
    bar_x0, bar_x1 = pad, w - 1 - pad
    if (bar_x1 - bar_x0) % 2:  # odd bar width: the middle column is exactly 0
        bar_x1 -= 1
    bar_y0, bar_y1 = y + 1, y + bar_h  # 1 px frame above and below
    tick_y = bar_y1 + 2
    tick_len = max(2, size // 4)
    label_y = tick_y + tick_len + 1
    words_y = label_y + line
    height = words_y + line + gap

    img = Image.new("RGB", (w, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    if title_y is not None:
        draw.text(
            (pad, title_y),
            _fit(probe, _ascii(title or ""), font, w - 2 * pad),
            fill=_INK,
            font=font,
        )
    draw.rectangle((bar_x0 - 1, bar_y0 - 1, bar_x1 + 1, bar_y1 + 1), outline=_GREY)
    n = bar_x1 - bar_x0 + 1
    ramp = (np.linspace(-1.0, 1.0, n) * s)[None, :].repeat(bar_y1 - bar_y0 + 1, axis=0)
    img.paste(Image.fromarray(heatmap_rgb(ramp, scale=s), mode="RGB"), (bar_x0, bar_y0))
    mid = (bar_x0 + bar_x1) // 2
    num = format_scale(s)
    for x, text, align in (
        (bar_x0, f"-{num}", "left"),
        (mid, "0", "centre"),
        (bar_x1, f"+{num}", "right"),
    ):
        draw.line((x, tick_y, x, tick_y + tick_len - 1), fill=_INK)
        tw = probe.textlength(text, font=font)
        tx = x if align == "left" else x - tw / 2 if align == "centre" else x + 1 - tw
        draw.text((round(tx), label_y), text, fill=_INK, font=font)
    draw.text((bar_x0, words_y), "against", fill=SHAP_BLUE_INK, font=font)
    tw = probe.textlength("for", font=font)
    draw.text((round(bar_x1 + 1 - tw), words_y), "for", fill=SHAP_RED_INK, font=font)
    note = _fit(probe, _ascii(note), font, max(1, bar_x1 - bar_x0 - 2 * (size * 4)))
    tw = probe.textlength(note, font=font)
    draw.text((round(mid - tw / 2), words_y), note, fill=_GREY, font=font)
    return Legend(img, (bar_x0, bar_y0, bar_x1, bar_y1))


def heatmap_with_legend(
    values: np.ndarray,
    scale: float | None = None,
    title: str | None = None,
    percentile: float = 99.5,
    note: str = "SHAP value",
) -> Image.Image:
    """:func:`heatmap_image` with a :func:`heatmap_legend` below it.

    The map keeps its pixels exactly, at the top-left (0, 0, W, H): the legend only adds rows
    below (and white columns to the right when the map is narrower than a legend).
    """
    heat = heatmap_image(values, scale, percentile)
    return with_legend(heat, resolve_scale(values, scale, percentile), title, note)


def with_legend(
    image: Image.Image, scale: float, title: str | None = None, note: str = "SHAP value"
) -> Image.Image:
    """``image`` (a heatmap, or an overlay in the same colours) at the top-left, unchanged,
    with a :func:`heatmap_legend` for ``scale`` below it."""
    legend = heatmap_legend(image.width, scale, title, note).image
    out = Image.new(
        "RGB", (max(legend.width, image.width), image.height + legend.height), (255, 255, 255)
    )
    out.paste(image.convert("RGB"), (0, 0))
    out.paste(legend, (0, image.height))
    return out


def shap_png_text(scale: float, values: np.ndarray, label: str = "") -> dict[str, str]:
    """The PNG text chunks of a saved heatmap: exact scale, the map's crop box, the class."""
    h, w = np.asarray(values).shape[-2:]
    return {
        "advtui:shap_scale": repr(float(scale)),
        "advtui:map_box": f"0 0 {w} {h}",
        "advtui:class": label,
    }


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


# ---------------------------------------------------------------- terminal palettes

#: Levels of xterm's 6×6×6 colour cube (indices 16–231).
_CUBE_LEVELS = (0, 95, 135, 175, 215, 255)


@functools.lru_cache(maxsize=1)
def xterm_palette() -> np.ndarray:
    """RGB of xterm colours 16–255 as a (240, 3) uint8 array: row ``i`` is colour ``16 + i``.

    Colours 0–15 are left out on purpose: terminals let users theme them, so their RGB is not
    known; 16–255 (the 6×6×6 cube and the 24-step grey ramp) are fixed by xterm's definition.
    """
    cube = [(r, g, b) for r in _CUBE_LEVELS for g in _CUBE_LEVELS for b in _CUBE_LEVELS]
    greys = [(v, v, v) for v in range(8, 248, 10)]
    return np.array(cube + greys, dtype=np.uint8)


#: xterm's default RGB for colours 0–15. Users theme these, so they are only a best guess; used
#: for 16-colour terminals, where nothing better is known.
XTERM_16 = np.array(
    [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
        (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
        (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ],
    dtype=np.uint8,
)  # fmt: skip


def dither_to_xterm(rgb: np.ndarray, colours: int = 256) -> np.ndarray:
    """Floyd–Steinberg error diffusion of an (H, W, 3) uint8 image onto xterm's palette.

    ``colours=256``: the fixed colours 16–255 (the result holds indices 16–255);
    ``colours=16``: colours 0–15 at xterm's default RGB (indices 0–15). Pillow's C
    implementation of Floyd–Steinberg does the diffusion (``Image.quantize`` with a fixed
    palette), so a panel costs well under a millisecond; callers cache the result per
    (image, size).
    """
    pal, first = (xterm_palette(), 16) if colours == 256 else (XTERM_16, 0)
    entries = np.concatenate([pal, np.repeat(pal[:1], 256 - len(pal), axis=0)])  # pad: black
    palette_img = Image.new("P", (1, 1))
    palette_img.putpalette(entries.reshape(-1).tolist())
    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    q = img.quantize(palette=palette_img, dither=Image.Dither.FLOYDSTEINBERG)
    idx = np.asarray(q, dtype=np.int64)
    idx = np.where(idx >= len(pal), 0, idx)  # padding entries are black = the first colour
    return (idx + first).astype(np.uint8)


def nearest_xterm(rgb: np.ndarray) -> np.ndarray:
    """The nearest xterm colour (16–255, Euclidean in RGB) per pixel, no diffusion: (H, W)."""
    pal = xterm_palette().astype(np.int32)
    flat = np.asarray(rgb, dtype=np.int32).reshape(-1, 3)
    d = ((flat[:, None, :] - pal[None, :, :]) ** 2).sum(axis=2)
    return (d.argmin(axis=1) + 16).astype(np.uint8).reshape(np.asarray(rgb).shape[:2])


def xterm_rgb(indices: np.ndarray) -> np.ndarray:
    """RGB (…, 3) uint8 of xterm colour indices (0–15 at xterm's default RGB)."""
    table = np.concatenate([XTERM_16, xterm_palette()])
    return table[np.asarray(indices, dtype=np.int64)]
