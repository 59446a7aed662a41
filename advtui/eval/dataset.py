"""What ``advtui eval`` evaluates: photos, their views (crops/scales) and their labels.

A *view* is one crop or scale of a photo, for offline variety; all views of a photo share a
*group*, which the detector's cross-validation never splits. Labels come from ``--labels``
(CSV or JSON, keyed by filename, relative path or class-folder name) or from ImageNet-style
``n01440764/`` folders; without either the clean top-1 stands as the label.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from advtui.errors import AdvtuiError, AttackError, ImageError
from advtui.images import IMAGE_EXTENSIONS as IMAGE_EXTS

#: Crops and scales of each photo, in the order ``--views K`` takes them. ``full`` is the
#: standard resize + centre crop; ``cNN``/``tlNN``… crop a square NN % of the short side at
#: the centre or a corner and resize it; ``flip`` mirrors the full view.
VIEWS = ("full", "c80", "tl70", "br70", "flip", "tr70", "bl70", "c60")


class EvalError(AdvtuiError):
    """The evaluation cannot run with these inputs."""


@dataclass(frozen=True)
class Item:
    """One evaluated image: a view of a source photo, its group and (optional) true label."""

    image: str  # unique id used in rows: "name.jpg" or "name.jpg#c80"
    path: Path
    view: str
    group: str  # all views of one photo share it (never split across train/test)
    position: int  # photo order, for the seed protocol's split by index
    label: int | None = None
    label_source: str = "clean-top1"


def view_image(img, view: str, size: int):
    """The PIL image of ``view`` (see :data:`VIEWS`) at ``size``×``size``."""
    from PIL import Image, ImageOps

    from advtui.images import resize_center_crop

    if view == "full":
        return resize_center_crop(img, size)
    if view == "flip":
        return ImageOps.mirror(resize_center_crop(img, size))
    m = re.fullmatch(r"(c|tl|tr|bl|br)(\d\d)", view)
    if not m:
        raise EvalError(f"unknown view {view!r}")
    w, h = img.size
    side = max(1, round(min(w, h) * int(m.group(2)) / 100))
    pos = m.group(1)
    left = (w - side) // 2 if pos == "c" else (0 if pos[1] == "l" else w - side)
    top = (h - side) // 2 if pos == "c" else (0 if pos[0] == "t" else h - side)
    crop = img.crop((left, top, left + side, top + side))
    return crop.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)


def read_labels(path: str | Path, class_names: Sequence[str]) -> dict[str, int]:
    """filename (or folder name) → class index from a CSV (``name,class``) or JSON object."""
    from advtui.attacks import resolve_class

    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"--labels {p}: cannot read ({type(exc).__name__})") from None
    pairs: list[tuple[str, object]]
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvalError(f"--labels {p}: not valid JSON (line {exc.lineno})") from None
        if not isinstance(obj, dict):
            raise EvalError(f"--labels {p}: expected a JSON object of filename → class")
        pairs = list(obj.items())
    else:
        pairs = []
        for n, rec in enumerate(csv.reader(text.splitlines()), 1):
            if not rec or rec[0].startswith("#"):
                continue
            if len(rec) < 2:
                raise EvalError(f"--labels {p}: line {n} needs two columns: filename,class")
            if n == 1 and rec[0].strip().lower() in ("filename", "file", "image", "name"):
                continue
            pairs.append((rec[0].strip(), rec[1].strip()))
    out = {}
    for name, cls in pairs:
        try:
            out[str(name)] = resolve_class(
                cls if isinstance(cls, (int, str)) else str(cls), class_names
            )
        except AttackError as exc:
            raise EvalError(f"--labels {p}: {name}: {exc}") from None
    if not out:
        raise EvalError(f"--labels {p}: no labels found")
    return out


def no_images_message(root: Path, subfolders: Sequence[str]) -> str:
    """Why a folder with no images directly inside but ``subfolders`` not named like ImageNet
    synsets cannot be evaluated without labels, and how to label its images (one line)."""
    from advtui.names import safe_name

    names = sorted(subfolders)
    shown = ", ".join(safe_name(n) for n in names[:3]) + (", …" if len(names) > 3 else "")
    s = "" if len(names) == 1 else "s"
    return (
        f"{safe_name(root)}: no images directly inside, and {len(names)} sub-folder{s} ({shown}) "
        "not named like ImageNet class folders (n01440764), so their true classes are unknown: "
        "pass --labels FILE (CSV: folder or file name,class) or rename the sub-folders to their "
        "WordNet IDs"
    )


def collect_items(
    folder: str | Path,
    class_names: Sequence[str],
    *,
    labels_file: str | Path | None = None,
    n: int | None = None,
    views: int = 1,
    skipped: list[str] | None = None,
) -> list[Item]:
    """The images to evaluate: every image under ``folder`` as the explorer lists it
    (:func:`advtui.images.walk_images`: flat folders and trees, e.g. ImageNet-style
    ``n01440764/`` class folders).

    Labels follow :func:`advtui.images.label_for` (the explorer's rule): ``labels_file`` (by
    relative path, filename or class-folder name), else the class-folder name when all
    ``len(class_names)`` WordNet-ID folders are present (sorted order = class index, as
    torchvision's ImageFolder); otherwise none (the clean top-1 stands as the label).
    Unusable entries (symlink loops, unreadable folders) are left out and described in
    ``skipped`` if given.
    """
    from advtui.images import Found, folder_classes, is_wnid, label_for, walk_images

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise EvalError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}")
    if not 1 <= views <= len(VIEWS):
        raise EvalError(f"--views must be 1..{len(VIEWS)} (got {views})")
    found: list[Found] = []
    try:
        for f in walk_images(root):
            if isinstance(f, Found):
                found.append(f)
            elif skipped is not None:
                skipped.append(str(f))
    except ImageError as exc:
        raise EvalError(str(exc)) from None
    if not found:
        raise EvalError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_EXTS))})")
    wnids = {f.folder for f in found if is_wnid(f.folder)}
    folder_label = folder_classes(wnids, len(class_names))
    if wnids and not folder_label and labels_file is None:
        raise EvalError(
            f"{root}: {len(wnids)} of {len(class_names)} ImageNet class folders; their WordNet "
            "IDs cannot be mapped to class indices offline — pass --labels FILE (folder name "
            "or filename → class)"
        )
    other = sorted({f.folder for f in found if f.folder and not is_wnid(f.folder)})
    if other and labels_file is None and all(f.folder for f in found) and not folder_label:
        # a class tree whose folders are not WordNet IDs: the true classes are unknown
        raise EvalError(no_images_message(root, other))
    labels = read_labels(labels_file, class_names) if labels_file else {}
    if n is not None:
        found = found[: max(0, n)]
    items = []
    for pos, f in enumerate(found):
        label, source = label_for(f, labels, folder_label)
        if labels and label is None:
            continue  # an image the labels file does not cover
        for v in VIEWS[:views]:
            image = f.rel if v == "full" else f"{f.rel}#{v}"
            items.append(Item(image, Path(f.path), v, f.rel, pos, label, source))
    if not items:
        raise EvalError(f"{root}: no image has a label in {labels_file}")
    return items
