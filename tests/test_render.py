from __future__ import annotations

import numpy as np
import pytest

from advtui.render import (
    LEGEND_MIN_WIDTH,
    colorbar,
    fit_size,
    format_scale,
    heatmap_image,
    heatmap_legend,
    heatmap_rgb,
    heatmap_scale,
    heatmap_with_legend,
    overlay,
    perturbation_image,
)


def test_heatmap_colours_follow_shap_convention():
    v = np.array([[1.0, 0.0, -1.0]])
    rgb = heatmap_rgb(v, scale=1.0)
    assert tuple(rgb[0, 0]) == (255, 0, 81)  # positive → SHAP red
    assert tuple(rgb[0, 1]) == (255, 255, 255)  # zero → white
    assert tuple(rgb[0, 2]) == (0, 139, 251)  # negative → SHAP blue


def test_heatmap_scale_ignores_a_single_outlier():
    v = np.full((100, 100), 0.01)
    v[0, 0] = 1000.0
    assert heatmap_scale(v, 99.5) == pytest.approx(0.01)
    rgb = heatmap_rgb(v)
    assert tuple(rgb[50, 50]) == (255, 0, 81), "typical values must reach full colour"
    assert heatmap_scale(np.zeros((4, 4))) == 1.0


def test_channel_attributions_are_summed():
    a = np.zeros((3, 2, 2))
    a[:, 0, 0] = [1, 1, -3]
    assert tuple(heatmap_rgb(a, scale=1.0)[0, 0]) == (0, 139, 251)


def test_perturbation_amplified_around_grey():
    x = np.full((3, 2, 2), 0.5, dtype=np.float32)
    xa = x.copy()
    xa[0, 0, 0] += 8 / 255
    xa[1, 1, 1] -= 8 / 255
    arr = np.asarray(perturbation_image(x, xa, eps=8 / 255))
    assert tuple(arr[0, 0]) == (255, 128, 128)
    assert tuple(arr[1, 1]) == (128, 0, 128)


def test_overlay_and_colorbar_sizes():
    from PIL import Image

    img = Image.new("RGB", (20, 10), (0, 0, 0))
    assert overlay(img, np.ones((5, 10))).size == (20, 10)
    bar = np.asarray(colorbar(11))
    assert tuple(bar[0, 0]) == (0, 139, 251) and tuple(bar[0, 10]) == (255, 0, 81)


@pytest.mark.parametrize(
    "cells, expected", [((40, 20), (40, 40)), ((100, 10), (20, 20)), ((10, 100), (10, 10))]
)
def test_fit_size_keeps_square_pixels(cells, expected):
    assert fit_size(224, 224, *cells) == expected


# --- heatmap legend (colour bar + scale) -------------------------------------------------------


def _rgb(value: float, scale: float) -> tuple[int, ...]:
    return tuple(int(c) for c in heatmap_rgb(np.array([[value]]), scale=scale)[0, 0])


def _dark(arr: np.ndarray) -> np.ndarray:
    """Pixels darker than light grey: text and ticks (no bar colour is this dark)."""
    return arr.max(axis=-1) < 160


def test_format_scale_is_compact():
    assert format_scale(3.2e-4) == "3.2e-04"
    assert format_scale(0.09082) == "9.1e-02"
    assert format_scale(1.0) == "1.0e+00"


@pytest.mark.parametrize("width", [224, 16, 301, 512])
@pytest.mark.parametrize("scale", [3.2e-4, 1.0, 57.0])
def test_legend_bar_is_the_heatmap_colormap_from_minus_to_plus_scale(width, scale):
    legend = heatmap_legend(width, scale, title="tabby")
    arr = np.asarray(legend.image)
    assert legend.image.width == max(width, LEGEND_MIN_WIDTH)
    x0, y0, x1, y1 = legend.bar
    mid = (x0 + x1) // 2
    assert (x1 - x0) % 2 == 0, "odd bar width, so one column is exactly 0"
    assert x1 - x0 + 1 >= legend.image.width * 0.8, "the bar spans the legend"
    for y in range(y0, y1 + 1):
        assert tuple(arr[y, x0]) == _rgb(-scale, scale) == (0, 139, 251)
        assert tuple(arr[y, mid]) == _rgb(0.0, scale) == (255, 255, 255)
        assert tuple(arr[y, x1]) == _rgb(scale, scale) == (255, 0, 81)
    # every column is heatmap_rgb of its value on a linear ramp −s … +s
    ramp = np.linspace(-scale, scale, x1 - x0 + 1)[None, :]
    np.testing.assert_array_equal(
        arr[y0 : y1 + 1, x0 : x1 + 1], np.repeat(heatmap_rgb(ramp, scale), y1 - y0 + 1, 0)
    )
    # the bar is framed (so its white middle stays visible on the white legend)
    assert tuple(arr[y0 - 1, mid]) != (255, 255, 255) and tuple(arr[y1 + 1, mid]) != (255, 255, 255)
    # ticks and labels under −s, 0 and +s
    below = _dark(arr[y1 + 2 :])
    for x in (x0, mid, x1):
        assert below[:, max(0, x - 3) : x + 4].any(), f"no tick/label under column {x}"


def test_legend_prints_the_scale_value_and_the_title():
    a = np.asarray(heatmap_legend(224, 1e-4).image)
    b = np.asarray(heatmap_legend(224, 9e-4).image)
    assert a.shape == b.shape and not np.array_equal(a, b), "the scale value is drawn"
    plain = heatmap_legend(224, 1e-4)
    titled = heatmap_legend(224, 1e-4, title="class: tabby (clean)")
    assert titled.image.height > plain.image.height
    t = np.asarray(titled.image)
    assert _dark(t[: titled.bar[1] - 1]).any(), "the title is drawn above the bar"
    long = heatmap_legend(224, 1e-4, title="class: " + "American Staffordshire terrier " * 4)
    assert long.image.size == titled.image.size, "a long title is cut, not widened or wrapped"
    pad = long.bar[0]
    assert not _dark(np.asarray(long.image)[:, -pad + 1 :]).any(), "nothing drawn in the margin"
    # non-ASCII labels do not crash the bundled font
    heatmap_legend(224, 1e-4, title="class: café – ü")


@pytest.mark.parametrize("size", [224, 16])
@pytest.mark.parametrize("scale", [None, 2e-3])
def test_heatmap_with_legend_keeps_the_map_pixels_exactly(size, scale):
    rng = np.random.default_rng(size)
    m = rng.normal(0, 1e-3, (size, size)).astype(np.float32)
    img = heatmap_with_legend(m, scale, title="class: tabby (clean)")
    heat = heatmap_image(m, scale)
    np.testing.assert_array_equal(np.asarray(img)[:size, :size], np.asarray(heat))
    used = heatmap_scale(m) if scale is None else scale
    legend = heatmap_legend(size, used, title="class: tabby (clean)").image
    assert img.size == (max(size, LEGEND_MIN_WIDTH), size + legend.height)
    np.testing.assert_array_equal(np.asarray(img)[size:], np.asarray(legend))
    if size < LEGEND_MIN_WIDTH:  # a narrow map: white to its right, not stretched
        assert (np.asarray(img)[:size, size:] == 255).all()


def test_legend_does_not_import_matplotlib():
    import subprocess
    import sys

    code = (
        "import numpy as np, sys\n"
        "from advtui.render import heatmap_with_legend\n"
        "heatmap_with_legend(np.ones((8, 8)), 1.0, title='x')\n"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_perturbation_is_scaled_by_the_actual_perturbation_and_titled_by_its_norm():
    from advtui.render import perturbation_gain, perturbation_title

    x = np.full((3, 2, 2), 0.5, dtype=np.float32)
    xa = x.copy()
    xa[0, 0, 0] += 2 / 255  # an 8/255 budget, but only 2/255 used: ×64, not ×16
    xa[2, 1, 0] -= 1 / 255
    assert perturbation_gain(x, xa, eps=8 / 255) == pytest.approx(0.5 * 255 / 2, rel=1e-4)
    arr = np.asarray(perturbation_image(x, xa, eps=8 / 255))
    assert tuple(arr[0, 0]) == (255, 128, 128)  # the largest change reaches full brightness
    assert tuple(arr[1, 0]) == (128, 128, 64)
    assert perturbation_gain(x, x, eps=8 / 255) == pytest.approx(0.5 * 255 / 8)  # nothing moved
    assert perturbation_title("Linf", 8 / 255, 3.1, 900, 15.94) == "×16, ‖δ‖∞ = 8/255"
    assert perturbation_title("L2", 4 / 255, 0.934, 900, 40.0) == "×40, ‖δ‖₂ = 0.934"
    assert perturbation_title("L0", 1.0, 1.7, 1, 0.5) == "×0.5, ‖δ‖₀ = 1 px"
    assert perturbation_title("Linf", 5.5 / 255, 1.0, 9, 1.234) == "×1.2, ‖δ‖∞ = 5.5/255"
