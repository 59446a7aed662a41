"""Grad-CAM: the class logit's gradient-weighted activations of a convolutional layer.

Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization" (arXiv:1610.02391). For a layer's activations A (K channels, h × w) and the class
logit y, each channel's weight is the spatial mean of ∂y/∂A_k, and the map is Σ_k α_k A_k, at
the layer's resolution (7 × 7 for EfficientNet-Lite0 at 224 px), upsampled bilinearly to the
image's pixels as the paper shows it: attributions are (N, 1, H, W), one value per pixel, so the
evidence statistics and eval's sorted-value features read them like any pixel map (a pixel's
value is its neighbourhood's, so the sorted values have fewer distinct levels than SHAP's).

Two choices, said where the maps are shown (docs/eval.md):

* **Signed.** The paper keeps only the positive part (a ReLU). Here the map is returned before
  that ReLU, so regions that lower the logit show blue as in every other advtui map; the red
  part *is* the paper's heatmap.
* **Which layer.** ``layer`` names a backbone layer whose *input* is used, as for layer SHAP.
  By default: the output of the last module that produces a spatial (h, w ≥ 2) map on the way
  to the logits — the last convolutional features before global pooling, the paper's choice.

One forward and one backward per image; ``nsamples`` is ignored. Between images it reports
``progress(done, total)`` and honours ``stop`` (the shared loop of
:class:`~advtui.explain.base.AttributionExplainer`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from advtui.errors import ExplainError
from advtui.explain.base import AttributionExplainer


def last_spatial_module(model: nn.Module, x: torch.Tensor) -> tuple[str, nn.Module]:
    """The (name, module) whose output is the last 4-D activation with h, w ≥ 2 that a forward
    of ``x`` computes (leaf modules in execution order)."""
    order: list[tuple[str, nn.Module, tuple]] = []
    handles = []
    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):

            def hook(m, _args, out, name=name):
                if isinstance(out, torch.Tensor):
                    order.append((name, m, tuple(out.shape)))

            handles.append(module.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            model(x[:1])
    finally:
        for h in handles:
            h.remove()
    spatial = [(n, m) for n, m, shape in order if len(shape) == 4 and min(shape[-2:]) >= 2]
    if not spatial:
        raise ExplainError("Grad-CAM: the model computes no spatial feature map; pass --layer")
    return spatial[-1]


class GradCAM(AttributionExplainer):
    """Grad-CAM of the class logit at one layer (see the module docstring).

    Args:
        model: classifier taking [0, 1] pixels (an :class:`advtui.models.Classifier` when
            ``layer`` is named).
        layer: explain the input of this backbone layer; default the last spatial features.
        seed: accepted for a uniform interface (Grad-CAM is deterministic).
        batch_size: accepted for a uniform interface (one image per backward).
    """

    name = "gradcam"
    title = "Grad-CAM"

    def __init__(
        self,
        model: nn.Module,
        *,
        layer: str | None = None,
        seed: int = 0,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, seed=seed, batch_size=batch_size)
        self.layer = layer
        get_layer = getattr(model, "get_layer", None)
        if layer and get_layer is None:
            raise ExplainError("Grad-CAM: --layer needs an advtui model (one with named layers)")
        self._module: nn.Module | None = get_layer(layer) if layer and get_layer else None
        self._default: nn.Module | None = None  # the last spatial module, found on first use

    def _target(self, x: torch.Tensor) -> tuple[nn.Module, bool]:
        """The hooked module and whether its input (True) or output (False) is used."""
        if self._module is not None:
            return self._module, True
        if self._default is None:
            self._default = last_spatial_module(self.model, x)[1]
        return self._default, False

    def chunks(self, nsamples: int) -> int:
        return 1  # one forward and one backward per image; nsamples is ignored

    def attribute(
        self, x: torch.Tensor, cls: int, nsamples: int, tick: Callable[[], None]
    ) -> torch.Tensor:
        tick()
        module, use_input = self._target(x)
        return self._one(x, cls, module, use_input)

    def _one(self, x: torch.Tensor, cls: int, module: nn.Module, use_input: bool) -> torch.Tensor:
        caught: list[torch.Tensor] = []

        def keep(t: torch.Tensor) -> None:
            if t.ndim != 4:
                raise ExplainError(
                    f"Grad-CAM needs a spatial (N, C, h, w) activation; {self.layer or 'that layer'}"
                    f" gives {tuple(t.shape)}"
                )
            caught.append(t)

        if use_input:
            handle = module.register_forward_pre_hook(lambda _m, args: keep(args[0]))
        else:
            handle = module.register_forward_hook(lambda _m, _a, out: keep(out))
        try:
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)  # so activations carry a graph
                logit = self.model(xg)[0, cls]
                if not caught:
                    raise ExplainError(
                        f"Grad-CAM: layer {self.layer!r} is not on the path to the logits"
                    )
                activations = caught[-1]
                (grad,) = torch.autograd.grad(logit, activations)
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise ExplainError("out of memory in Grad-CAM; use --device cpu") from None
            raise
        finally:
            handle.remove()
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = (weights * activations).sum(1, keepdim=True).detach().double()
        # to the image's pixels, as the paper shows it: one map channel per pixel
        cam = torch.nn.functional.interpolate(
            cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False
        )
        return cam.cpu()


__all__ = ["GradCAM", "last_spatial_module"]
