"""Find, load and validate images; convert between PIL images and [0,1] tensors.

Every failure raises :class:`~advtui.errors.ImageError` with a one-line reason; nothing here
imports Textual.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from advtui.errors import ImageError
from advtui.names import safe_name
from advtui.walk import (  # noqa: F401 - the walker's names, used from here by many callers
    IMAGE_EXTENSIONS,
    WNID,
    Found,
    Skipped,
    is_image_name,
    is_wnid,
    read_list,
    walk_images,
    why_unusable,
)

#: Images larger than this many pixels are refused (decompression-bomb guard, ~ 8000×8000).
MAX_PIXELS = 64_000_000


def bundled_samples() -> Path:
    """The ``samples/`` folder shipped next to the package (source checkout / editable install)."""
    return Path(__file__).resolve().parent.parent / "samples"


def find_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (case-insensitive).

    The same rule as :func:`walk_images` (one level, no sub-folders): files are chosen by
    extension, hidden files, folders named like images and symlink loops are skipped.
    Raises ImageError when the folder is missing or holds no image files.
    """
    root = Path(folder).expanduser()
    found = [Path(f.path) for f in walk_images(root, recursive=False) if isinstance(f, Found)]
    if not found:
        raise ImageError(
            f"{safe_name(root)}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    return found


def open_source(path: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """What ``advtui PATH`` opens: (folder, image to select). A folder opens itself; an image
    file opens its folder with that image selected. Raises ImageError with the reason."""
    p = Path(path).expanduser()
    if p.is_dir():
        return p, None
    if not p.exists():
        what = "file" if is_image_name(p.name) else "folder or image"
        reason = "symlink loop" if p.is_symlink() else f"no such {what}"
        raise ImageError(f"{safe_name(p)}: {reason}")
    if not is_image_name(p.name):
        raise ImageError(
            f"{safe_name(p)}: not a folder or an image file "
            f"(for a list of paths, one per line, use --list {safe_name(p)})"
        )
    return p.parent, p


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB (alpha composited on white, 16-bit rescaled)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr8 = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, mode="L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        return img.convert("RGB")
    return img.convert("RGB")


def load_image(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file as 8-bit RGB with EXIF orientation applied.

    GIFs and multi-page TIFFs give their first frame. Raises ImageError with a one-line reason
    for missing, empty, non-image, corrupt, truncated or oversized files.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ImageError(f"{p.name}: {why_unusable(os.fspath(p))}")
    if p.is_dir():
        raise ImageError(f"{p.name}: is a folder, not an image")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImageError(f"{p.name}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise ImageError(f"{p.name}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageError(
                        f"{p.name}: image too large ({w}×{h} pixels, limit {max_pixels:,})"
                    )
                if w == 0 or h == 0:
                    raise ImageError(f"{p.name}: image has no pixels")
                img.seek(0)
                img.load()
                img = ImageOps.exif_transpose(img) or img
                return _to_rgb(img).copy()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{p.name}: image too large (decompression-bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{p.name}: not an image file, or a format Pillow cannot read") from None
    except PermissionError:
        raise ImageError(f"{p.name}: permission denied") from None
    except OSError as exc:
        msg = str(exc).split("\n")[0] or type(exc).__name__
        if "truncated" in msg.lower():
            raise ImageError(f"{p.name}: truncated image file") from None
        raise ImageError(f"{p.name}: corrupt or unreadable image ({msg})") from None
    except (ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise ImageError(f"{p.name}: corrupt image ({type(exc).__name__}: {exc})") from None


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Resize so the short side is ``size`` (bicubic, antialiased), then centre-crop size×size."""
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def to_array(img: Image.Image) -> np.ndarray:
    """PIL RGB → float32 array (3, H, W) in [0, 1]."""
    return np.asarray(img.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0


def to_tensor(img: Image.Image):  # -> torch.Tensor (imported lazily so the TUI starts fast)
    """PIL RGB → float32 tensor (3, H, W) in [0, 1]."""
    import torch

    return torch.from_numpy(to_array(img).copy())


def to_pil(x) -> Image.Image:
    """A (3, H, W) tensor or array in [0, 1] → 8-bit PIL RGB (rounded to nearest)."""
    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if arr.ndim == 4:
        arr = arr[0]
    arr = np.clip(np.rint(arr.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="RGB")


def load_tensor(path: str | os.PathLike[str], size: int):
    """Load, convert, resize+centre-crop to ``size`` and return a (3, size, size) tensor."""
    return to_tensor(resize_center_crop(load_image(path), size))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and (exc.filename is None or exc.filename == tmp):
            # a full disk says "[Errno 28] No space left on device" and names no file (or
            # the temp file): name the file being written instead
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None
        raise


def save_png(
    img: Image.Image, path: str | os.PathLike[str], text: dict[str, str] | None = None
) -> None:
    """Save a PIL image as PNG atomically, with ``text`` (if given) in iTXt chunks."""
    import io

    pnginfo = None
    if text:
        from PIL.PngImagePlugin import PngInfo

        pnginfo = PngInfo()
        for key, value in text.items():
            pnginfo.add_itxt(key, value)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=pnginfo)
    atomic_write_bytes(path, buf.getvalue())
