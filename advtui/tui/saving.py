"""The explorer's save folders (``s``): unique per image path, bounded in length, never reused.

``OUT/<stem>-<hash>-<method>-eps8-10steps-<target>``: the image's file-name stem, a short hash
of its full path (so ``bird.jpg`` and ``bird.png``, or ``a/x.jpg`` and ``b/x.jpg``, never share
a folder), then the settings. The stem is shortened (at a character boundary) so the name
stays within :data:`MAX_NAME` bytes whatever the file's name (a 251-byte name + ``.jpg`` is
allowed by the file system; the folder name must fit too). A folder that already exists is
never replaced: the next free ``-2``, ``-3`` … is taken. Textual-free.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: bytes a save folder's name may take (file systems allow 255; room is left for the suffix)
MAX_NAME = 200


def _bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes in the file system's encoding, whole characters."""
    out, used = [], 0
    for ch in text:
        n = len(os.fsencode(ch))
        if used + n > limit:
            break
        out.append(ch)
        used += n
    return "".join(out)


def path_tag(image: str | os.PathLike[str]) -> str:
    """Six hex digits of a hash of the image's absolute path (its bytes, whatever they are)."""
    full = os.path.abspath(os.fspath(image))
    return hashlib.sha1(os.fsencode(full)).hexdigest()[:6]


def save_folder(
    out_dir: str | os.PathLike[str], image: str | os.PathLike[str], settings: str
) -> Path:
    """A folder in ``out_dir`` for the result of ``image`` at ``settings`` (a slug such as
    ``pgd-eps8-10steps-untargeted``) that no earlier save holds."""
    out = Path(out_dir)
    tail = f"-{path_tag(image)}-{settings}"
    room = MAX_NAME - len(os.fsencode(tail)) - 4  # and "-999"
    stem = _bounded(Path(image).stem, max(room, 8)) or "image"
    base = f"{stem}{tail}"
    folder = out / base
    n = 2
    while folder.exists() or folder.is_symlink():
        folder = out / f"{base}-{n}"
        n += 1
    return folder
