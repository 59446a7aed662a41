"""What ``advtui eval`` evaluates: photos, their views (crops/scales) and their labels.

A *view* is one crop or scale of a photo, for offline variety; all views of a photo share a
*group*, which the detector's cross-validation never splits. Labels follow the explorer's
rule (:mod:`advtui.labels`): ``--labels`` (CSV, JSON, ``LOC_val_solution.csv`` or one
WordNet id a line), WordNet-id class folders (any subset, for ImageNet-1k models) and file
names that start with a WordNet id; without any, the clean top-1 stands as the label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from advtui.errors import AdvtuiError, ImageError
from advtui.images import IMAGE_EXTENSIONS as IMAGE_EXTS
from advtui.labels import LabelReport, label_all, read_labels, unmapped_message

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
    report: LabelReport | None = None,
) -> list[Item]:
    """The images to evaluate: every image under ``folder`` as the explorer lists it
    (:func:`advtui.images.walk_images`: flat folders and trees, e.g. ImageNet-style
    ``n01440764/`` class folders).

    Labels follow :func:`advtui.labels.label_all` (the explorer's rule): ``labels_file``, the
    class folder, the file name's WordNet id; otherwise none (the clean top-1 stands as the
    label). With a labels file, photos that no source labels are left out, and they and the
    file's entries that name no photo are counted in ``report`` (if given). Unusable entries
    (symlink loops, unreadable folders) are left out and described in ``skipped`` if given.
    """
    from advtui.images import Found, is_wnid, walk_images

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
    labels = read_labels(labels_file, class_names) if labels_file else None
    # the whole walk is labelled (an entry names no photo only if none in the folder has it);
    # --n takes the first photos, and only they count as unlabelled
    labelled, done = label_all(found, class_names, labels)
    if n is not None:
        found, labelled = found[: max(0, n)], labelled[: max(0, n)]
        chosen = {f.rel for f in found}
        done.unlabelled = [rel for rel in done.unlabelled if rel in chosen]
        done.sources = {}
        for _, source in labelled:
            done.sources[source] = done.sources.get(source, 0) + 1
    unmapped = unmapped_message(done, len(class_names))
    if unmapped and labels is None:
        raise EvalError(f"{root}: {unmapped}")
    if labels is None and not any(lab is not None for lab, _ in labelled):
        other = sorted({f.folder for f in found if f.folder and not is_wnid(f.folder)})
        if other and all(f.folder for f in found):
            # a class tree whose folders are not WordNet IDs: the true classes are unknown
            raise EvalError(no_images_message(root, other))
    if report is not None:
        for name in LabelReport.__dataclass_fields__:
            setattr(report, name, getattr(done, name))
    items = []
    for pos, (f, (label, source)) in enumerate(zip(found, labelled, strict=True)):
        if labels is not None and label is None:
            continue  # a photo the labels file does not name: counted in the report
        for v in VIEWS[:views]:
            image = f.rel if v == "full" else f"{f.rel}#{v}"
            items.append(Item(image, Path(f.path), v, f.rel, pos, label, source))
    if not items:
        raise EvalError(f"{root}: no image has a label in {labels_file}")
    return items
