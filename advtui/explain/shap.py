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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from advtui.errors import ExplainError, ImageError
from advtui.explain.base import AttributionExplainer

if TYPE_CHECKING:
    from advtui.models import Classifier


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


#: SHAP's samples are drawn in chunks of at most this many (``split_chunks(nsamples, 10)``),
#: chunk c from ``RandomState(chunk_seed(seed, c))``, whatever the gradient batch: the batch
#: is a speed and memory setting (a GPU's 64, the explorer's smaller one) and never changes
#: the values. 10 is the CPU batch the draws followed before they were decoupled, so rows
#: made then are the rows made now.
DRAW_CHUNK = 10


def chunk_seed(seed: int, chunk: int) -> int:
    """The ``rseed`` of chunk ``chunk`` for an explainer seeded with ``seed``: distinct per
    chunk, and inside numpy's seed range [0, 2³²) for any seed (negative or ≥ 42,950 too)."""
    return (int(seed) * 100_003 + int(chunk)) % 2**32


class Explainer(AttributionExplainer):
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

    name = "shap"
    title = "SHAP"

    def __init__(
        self,
        model: Classifier,
        background: torch.Tensor,
        *,
        layer: str | None = None,
        local_smoothing: float = 0.0,
        batch_size: int | None = None,
        seed: int = 0,
    ) -> None:
        if background.ndim != 4 or background.shape[0] < 1:
            raise ExplainError("background must be a non-empty batch of images (B, 3, H, W)")
        super().__init__(model, seed=seed, batch_size=batch_size)
        self.layer = layer
        self.local_smoothing = float(local_smoothing)
        self.background = background.detach().float().to(self.device)
        self._module: nn.Module | None = model.get_layer(layer) if layer else None

    def chunks(self, nsamples: int) -> int:
        return -(-int(nsamples) // self.batch_size)  # gradient batches: the progress steps

    def attribute(
        self, x: torch.Tensor, cls: int, nsamples: int, tick: Callable[[], None]
    ) -> torch.Tensor:
        """The mean of gradient × delta over ``nsamples`` samples. They are drawn in the
        chunks of ``split_chunks(nsamples, DRAW_CHUNK)``, chunk c with ``rseed =
        chunk_seed(seed, c)`` as shap's ``shap_values(rseed=…)`` would draw it, and their
        gradients are taken ``batch_size`` at a time: at most a batch plus a draw chunk of
        samples is held at once, and the batch size never changes the result."""
        acc: torch.Tensor | None = None
        waiting: list[tuple[torch.Tensor, torch.Tensor]] = []  # drawn, gradient not yet taken

        def take(k: int) -> None:
            nonlocal acc, waiting
            inputs = torch.cat([i for i, _ in waiting])
            delta = torch.cat([d for _, d in waiting])
            rest = (inputs[k:], delta[k:])
            tick()
            part = self._summed(inputs[:k], cls, delta[:k])
            acc = part if acc is None else acc + part
            waiting = [rest] if len(rest[0]) else []

        def pending() -> int:
            return sum(len(i) for i, _ in waiting)

        for c, n in enumerate(split_chunks(nsamples, DRAW_CHUNK)):
            waiting.append(self.samples(x, n, chunk_seed(self.seed, c)))
            while pending() >= self.batch_size:
                take(self.batch_size)
        if pending():
            take(pending())
        assert acc is not None  # nsamples ≥ 1
        return acc / float(nsamples)

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

    def _summed(self, inputs: torch.Tensor, cls: int, delta: torch.Tensor) -> torch.Tensor:
        """Σ of gradient × delta over one gradient batch of samples, (1, C, h, w) float64."""
        try:
            grad, delta = self._gradients(inputs, cls, delta)
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise ExplainError(
                    f"out of memory in SHAP at batch size {self.batch_size}; lower nsamples or use --device cpu"
                ) from None
            raise
        return (grad.double() * delta.double()).sum(0, keepdim=True).contiguous()

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


NoteFn = Callable[[str], None]


def _resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with symlinks resolved where they resolve: a symlink loop or an
    unreadable folder on the way gives the absolute path as written (never an error)."""
    p = Path(path).expanduser()
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # RuntimeError: "Symlink loop" (Python < 3.13)
        return Path(os.path.abspath(p))


def skipped_note(skipped: Sequence[str], what: str = "SHAP background") -> str:
    """One line naming the files left out and why: ``SHAP background: skipped 2 unreadable
    files: a.jpg (symlink loop), b.jpg (permission denied)``."""
    shown = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    files = "file" if len(skipped) == 1 else "files"
    return f"{what}: skipped {len(skipped)} unreadable {files}: {shown}"


def background_from_paths(
    paths: Sequence[str | os.PathLike[str]],
    size: int,
    n: int = 8,
    exclude: Sequence[Path] = (),
    note: NoteFn | None = None,
    unusable: Sequence[str] = (),
) -> torch.Tensor:
    """Up to ``n`` loadable images from ``paths`` (evenly spread, skipping ``exclude``: a path
    with an excluded file's name that resolves to it, e.g. through a linked folder).

    Falls back to a black and a mid-grey image when fewer than two images load, so a single
    image can still be explained. A file that cannot be read (a symlink loop, no permission,
    not an image) is left out, never an error; ``note`` (if given) then receives one line
    saying which files were skipped and why (:func:`skipped_note`).
    """
    from advtui.images import load_tensor

    excluded = {_resolved(p) for p in exclude}
    # only a path named like an excluded file can be it (a link to it under another name is
    # not looked for): resolving all 50,000 paths of a big folder took ~0.5 s of GIL
    names = {p.name for p in excluded} | {Path(p).name for p in exclude}
    keep = [
        p
        for p in paths
        if os.path.basename(os.fspath(p)) not in names or _resolved(p) not in excluded
    ]
    if len(keep) > n:
        step = len(keep) / n
        keep = [keep[int(i * step)] for i in range(n)]
    candidates = [Path(p) for p in keep]
    tensors: list[torch.Tensor] = []
    skipped: list[str] = [f"{u}" for u in unusable]  # "a.jpg: symlink loop" from the walk
    for p in candidates:
        try:
            tensors.append(load_tensor(p, size))
        except ImageError as exc:
            skipped.append(str(exc) if str(exc).startswith(p.name) else f"{p.name}: {exc}")
        except OSError as exc:  # anything the loader did not turn into an ImageError
            skipped.append(f"{p.name}: {exc.strerror or type(exc).__name__}")
    if skipped and note is not None:
        note(skipped_note([_reason(s) for s in skipped]))
    if len(tensors) < 2:
        tensors += [torch.zeros(3, size, size), torch.full((3, size, size), 0.5)]
    return torch.stack(tensors)


def _reason(message: str) -> str:
    """``a.jpg: symlink loop`` → ``a.jpg (symlink loop)``."""
    name, _, why = message.partition(": ")
    return f"{name} ({why})" if why else message


def background_from_folder(
    folder: str | os.PathLike[str],
    size: int,
    n: int = 8,
    exclude: Sequence[Path] = (),
    note: NoteFn | None = None,
) -> torch.Tensor:
    """:func:`background_from_paths` over the images directly in ``folder`` (the walker's rule);
    entries the walk could not use (symlink loops, broken links) are named in the same note."""
    from advtui.images import Found, walk_images
    from advtui.names import safe_name

    paths: list[Path] = []
    unusable: list[str] = []
    try:
        for f in walk_images(Path(folder).expanduser(), recursive=False):
            if isinstance(f, Found):
                paths.append(Path(f.path))
            else:
                unusable.append(f"{safe_name(os.path.basename(f.path))}: {f.reason}")
    except ImageError:
        pass
    return background_from_paths(paths, size, n, exclude, note, sorted(unusable))


def background_for_image(
    image: str | os.PathLike[str],
    size: int,
    background: str | os.PathLike[str] | None = None,
    note: NoteFn | None = None,
) -> torch.Tensor:
    """The SHAP background for explaining ``image``, the one rule every face uses (CLI,
    explorer, eval): up to 8 images of ``background`` (a folder) or else of the image's own
    folder, the image itself left out. Unreadable neighbours are skipped (``note`` hears of
    them), never an error."""
    image = Path(image)
    folder = Path(background).expanduser() if background else image.parent
    return background_from_folder(folder, size, exclude=[image], note=note)
