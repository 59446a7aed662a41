"""Gradient attributions through captum: Integrated Gradients, saliency and SmoothGrad.

Each explains the class **logit** (as SHAP does), pixel by pixel, and returns the same
:class:`~advtui.explain.base.Explanation` (maps and Evidence records) as SHAP, so every face and
eval's detector features take them unchanged. ``nsamples`` is each method's sample count:

* ``ig`` — :class:`IG`: captum's ``IntegratedGradients`` with ``n_steps = nsamples`` (Gauss–
  Legendre, captum's default), ``internal_batch_size`` = the device's gradient batch (one chunk
  per batch of steps), from a black image (``baseline="black"``, default) or a Gaussian blur of
  the image itself (``baseline="blur"``, σ = 10 px at 224 px). Sundararajan et al. 2017.
* ``saliency`` — :class:`Saliency`: the signed gradient of the logit (captum's ``Saliency``
  with ``abs=False``, so red/blue keep meaning "raises/lowers the logit"); ignores
  ``nsamples``. Simonyan et al. 2014.
* ``smoothgrad`` — :class:`SmoothGrad`: captum's ``NoiseTunnel`` over that saliency, the mean
  over ``nsamples`` noisy copies (σ = ``noise_std`` in pixel units, default 0.15). The noise
  of draw chunk c (at most 10 copies) is drawn after seeding torch with :func:`~advtui.explain.shap.chunk_seed`
  (``seed``, c), so a seed gives the same map. Smilkov et al. 2017.

Between chunks each reports ``progress(done, total)`` and honours ``stop``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch
from torch import nn

from advtui.errors import ExplainError
from advtui.explain.base import AttributionExplainer

BASELINES = ("black", "blur")
#: σ of the blur baseline in pixels at 224 px (scaled with the image size).
BLUR_SIGMA_224 = 10.0

# NoiseTunnel draws from torch's global generator: seed-and-draw must not interleave between
# two threads explaining at once.
_RNG_LOCK = threading.Lock()


def blur(x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blur of images ``x`` (N, C, H, W), σ = ``sigma`` px (default 10 px at 224 px),
    edges replicated."""
    if sigma is None:
        sigma = BLUR_SIGMA_224 * x.shape[-1] / 224
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype).to(x.device)
    c = x.shape[1]
    y = torch.nn.functional.pad(x, (radius, radius, radius, radius), mode="replicate")
    y = torch.nn.functional.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def baseline_for(x: torch.Tensor, baseline: str) -> torch.Tensor:
    """The IG baseline of images ``x``: ``black`` (zeros) or ``blur`` (:func:`blur` of ``x``)."""
    if baseline == "black":
        return torch.zeros_like(x)
    if baseline == "blur":
        return blur(x)
    raise ExplainError(f"--baseline must be one of {', '.join(BASELINES)} (got {baseline!r})")


class _Watched(nn.Module):
    """``model`` whose every forward first checks ``stop`` and reports the chunk before it as
    done: captum calls the forward once per internal batch, so this is the chunk boundary."""

    def __init__(self, model: nn.Module, tick: Callable[[], None]) -> None:
        super().__init__()
        self.model = model
        self.tick = tick

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.tick()
        if x.device.type == "cpu" and x.ndim == 4:  # oneDNN runs this net faster in NHWC
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)


class IG(AttributionExplainer):
    """Integrated Gradients of the class logit (captum ``IntegratedGradients``).

    Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep Networks". Pixel space;
    ``n_steps = nsamples``, captum's Gauss–Legendre rule, ``internal_batch_size`` = the
    gradient batch (default per device, :data:`~advtui.explain.base.BATCH_SIZE`).

    Args:
        model: classifier taking [0, 1] pixels.
        baseline: ``"black"`` (default) or ``"blur"`` (a Gaussian blur of the image).
        seed: accepted for a uniform interface (IG is deterministic).
        batch_size: steps per gradient batch.
    """

    name = "ig"
    title = "IG"

    def __init__(
        self,
        model: nn.Module,
        *,
        baseline: str = "black",
        seed: int = 0,
        batch_size: int | None = None,
    ) -> None:
        if baseline not in BASELINES:
            raise ExplainError(
                f"--baseline must be one of {', '.join(BASELINES)} (got {baseline!r})"
            )
        super().__init__(model, seed=seed, batch_size=batch_size)
        self.baseline = baseline

    def chunks(self, nsamples: int) -> int:
        return -(-nsamples // self.batch_size)

    def attribute(
        self, x: torch.Tensor, cls: int, nsamples: int, tick: Callable[[], None]
    ) -> torch.Tensor:
        from captum.attr import IntegratedGradients

        ig = IntegratedGradients(_Watched(self.model, tick))
        try:
            return ig.attribute(
                x,
                baselines=baseline_for(x, self.baseline),
                target=cls,
                n_steps=nsamples,
                internal_batch_size=self.batch_size,
            )
        except RuntimeError as exc:
            raise self._oom(exc) from None


class Saliency(AttributionExplainer):
    """The signed gradient of the class logit (captum ``Saliency`` with ``abs=False``).

    Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks". One gradient per
    image; ``nsamples`` is ignored.
    """

    name = "saliency"
    title = "saliency"

    def chunks(self, nsamples: int) -> int:
        return 1

    def attribute(
        self, x: torch.Tensor, cls: int, nsamples: int, tick: Callable[[], None]
    ) -> torch.Tensor:
        from captum.attr import Saliency as CaptumSaliency

        try:
            return CaptumSaliency(_Watched(self.model, tick)).attribute(
                x.detach().requires_grad_(True), target=cls, abs=False
            )
        except RuntimeError as exc:
            raise self._oom(exc) from None


class SmoothGrad(AttributionExplainer):
    """SmoothGrad: the mean signed gradient over noisy copies (captum ``NoiseTunnel`` over
    ``Saliency``, ``nt_type="smoothgrad"``).

    Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise". ``nsamples`` noisy
    copies, drawn in SHAP's draw chunks (:data:`~advtui.explain.shap.DRAW_CHUNK`); chunk c's
    noise is drawn after ``torch.manual_seed(chunk_seed(seed, c))`` (the global generator is
    restored afterwards), so a seed reproduces the map whatever the gradient batch.

    Args:
        model: classifier taking [0, 1] pixels.
        noise_std: σ of the Gaussian noise in pixel units (default 0.15, ~15 % of the range).
        seed: seeds the noise.
        batch_size: noisy copies per gradient batch.
    """

    name = "smoothgrad"
    title = "SmoothGrad"

    def __init__(
        self,
        model: nn.Module,
        *,
        noise_std: float = 0.15,
        seed: int = 0,
        batch_size: int | None = None,
    ) -> None:
        if not float(noise_std) > 0:
            raise ExplainError(f"--noise-std must be positive (got {noise_std})")
        super().__init__(model, seed=seed, batch_size=batch_size)
        self.noise_std = float(noise_std)

    def chunks(self, nsamples: int) -> int:
        from advtui.explain.shap import DRAW_CHUNK, split_chunks

        # one forward per gradient batch of each draw chunk
        return sum(-(-n // min(n, self.batch_size)) for n in split_chunks(nsamples, DRAW_CHUNK))

    def attribute(
        self, x: torch.Tensor, cls: int, nsamples: int, tick: Callable[[], None]
    ) -> torch.Tensor:
        from captum.attr import NoiseTunnel
        from captum.attr import Saliency as CaptumSaliency

        from advtui.explain.shap import DRAW_CHUNK, chunk_seed, split_chunks

        tunnel = NoiseTunnel(CaptumSaliency(_Watched(self.model, tick)))
        devices = [self.device] if self.device.type == "cuda" else []
        acc: torch.Tensor | None = None
        # noise drawn in SHAP's draw chunks (at most 10, chunk c after seeding with
        # chunk_seed(seed, c)), gradients batch_size at a time: the batch never changes the map
        for c, n in enumerate(split_chunks(nsamples, DRAW_CHUNK)):
            try:
                with _RNG_LOCK, torch.random.fork_rng(devices=devices):
                    torch.manual_seed(chunk_seed(self.seed, c))
                    mean = tunnel.attribute(
                        x.detach().requires_grad_(True),
                        nt_type="smoothgrad",
                        nt_samples=n,
                        nt_samples_batch_size=min(n, self.batch_size),
                        stdevs=self.noise_std,
                        target=cls,
                        abs=False,
                    )
            except RuntimeError as exc:
                raise self._oom(exc) from None
            part = mean.detach().double() * n
            acc = part if acc is None else acc + part
        assert acc is not None  # split_chunks gives at least one chunk
        return acc / float(nsamples)


__all__ = ["BASELINES", "IG", "Saliency", "SmoothGrad", "baseline_for", "blur"]
