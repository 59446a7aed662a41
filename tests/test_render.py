from __future__ import annotations

import numpy as np
import pytest

from advtui.render import (
    colorbar,
    fit_size,
    heatmap_rgb,
    heatmap_scale,
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


@pytest.mark.parametrize("cells, expected", [((40, 20), (40, 40)), ((100, 10), (20, 20)), ((10, 100), (10, 10))])
def test_fit_size_keeps_square_pixels(cells, expected):
    assert fit_size(224, 224, *cells) == expected
