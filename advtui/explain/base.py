"""The explainer protocol, its result (:class:`Explanation`) and the one factory.

An explainer attributes one class logit per image (the top class by default) to the input
pixels (SHAP also to a layer's input)::

    explainer = make_explainer("ig", model, background, baseline="black")
    expl = explainer.explain(x, classes, nsamples=50, progress=cb, stop=event)
    expl.attributions  # (N, C, h, w)
    expl.evidence      # one Evidence record per image (same fields for every method)

``make_explainer`` is driven by :data:`advtui.registry.EXPLAINERS`: every face (CLI, explorer,
eval, pipeline) builds its explainer here, so a new method is one file plus one registry entry.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch

from advtui.errors import Cancelled, ExplainError
from advtui.explain.evidence import Evidence, evidence_stats

if TYPE_CHECKING:
    from torch import nn

ProgressFn = Callable[[int, int], None]

#: Gradient batch size per device type, chosen by measurement (benchmarks/run.py --only sweep):
#: on a 2-core CPU 8, 10 and 16 cost the same per sample, 25+ is ~1.4× slower (cache
#: pressure) and shap's default of 50 slower still; peak memory grows ~90 MB per sample in a
#: batch (10 → 1.7 GB RSS, 16 → 2.3 GB at nsamples=200). 10 splits 50/100/200 samples into
#: equal chunks, so oneDNN warms up for one batch shape only. GPUs like large batches.
BATCH_SIZE = {"cpu": 10, "cuda": 64}


@dataclass
class Explanation:
    """Attributions (N, C, h, w) of ``classes`` (one per image) and their Evidence records.

    ``method`` is the registry name of the explainer that made them (``shap``, ``ig`` …).
    """

    attributions: np.ndarray
    classes: list[int]
    evidence: list[Evidence]
    layer: str | None = None
    method: str = "shap"

    def pixel_maps(self, size: int | None = None) -> np.ndarray:
        """Channel-summed maps (N, size, size), bilinearly upsampled to ``size`` if given."""
        maps = torch.from_numpy(self.attributions.sum(axis=1, dtype=np.float32))[:, None]
        if size is not None and maps.shape[-1] != size:
            maps = torch.nn.functional.interpolate(
                maps, size=(size, size), mode="bilinear", align_corners=False
            )
        return maps[:, 0].numpy()


@runtime_checkable
class ExplainerProtocol(Protocol):
    """What every explainer offers (SHAP's :class:`~advtui.explain.shap.Explainer`, the captum
    ones in :mod:`advtui.explain.captum`).

    ``nsamples`` is the method's sample count: SHAP's samples, IG's steps, SmoothGrad's noisy
    copies (saliency, one gradient, ignores it). ``progress(done, total)`` is called between
    chunks, where ``stop`` is checked too (:class:`~advtui.errors.Cancelled` when set).
    """

    name: str

    def explain(
        self,
        x: torch.Tensor,
        classes: Sequence[int] | None = None,
        *,
        nsamples: int = 50,
        progress: ProgressFn | None = None,
        stop: threading.Event | None = None,
    ) -> Explanation: ...


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s buffers (or parameters; CPU if it has neither)."""
    t = next(iter(model.buffers()), None)
    if t is None:
        t = next(iter(model.parameters()), torch.empty(0))
    return t.device


def score(
    model: nn.Module, x: torch.Tensor, classes: Sequence[int] | None
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """(logits, probabilities, classes) of images ``x``: ``classes`` checked, or each image's
    top class when None."""
    with torch.inference_mode():
        logits = model(x).float()
    probs = logits.softmax(1)
    if classes is None:
        classes = logits.argmax(1).tolist()
    classes = [int(c) for c in classes]
    if len(classes) != len(x):
        raise ExplainError(f"{len(classes)} classes for {len(x)} images")
    n = logits.shape[1]
    bad = [c for c in classes if not 0 <= c < n]
    if bad:
        raise ExplainError(f"class {bad[0]} is out of range (the model has {n} classes)")
    return logits, probs, classes


def explanation(
    model: nn.Module,
    attributions: np.ndarray,
    classes: list[int],
    logits: torch.Tensor,
    probs: torch.Tensor,
    *,
    layer: str | None = None,
    method: str,
) -> Explanation:
    """The :class:`Explanation` of ``attributions`` with one Evidence record per image."""
    names = getattr(model, "class_names", ())
    evidence = [
        evidence_stats(
            attributions[j],
            classes[j],
            names[classes[j]] if classes[j] < len(names) else f"class {classes[j]}",
            float(logits[j, classes[j]]),
            float(probs[j, classes[j]]),
        )
        for j in range(len(classes))
    ]
    return Explanation(attributions, classes, evidence, layer, method)


class AttributionExplainer(ABC):
    """The base of every explainer: the model and device, the gradient batch, the seed, and
    the shared loop — score the images, then per image the method's chunks with progress and
    cancellation between them, then the :class:`Explanation` and its Evidence records.

    Subclasses set ``name``/``title`` and implement :meth:`chunks` (how many chunks, i.e.
    progress steps, an image takes) and :meth:`attribute` (one image's attribution, calling
    ``tick()`` before each chunk: ``tick`` reports the chunks before it as done and raises
    :class:`~advtui.errors.Cancelled` once ``stop`` is set). SHAP loops its chunks itself; the
    captum methods hook ``tick`` into the model's forward, which captum calls once per
    internal batch. What an explainer integrates from (SHAP's background) is given to it by
    :func:`make_explainer`, which loads it only for explainers whose spec asks for one.
    """

    name = ""
    title = ""  # used in messages ("IG cancelled …")
    layer: str | None = None

    def __init__(self, model: nn.Module, *, seed: int = 0, batch_size: int | None = None) -> None:
        self.model = model.eval()
        self.device = model_device(model)
        self.seed = int(seed)
        self.batch_size = batch_size or BATCH_SIZE.get(self.device.type, 32)

    @abstractmethod
    def chunks(self, nsamples: int) -> int:
        """How many chunks (progress steps) ``nsamples`` takes."""

    @abstractmethod
    def attribute(
        self, x: torch.Tensor, cls: int, nsamples: int, tick: Callable[[], None]
    ) -> torch.Tensor:
        """One image's attribution for class ``cls``, calling ``tick()`` before each chunk."""

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
        if int(nsamples) < 1:
            raise ExplainError(f"nsamples must be at least 1 (got {nsamples})")
        if x.ndim == 3:
            x = x.unsqueeze(0)
        x = x.detach().float().to(self.device)
        was_training = self.model.training
        self.model.eval()
        try:
            logits, probs, classes = score(self.model, x, classes)
            per_image = self.chunks(int(nsamples))
            total = len(x) * per_image
            state = {"started": 0}

            def tick() -> None:
                # called as each chunk starts: the ones before it are done
                done = min(state["started"], total)
                if progress is not None and state["started"] % per_image:
                    progress(done, total)
                if stop is not None and stop.is_set():
                    raise Cancelled(f"{self.title} cancelled at {done}/{total} chunks")
                state["started"] += 1

            attrs = []
            for j in range(len(x)):
                a = self.attribute(x[j : j + 1], classes[j], int(nsamples), tick)
                attrs.append(a.detach().double().cpu())
                if progress is not None:
                    progress((j + 1) * per_image, total)
                state["started"] = (j + 1) * per_image
        finally:
            self.model.train(was_training)
        attributions = torch.cat(attrs).numpy().astype(np.float32)
        return explanation(
            self.model, attributions, classes, logits, probs, layer=self.layer, method=self.name
        )

    def _oom(self, exc: RuntimeError) -> Exception:
        """One line for an out-of-memory error (``exc`` itself otherwise)."""
        if "out of memory" in str(exc).lower():
            return ExplainError(
                f"out of memory in {self.title} at batch size {self.batch_size}; lower "
                "nsamples or the batch, or use --device cpu"
            )
        return exc


def make_explainer(
    name: str,
    model: nn.Module,
    background: torch.Tensor | Callable[[], torch.Tensor] | None = None,
    *,
    strict: bool = True,
    **params: Any,
) -> ExplainerProtocol:
    """The explainer ``name`` (a key of :data:`advtui.registry.EXPLAINERS`) for ``model``.

    ``background`` (a tensor, or a function returning one, called only by explainers that use
    a background: SHAP) are the reference images. ``params`` are the registry parameters of any
    explainer (``layer``, ``local_smoothing``, ``baseline``, ``noise_std`` …) plus ``seed`` and
    ``batch_size``: a parameter the chosen explainer does not take must be left at its default
    (None or the registry default), else :class:`~advtui.errors.ExplainError` names it, so
    ``--baseline blur`` with SHAP is refused rather than silently ignored (``strict=False``
    drops such parameters instead: the explorer cycles explainers under one set of flags).
    """
    from advtui import registry

    spec = registry.explainer_spec(name)
    kwargs = registry.explainer_kwargs(spec.name, params, strict=strict)
    if spec.background:
        if background is None:
            raise ExplainError(f"{spec.label} needs background images")
        kwargs["background"] = background() if callable(background) else background
    cls = registry.load(spec.path)
    return cls(model, **kwargs)


__all__ = [
    "BATCH_SIZE",
    "AttributionExplainer",
    "Explanation",
    "ExplainerProtocol",
    "ProgressFn",
    "explanation",
    "make_explainer",
    "model_device",
    "score",
]
