"""Reading a user's weights file safely: a state dict from ``torch.save`` (loaded with
``weights_only=True``: nothing is unpickled) or a ``.safetensors`` file, and loading it into a
module with one-line errors for every way a file can be wrong."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from advtui.errors import ModelError

#: What ``--weights`` expects, said after every reason a file is refused.
WEIGHTS_EXPECTED = (
    "--weights expects a state dict saved with torch.save(model.state_dict(), PATH) "
    "or a .safetensors file"
)


def short_reason(exc: BaseException, limit: int = 100) -> str:
    """The first clause of an exception's message: torch's are paragraphs with advice."""
    text = " ".join(str(exc).split())
    for cut in (" (", ". ", "; "):
        text = text.split(cut, 1)[0]
    text = text.rstrip(".")
    if len(text) < 12:  # '101', '' : the exception's type says more
        text = f"{type(exc).__name__} {text}".strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def sniff_file(path: Path) -> str | None:
    """What a file that is not a PyTorch file looks like (``"looks like text"``, ``"an HTML
    page"``, ``"a safetensors file"`` …), from its first bytes; None when it looks like a
    PyTorch file (a zip archive or a pickle) or cannot be read."""
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
    if is_safetensors(head):
        return "a safetensors file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown binary data"
    if all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "looks like text"
    return "unknown binary data"


def is_safetensors(head: bytes) -> bool:
    """Whether the first bytes of a file are a safetensors header (8-byte length + JSON)."""
    return len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 10**8


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise ModelError(
            f"{path.name}: a safetensors file needs the package safetensors (pip install safetensors)"
        ) from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - a truncated or corrupt file
        raise ModelError(
            f"{path.name}: not a readable safetensors file ({short_reason(exc)})"
        ) from None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict of tensors from ``path``: safetensors, or ``torch.load(weights_only=True)``
    (no arbitrary unpickling); ``{"state_dict": …}``-style checkpoints and ``module.``
    prefixes (DataParallel) are unwrapped."""
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ModelError(f"weights file {path}: {exc.strerror or short_reason(exc)}") from None
    if is_safetensors(head):
        return {k.removeprefix("module."): v for k, v in _read_safetensors(path).items()}
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
            f"{path.name}: not a loadable PyTorch state dict ({short_reason(exc)})"
        ) from None
    for key in ("state_dict", "model", "model_state_dict", "state_dict_ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path.name}: expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_into(module: nn.Module, state: dict[str, torch.Tensor], name: str, model: str) -> None:
    """``module.load_state_dict(state)``, every key accounted for; a mismatch is one line
    naming the file (``name``) and the model."""
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = next(
            (ln.strip() for ln in str(exc).splitlines() if "size mismatch" in ln), "shape mismatch"
        )
        raise ModelError(f"{name} does not fit {model}: {detail[:200]}") from None
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"{len(result.missing_keys)} missing (e.g. {result.missing_keys[0]})")
        if result.unexpected_keys:
            parts.append(
                f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[0]})"
            )
        raise ModelError(f"{name} does not fit {model}: {'; '.join(parts)}")


def load_weights(module: nn.Module, path: Path, model: str) -> None:
    """:func:`read_state_dict` of ``path`` into ``module``."""
    load_into(module, read_state_dict(path), path.name, model)
