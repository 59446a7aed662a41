"""SHAP expected-gradients explanations (shap.GradientExplainer's estimator) and evidence stats.

The explainer attributes one class logit per image — the top class by default — either to the
input pixels or to the input of a named intermediate layer. It computes what
``shap.GradientExplainer(...).shap_values(x, nsamples, rseed=...)`` computes, with the same
random draws, but batched in torch (see :class:`Explainer`; ``benchmarks/run.py`` measures the
difference, ``tests/test_explain_matches_shap.py`` checks the values agree). ``nsamples`` is
split into chunks, each drawn with its own seed; the weighted mean of chunk means is the same
Monte-Carlo estimator as one big call, and between chunks we report progress and honour a
``stop`` event.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from advtui.errors import Cancelled, ExplainError, ImageError
from advtui.explain.evidence import Evidence, evidence_stats

ProgressFn = Callable[[int, int], None]

#: Gradient batch size per device type, chosen by measurement (benchmarks/run.py --only sweep):
#: on a 2-core CPU 8, 10 and 16 cost the same per sample, 25+ is ~1.4× slower (cache
#: pressure) and shap's default of 50 slower still; peak memory grows ~90 MB per sample in a
#: batch (10 → 1.7 GB RSS, 16 → 2.3 GB at nsamples=200). 10 splits 50/100/200 samples into
#: equal chunks, so oneDNN warms up for one batch shape only. GPUs like large batches.
BATCH_SIZE = {"cpu": 10, "cuda": 64}


@dataclass
class Explanation:
    """Attributions (N, C, h, w) of ``classes`` (one per image) and their Evidence records."""

    attributions: np.ndarray
    classes: list[int]
    evidence: list[Evidence]
    layer: str | None = None

    def pixel_maps(self, size: int | None = None) -> np.ndarray:
        """Channel-summed maps (N, size, size), bilinearly upsampled to ``size`` if given."""
        maps = torch.from_numpy(self.attributions.sum(axis=1, dtype=np.float32))[:, None]
        if size is not None and maps.shape[-1] != size:
            maps = torch.nn.functional.interpolate(
                maps, size=(size, size), mode="bilinear", align_corners=False
            )
        return maps[:, 0].numpy()


class _Select(nn.Module):
    """Exposes one logit of ``model`` as a single output (so shap explains that class)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.index = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, self.index : self.index + 1]


def split_chunks(nsamples: int, batch_size: int) -> list[int]:
    """Split ``nsamples`` into near-equal chunks of at most ``batch_size`` (one batch each)."""
    if nsamples < 1:
        raise ExplainError(f"nsamples must be at least 1 (got {nsamples})")
    n_chunks = -(-nsamples // max(1, batch_size))
    base, extra = divmod(nsamples, n_chunks)
    return [base + (1 if i < extra else 0) for i in range(n_chunks)]


def chunk_seed(seed: int, chunk: int) -> int:
    """The ``rseed`` of chunk ``chunk`` for an explainer seeded with ``seed``: distinct per
    chunk, and inside numpy's seed range [0, 2³²) for any seed (negative or ≥ 42,950 too)."""
    return (int(seed) * 100_003 + int(chunk)) % 2**32


class Explainer:
    """Expected-gradients SHAP for a :class:`~advtui.models.Classifier`.

    Computes exactly what ``shap.GradientExplainer(model_or_(model, layer), background,
    local_smoothing=...).shap_values(x, nsamples=n, rseed=seed)`` computes — the same random
    draws (numpy's ``RandomState(rseed)`` for background index and interpolation point, torch's
    generator for the smoothing noise), the same sample points, the same products — but batched
    in torch: no per-sample Python loop, no numpy round trip of every gradient, no extra
    batch-1 forward per sample on the layer path, and no shap import. ``tests/test_explain_matches_shap.py``
    checks the two agree. On a layer, like shap, the estimator is the mean over the sampled
    pixel-space interpolation points of (∂ logit / ∂ layer input) × (layer input).

    Args:
        model: classifier taking [0, 1] pixels.
        background: (B, 3, H, W) reference images in [0, 1] (B ≥ 1).
        layer: explain the input of this backbone layer (e.g. ``_blocks.5``) instead of pixels.
        local_smoothing: std of Gaussian noise added to the explained input (shap's option).
        batch_size: gradient batch size (default per device, :data:`BATCH_SIZE`).
        seed: seeds the sampling, so results are reproducible.
    """

    def __init__(
        self,
        model: nn.Module,
        background: torch.Tensor,
        *,
        layer: str | None = None,
        local_smoothing: float = 0.0,
        batch_size: int | None = None,
        seed: int = 0,
    ) -> None:
        if background.ndim != 4 or background.shape[0] < 1:
            raise ExplainError("background must be a non-empty batch of images (B, 3, H, W)")
        self.model = model.eval()
        self.device = next(iter(model.buffers()), torch.empty(0)).device
        self.layer = layer
        self.seed = int(seed)
        self.local_smoothing = float(local_smoothing)
        self.batch_size = batch_size or BATCH_SIZE.get(self.device.type, 32)
        self.background = background.detach().float().to(self.device)
        self._module = model.get_layer(layer) if layer else None

    def explain(
        self,
        x: torch.Tensor,
        classes: Sequence[int] | None = None,
        *,
        nsamples: int = 50,
        progress: ProgressFn | None = None,
        stop: threading.Event | None = None,
    ) -> Explanation:
        """Explain ``classes`` (default: each image's top class) for images ``x`` (N, 3, H, W)."""
        if x.ndim == 3:
            x = x.unsqueeze(0)
        x = x.detach().float().to(self.device)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                logits = self.model(x).float()
            probs = logits.softmax(1)
            if classes is None:
                classes = logits.argmax(1).tolist()
            classes = [int(c) for c in classes]
            if len(classes) != len(x):
                raise ExplainError(f"{len(classes)} classes for {len(x)} images")
            chunks = split_chunks(int(nsamples), self.batch_size)
            total, done = len(x) * len(chunks), 0
            attrs = []
            for j in range(len(x)):
                acc = None
                for c, n in enumerate(chunks):
                    if stop is not None and stop.is_set():
                        raise Cancelled(f"SHAP cancelled at {done}/{total} chunks")
                    phi = self._chunk(x[j : j + 1], classes[j], n, chunk_seed(self.seed, c))
                    acc = phi * n if acc is None else acc + phi * n
                    done += 1
                    if progress is not None:
                        progress(done, total)
                attrs.append(acc / float(nsamples))
        finally:
            self.model.train(was_training)
        attributions = torch.cat(attrs).cpu().numpy().astype(np.float32)
        names = getattr(self.model, "class_names", ())
        evidence = [
            evidence_stats(
                attributions[j],
                classes[j],
                names[classes[j]] if classes[j] < len(names) else f"class {classes[j]}",
                float(logits[j, classes[j]]),
                float(probs[j, classes[j]]),
            )
            for j in range(len(x))
        ]
        return Explanation(attributions, classes, evidence, self.layer)

    def samples(
        self, x: torch.Tensor, nsamples: int, rseed: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """shap's sample points for one image ``x`` (1, 3, H, W): (interpolated inputs, x − b).

        Draws as ``shap.GradientExplainer.shap_values(..., rseed=rseed)`` does: per sample a
        background index and an interpolation point t from ``RandomState(rseed)``, and (with
        local smoothing) a noise image from a torch generator seeded with ``rseed``.
        """
        rng = np.random.RandomState(rseed)
        draws = [(rng.choice(len(self.background)), rng.uniform()) for _ in range(nsamples)]
        index = torch.tensor([i for i, _ in draws], device=self.device)
        t = np.array([t for _, t in draws])
        shape = (-1, 1, 1, 1)
        t_in = torch.from_numpy(t.astype(np.float32)).to(self.device).view(shape)
        t_bg = torch.from_numpy((1.0 - t).astype(np.float32)).to(self.device).view(shape)
        xs = x
        if self.local_smoothing > 0:
            gen = torch.Generator(device=self.device).manual_seed(rseed)
            noise = [
                torch.empty(x.shape[1:], device=self.device).normal_(generator=gen)
                for _ in range(nsamples)
            ]
            xs = x + torch.stack(noise) * self.local_smoothing
        bg = self.background[index]
        return t_in * xs + t_bg * bg, xs - bg

    def _chunk(self, x: torch.Tensor, cls: int, nsamples: int, rseed: int) -> torch.Tensor:
        """Mean of gradient × delta over one chunk of ``nsamples`` samples, (1, C, h, w) float64."""
        inputs, delta = self.samples(x, nsamples, rseed)
        try:
            grad, delta = self._gradients(inputs, cls, delta)
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise ExplainError(
                    f"out of memory in SHAP at batch size {self.batch_size}; lower nsamples or use --device cpu"
                ) from None
            raise
        return (grad.double() * delta.double()).mean(0, keepdim=True).contiguous()

    def _gradients(
        self, inputs: torch.Tensor, cls: int, delta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """∂ logit[cls] / ∂ (input or layer input) at ``inputs``, and the matching delta."""
        if self.device.type == "cpu":  # oneDNN runs this depthwise-heavy net faster in NHWC
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        if self._module is None:
            leaf = inputs.detach().requires_grad_(True)
            with torch.enable_grad():
                out = self.model(leaf)[:, cls].sum()
                (grad,) = torch.autograd.grad(out, leaf)
            return grad, delta
        # Layer: a pre-hook swaps the layer's input for a leaf and turns autograd on from there,
        # so the layers before it run without building a graph. Only this thread's forward is
        # touched (a worker may be attacking with the same model at the same time).
        owner, captured = threading.get_ident(), []

        def pre_hook(module: nn.Module, args: tuple) -> tuple | None:
            if threading.get_ident() != owner or not args or not torch.is_tensor(args[0]):
                return None
            leaf = args[0].detach().requires_grad_(True)
            captured.append(leaf)
            torch.set_grad_enabled(True)
            return (leaf, *args[1:])

        handle = self._module.register_forward_pre_hook(pre_hook)
        try:
            with torch.no_grad():  # restores the grad mode on exit
                out = self.model(inputs)[:, cls].sum()
                if not captured or not out.requires_grad:
                    raise ExplainError(f"layer {self.layer!r} is not on the path to the logits")
                (grad,) = torch.autograd.grad(out, captured[-1])
        finally:
            handle.remove()
        return grad, captured[-1].detach()


def background_from_paths(
    paths: Sequence[str | os.PathLike[str]], size: int, n: int = 8, exclude: Sequence[Path] = ()
) -> torch.Tensor:
    """Up to ``n`` loadable images from ``paths`` (evenly spread, skipping ``exclude``).

    Falls back to a black and a mid-grey image when fewer than two images load, so a single
    image can still be explained.
    """
    from advtui.images import load_tensor

    excluded = {Path(p).resolve() for p in exclude}
    candidates = [Path(p) for p in paths if Path(p).resolve() not in excluded]
    if len(candidates) > n:
        step = len(candidates) / n
        candidates = [candidates[int(i * step)] for i in range(n)]
    tensors = []
    for p in candidates:
        try:
            tensors.append(load_tensor(p, size))
        except ImageError:
            continue
    if len(tensors) < 2:
        tensors += [torch.zeros(3, size, size), torch.full((3, size, size), 0.5)]
    return torch.stack(tensors)


def background_from_folder(
    folder: str | os.PathLike[str], size: int, n: int = 8, exclude: Sequence[Path] = ()
) -> torch.Tensor:
    """:func:`background_from_paths` over the images of ``folder``."""
    from advtui.images import find_images

    try:
        paths = find_images(folder)
    except ImageError:
        paths = []
    return background_from_paths(paths, size, n, exclude)


def background_for_image(
    image: str | os.PathLike[str], size: int, background: str | os.PathLike[str] | None = None
) -> torch.Tensor:
    """The SHAP background for explaining ``image``, the one rule every face uses (CLI,
    explorer, eval): up to 8 images of ``background`` (a folder) or else of the image's own
    folder, the image itself left out."""
    image = Path(image)
    folder = Path(background).expanduser() if background else image.parent
    return background_from_folder(folder, size, exclude=[image])

