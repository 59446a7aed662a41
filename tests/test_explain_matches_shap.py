"""Explainer computes shap.GradientExplainer's values (same draws), just batched in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advtui.explain.shap import Explainer, _Select, chunk_seed
from tests.conftest import make_tiny_classifier


@pytest.mark.parametrize(
    ("layer", "smoothing"), [(None, 0.0), (None, 0.1), ("conv", 0.0), ("pool", 0.05)]
)
def test_explainer_equals_shap_gradient_explainer(layer, smoothing):
    shap = pytest.importorskip("shap")
    model = make_tiny_classifier()
    gen = torch.Generator().manual_seed(0)
    bg, x = torch.rand(3, 3, 16, 16, generator=gen), torch.rand(1, 3, 16, 16, generator=gen)
    ours = Explainer(model, bg, layer=layer, local_smoothing=smoothing, batch_size=64, seed=3)
    got = ours.explain(x, classes=[2], nsamples=10).attributions  # one draw chunk, rseed 3·100003

    select = _Select(model).eval()
    select.index = 2
    target = select if layer is None else (select, model.get_layer(layer))
    reference = shap.GradientExplainer(target, bg, batch_size=64, local_smoothing=smoothing)
    torch.manual_seed(3 * 100_003)  # shap draws the smoothing noise from torch's global RNG
    want = np.asarray(reference.shap_values(x, nsamples=10, rseed=3 * 100_003))
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-5, atol=1e-9)


def test_more_samples_are_shap_draws_of_ten_averaged():
    """nsamples 20 draws two chunks of 10, chunk c as shap draws with rseed chunk_seed(3, c)."""
    shap = pytest.importorskip("shap")
    model = make_tiny_classifier()
    gen = torch.Generator().manual_seed(0)
    bg, x = torch.rand(3, 3, 16, 16, generator=gen), torch.rand(1, 3, 16, 16, generator=gen)
    got = Explainer(model, bg, batch_size=7, seed=3).explain(x, classes=[2], nsamples=20)
    select = _Select(model).eval()
    select.index = 2
    reference = shap.GradientExplainer(select, bg, batch_size=64)
    parts = [
        np.asarray(reference.shap_values(x, nsamples=10, rseed=chunk_seed(3, c))) for c in (0, 1)
    ]
    want = (parts[0] + parts[1]) / 2
    np.testing.assert_allclose(
        got.attributions, want.reshape(got.attributions.shape), rtol=1e-5, atol=1e-9
    )


@pytest.mark.parametrize("layer", [None, "conv"])
def test_the_gradient_batch_never_changes_the_values(layer):
    """The batch is a speed and memory setting (CPU 10, a GPU 64, the explorer's smaller one):
    the same seed gives the same map, to float rounding, at any batch."""
    model = make_tiny_classifier()
    gen = torch.Generator().manual_seed(1)
    bg, x = torch.rand(4, 3, 16, 16, generator=gen), torch.rand(2, 3, 16, 16, generator=gen)
    maps = [
        Explainer(model, bg, layer=layer, batch_size=b, seed=5).explain(x, nsamples=23).attributions
        for b in (1, 3, 10, 64)
    ]
    scale = np.abs(maps[0]).max()  # float32 kernels at another batch shape: last bits only
    for other in maps[1:]:
        np.testing.assert_allclose(other, maps[0], rtol=1e-5, atol=1e-5 * scale)
