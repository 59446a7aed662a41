"""``timm:NAME``: any timm model by name (``timm:resnet18``, ``timm:vit_small_patch16_224``,
``timm:convnext_tiny.fb_in1k`` with a pretrained tag), offline.

Weights: ``--weights FILE`` (``.safetensors``, or a ``.pth``/``.bin`` state dict read with
``torch.load(weights_only=True)``), else the file timm would download if it is already in the
Hugging Face cache (``timm/NAME``) or the torch hub cache; nothing is downloaded (the module
sets ``HF_HUB_OFFLINE=1`` and always builds with ``pretrained=False``). A file whose classifier
has another number of classes than the architecture's default resets the classifier to it.

Preprocessing comes from the model's own ``pretrained_cfg`` (``resolve_model_data_config``):
input size, mean/std (inside the wrapper) and the interpolation the wrapper resizes with.
Class names: ImageNet-1k's for 1000 outputs, ``class N`` otherwise. Penultimate features:
``forward_head(forward_features(x), pre_logits=True)``. ``eval --protocol seed`` explains the
input of the module timm names as its second feature stage (``feature_info``).

Needs the extra: ``pip install 'advtui[timm]'``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before timm imports huggingface_hub

import timm  # noqa: E402 - after HF_HUB_OFFLINE
import torch  # noqa: E402
from torch import nn  # noqa: E402

from advtui.errors import ModelError  # noqa: E402
from advtui.models import Classifier, spec_class_names  # noqa: E402
from advtui.registry import ModelSpec  # noqa: E402
from advtui.weights import load_into, read_state_dict  # noqa: E402

#: Files of a timm model on the Hugging Face hub, in the order timm prefers them.
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def _arch(spec: ModelSpec, name: str) -> str:
    arch = name[len(spec.name) :].strip()
    if not arch:
        raise ModelError(f"{name!r}: name a timm model, e.g. {spec.name}resnet18")
    base, _, tag = arch.partition(".")
    if not timm.is_model(base):
        import difflib

        close = difflib.get_close_matches(base, timm.list_models(), n=4, cutoff=0.6)
        hint = (
            f" (did you mean {', '.join(spec.name + c for c in close)}?)"
            if close
            else f"; see timm.list_models() (timm {timm.__version__})"
        )
        raise ModelError(f"unknown timm model {base!r}{hint}")
    if tag and not timm.list_pretrained(arch):
        tags = [t.partition(".")[2] for t in timm.list_pretrained(base + ".*")][:6]
        known = f"; its tags: {', '.join(tags)}" if tags else ""
        raise ModelError(f"timm model {base!r} has no pretrained tag {tag!r}{known}")
    return arch


def _pretrained_cfg(arch: str) -> dict[str, Any]:
    cfg = timm.models.get_pretrained_cfg(arch)
    return cfg.to_dict() if cfg is not None else {}


class Timm:
    """The loader of :data:`advtui.registry.MODEL_FAMILIES` ``["timm:"]``."""

    @staticmethod
    def weights_file(spec: ModelSpec, name: str) -> Path | None:
        """The cached file timm would load for ``name`` (Hugging Face cache ``timm/NAME``,
        then the torch hub cache), or None; looks only, never downloads."""
        cfg = _pretrained_cfg(_arch(spec, name))
        hub_id = cfg.get("hf_hub_id")
        if hub_id:
            from huggingface_hub import try_to_load_from_cache

            files = (cfg.get("hf_hub_filename"), *HUB_FILES)
            for filename in dict.fromkeys(f for f in files if f):
                found = try_to_load_from_cache(
                    hub_id, filename, cache_dir=os.environ.get("HF_HUB_CACHE")
                )
                if isinstance(found, str):
                    return Path(found)
        url = cfg.get("url")
        if url:
            path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
            if path.is_file():
                return path
        local = cfg.get("file")
        return Path(local) if local and Path(local).is_file() else None

    @classmethod
    def load(cls, spec: ModelSpec, name: str, weights: Path | None) -> Classifier:
        arch = _arch(spec, name)
        if weights is None:
            weights = cls.weights_file(spec, name)
            if weights is None:
                hub = _pretrained_cfg(arch).get("hf_hub_id") or arch
                raise ModelError(
                    f"{name}: no weights offline (not in the Hugging Face cache as {hub} nor "
                    "in the torch hub cache); pass --weights FILE (.safetensors or .pth)"
                )
        state = read_state_dict(weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                net = timm.create_model(arch, pretrained=False)
            except Exception as exc:  # noqa: BLE001 - timm's own errors, as one line
                raise ModelError(f"{name}: timm cannot build it ({exc})") from None
        _fit_classifier(net, state)
        load_into(net, state, weights.name, name)
        data = timm.data.resolve_model_data_config(net)
        _, height, width = data["input_size"]
        if height != width:
            raise ModelError(f"{name}: input {height}×{width} is not square (advtui needs H = W)")
        stages = [f.get("module") for f in getattr(net, "feature_info", None) or []]
        return Classifier(
            net,
            name=name,
            input_size=int(height),
            mean=tuple(data["mean"]),
            std=tuple(data["std"]),
            class_names=spec_class_names(spec, int(net.num_classes)),  # type: ignore[arg-type]
            features=spec.features if hasattr(net, "forward_head") else "final-linear",
            seed_layer=stages[1] if len(stages) > 1 and stages[1] else None,
            interpolation=str(data.get("interpolation", "bilinear")),
            crop_pct=float(data.get("crop_pct") or 1.0),
        )


def _fit_classifier(net: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Reset the classifier of ``net`` to the number of classes the file's classifier has
    (a fine-tuned 10-class file on a 1000-class architecture)."""
    head = getattr(net, "pretrained_cfg", {}).get("classifier")
    heads = head if isinstance(head, (tuple, list)) else (head,)
    for h in heads:
        weight = state.get(f"{h}.weight") if h else None
        if (
            weight is not None
            and weight.ndim >= 1
            and int(weight.shape[0]) != getattr(net, "num_classes", None)
        ):
            net.reset_classifier(int(weight.shape[0]))  # type: ignore[operator]
            return
