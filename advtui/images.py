"""Find, load and validate images; convert between PIL images and [0,1] tensors.

Every failure raises :class:`~advtui.errors.ImageError` with a one-line reason; nothing here
imports Textual.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from advtui.errors import ImageError
from advtui.names import safe_name

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
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


# ---------------------------------------------------------------------- the walker
#: ImageNet synset folder names (``n01440764``): the folder names a class.
WNID = re.compile(r"^n\d{8}$")


@dataclass(frozen=True, slots=True)
class Found:
    """One image file the walk found: no decoding, no stat beyond what listing gives."""

    path: str  # as the OS spells it (undecodable bytes kept as surrogates: os.fsdecode)
    rel: str  # relative to the root, "/"-separated (list files: the line as written)
    folder: str = ""  # the name of the folder holding it ("" directly in the root)

    @property
    def name(self) -> str:
        return self.path.rsplit(os.sep, 1)[-1]


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something the walk could not use, and why (a symlink loop, an unreadable folder)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{safe_name(self.path)}: {self.reason}, skipped"


def is_image_name(name: str) -> bool:
    """The one rule for what counts as an image: not hidden, an image extension."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _sort_key(name: str) -> tuple[str, str]:
    return (name.lower(), name)


def _why_unusable(path: str) -> str:
    """Why a directory entry that is neither a file nor a folder cannot be read."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if exc.errno == errno.ENOENT:
            return "broken symlink" if os.path.islink(path) else "no such file"
        return (exc.strerror or type(exc).__name__).lower()
    return "not a regular file"


def walk_images(
    root: str | os.PathLike[str],
    *,
    recursive: bool = True,
    stop: threading.Event | None = None,
) -> Iterator[Found | Skipped]:
    """Yield the images under ``root`` one by one, as the folders are listed.

    Depth-first; in each folder its images by name (case-insensitive), then its sub-folders
    by name. Uses ``os.scandir`` only (no decoding, one ``stat`` per folder for loop
    detection, none per file), so a folder of 50,000 files costs one listing and a sort.
    Hidden files and folders are skipped. A symlinked folder that points back to one of its
    ancestors, a symlink loop between files, a broken symlink and an unreadable sub-folder are
    yielded as :class:`Skipped` with the reason, never raised. ``stop`` ends the walk early.
    Raises ImageError only when ``root`` itself cannot be listed.
    """
    top = os.fspath(Path(root).expanduser())
    if not os.path.exists(top):
        raise ImageError(f"{safe_name(top)}: no such folder")
    if not os.path.isdir(top):
        raise ImageError(f"{safe_name(top)}: not a folder")
    try:
        st = os.stat(top)
    except OSError as exc:
        raise ImageError(f"{safe_name(top)}: cannot list folder ({exc.strerror or exc})") from None
    seen = {(st.st_dev, st.st_ino)}
    # stack of (path, rel, ancestors' (dev, ino)); popped in name order
    stack: list[tuple[str, str, tuple]] = [(top, "", ((st.st_dev, st.st_ino),))]
    while stack:
        if stop is not None and stop.is_set():
            return
        path, rel, ancestors = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            reason = (exc.strerror or type(exc).__name__).lower()
            if not rel:
                raise ImageError(f"{safe_name(top)}: cannot list folder ({reason})") from None
            yield Skipped(path, f"cannot list folder ({reason})")
            continue
        files, dirs = [], []
        for n, e in enumerate(entries):
            if n & 1023 == 1023 and stop is not None and stop.is_set():
                return
            name = e.name
            if name.startswith("."):
                continue
            try:
                is_file = e.is_file()
                is_dir = not is_file and e.is_dir()
            except OSError:
                is_file = is_dir = False
            if is_file:
                if is_image_name(name):
                    files.append(name)
            elif is_dir:
                if recursive:
                    dirs.append(e)
            elif is_image_name(name) or e.is_symlink():
                yield Skipped(e.path, _why_unusable(e.path))
        folder = rel.rsplit("/", 1)[-1]
        prefix = f"{rel}/" if rel else ""
        for name in sorted(files, key=_sort_key):
            yield Found(os.path.join(path, name), prefix + name, folder)
        subs = []
        for e in sorted(dirs, key=lambda d: _sort_key(d.name), reverse=True):
            try:
                dst = e.stat()
            except OSError as exc:
                yield Skipped(e.path, (exc.strerror or type(exc).__name__).lower())
                continue
            key = (dst.st_dev, dst.st_ino)
            if key in ancestors:
                yield Skipped(e.path, "symlink loop (points back to a folder above it)")
                continue
            if key in seen:  # a second symlink to a folder already listed
                continue
            seen.add(key)
            subs.append((e.path, prefix + e.name, (*ancestors, key)))
        stack.extend(subs)


def read_list(
    list_file: str | os.PathLike[str], stop: threading.Event | None = None
) -> Iterator[Found]:
    """Yield the images named in ``list_file``, one path per line, in its order.

    Blank lines and lines starting with ``#`` are skipped; relative paths are relative to the
    list file's folder. Names are read as bytes, so any name a filesystem allows works.
    Nothing is opened or stat'ed here: a missing file shows as unreadable when it is loaded.
    Raises ImageError when the list itself cannot be read.
    """
    p = Path(list_file).expanduser()
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise ImageError(f"--list {safe_name(p)}: is a folder, not a list file") from None
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise ImageError(f"--list {safe_name(p)}: cannot read ({reason})") from None
    if b"\0" in data[:4096]:
        raise ImageError(f"--list {safe_name(p)}: not a text file (one image path per line)")
    base = os.fspath(p.parent)
    for n, raw in enumerate(data.split(b"\n")):
        if n & 1023 == 1023 and stop is not None and stop.is_set():
            return
        line = os.fsdecode(raw.rstrip(b"\r").strip())
        if not line or line.startswith("#"):
            continue
        path = os.path.join(base, os.path.expanduser(line))
        folder = os.path.basename(os.path.dirname(os.path.normpath(path)))
        yield Found(path, line, folder)


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


# ---------------------------------------------------------------------- labels
def is_wnid(name: str) -> bool:
    return bool(WNID.match(name))


def folder_classes(folders: Iterable[str], n_classes: int) -> dict[str, int]:
    """ImageNet-style class folders → class index, as torchvision's ImageFolder: when all
    ``n_classes`` synset folders are present, their sorted order is the class order;
    otherwise ``{}`` (a subset cannot be mapped offline; use ``--labels``)."""
    wnids = sorted({f for f in folders if is_wnid(f)})
    return {w: i for i, w in enumerate(wnids)} if len(wnids) == n_classes else {}


def label_for(
    found: Found, labels: Mapping[str, int], folder_label: Mapping[str, int]
) -> tuple[int | None, str]:
    """The true class of one image and where it came from: ``labels`` (``--labels``: by
    relative path, file name or folder name, in that order), then its ImageNet class folder;
    ``(None, "clean-top1")`` when neither knows it. Eval and the explorer both use this."""
    for key in (found.rel, found.name, found.folder):
        if key and key in labels:
            return labels[key], "labels"
    if found.folder in folder_label:
        return folder_label[found.folder], "folder"
    return None, "clean-top1"


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
        raise ImageError(f"{p.name}: {_why_unusable(os.fspath(p))}")
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
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
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
