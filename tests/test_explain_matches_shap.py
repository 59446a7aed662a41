"""Explainer computes shap.GradientExplainer's values (same draws), just batched in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advtui.explain.shap import Explainer, _Select
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
    got = ours.explain(x, classes=[2], nsamples=20).attributions  # one chunk, rseed 3·100003

    select = _Select(model).eval()
    select.index = 2
    target = select if layer is None else (select, model.get_layer(layer))
    reference = shap.GradientExplainer(target, bg, batch_size=64, local_smoothing=smoothing)
    torch.manual_seed(3 * 100_003)  # shap draws the smoothing noise from torch's global RNG
    want = np.asarray(reference.shap_values(x, nsamples=20, rseed=3 * 100_003))
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-5, atol=1e-9)
