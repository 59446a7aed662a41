"""Grad-CAM (advtui/explain/gradcam.py): exact on a network where it has a closed form."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from advtui.errors import Cancelled
from advtui.explain import make_explainer
from advtui.explain.gradcam import last_spatial_module


def cam_net() -> nn.Module:
    """conv → global average pool → linear: Grad-CAM is then CAM, Σ_k W[c, k]·A_k / (h·w)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    ).eval()


def test_grad_cam_equals_cam_after_global_pooling():
    net = cam_net()
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    expl = make_explainer("gradcam", net).explain(x, classes=[0, 2])
    activations = net[0](x).detach()
    weights = net[3].weight.detach()
    want = torch.stack(
        [(weights[c][:, None, None] * activations[j]).sum(0) / 64 for j, c in enumerate([0, 2])]
    )[:, None]
    assert expl.attributions.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(expl.attributions, want.numpy(), rtol=1e-5, atol=1e-7)
    assert [e.class_index for e in expl.evidence] == [0, 2] and expl.method == "gradcam"


def test_the_default_layer_is_the_last_spatial_map_and_the_map_is_upsampled():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    ).eval()
    name, module = last_spatial_module(net, torch.rand(1, 3, 16, 16))
    assert name == "1" and module is net[1]  # the ReLU's 8×8 output, not the 1×1 pool
    expl = make_explainer("gradcam", net).explain(torch.rand(1, 3, 16, 16))
    assert expl.attributions.shape == (1, 1, 16, 16)


def test_a_set_stop_cancels_before_the_first_image():
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled, match="Grad-CAM cancelled at 0/2"):
        make_explainer("gradcam", cam_net()).explain(torch.rand(2, 3, 8, 8), stop=stop)


def test_grad_cam_equals_captums_layer_grad_cam_before_its_relu():
    """captum's LayerGradCam on the same layer (relu_attributions=False: the signed map),
    upsampled bilinearly by captum's LayerAttribution.interpolate, is the same map."""
    from captum.attr import LayerAttribution, LayerGradCam

    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 5, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 4),
    ).eval()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    ours = make_explainer("gradcam", net).explain(x, classes=[1, 3]).attributions
    want = []
    for j, cls in enumerate([1, 3]):
        cam = LayerGradCam(net, net[3]).attribute(x[j : j + 1], target=cls, relu_attributions=False)
        want.append(LayerAttribution.interpolate(cam, (16, 16), interpolate_mode="bilinear"))
    np.testing.assert_allclose(ours, torch.cat(want).detach().numpy(), rtol=1e-5, atol=1e-7)
