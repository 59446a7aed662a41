"""The explorer's true classes and running accuracy: plain functions over the listing.

The labels themselves come from :mod:`advtui.labels` (the rule eval uses); here they are put
on the list's entries, and what has been predicted is scored for the list's title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from advtui.tui.state import Entry
from advtui.walk import is_wnid

if TYPE_CHECKING:
    from advtui.labels import LabelFile, LabelReport


def apply_labels(
    entries: Sequence[Entry], names: Sequence[str], labels: LabelFile | None
) -> LabelReport:
    """Set every entry's ``label`` and ``truth`` (the class name; the synset folder when it
    has no class), clear its verdict; return what labelling left out."""
    from advtui.labels import label_all

    found, report = label_all(entries, names, labels)
    for e, (label, _) in zip(entries, found, strict=True):
        e.label, e.verdict = label, ""
        if label is None:
            e.truth = e.folder if is_wnid(e.folder) else ""
        else:
            e.truth = names[label] if 0 <= label < len(names) else f"class {label}"
    return report


def verdict(label: int | None, top5: Sequence[Mapping] | None) -> str:
    """``✓`` when the top-1 is the true class, ``✗`` when not, ``""`` unknown or unpredicted."""
    if label is None or not top5:
        return ""
    return "✓" if top5[0]["index"] == label else "✗"


def accuracy(
    entries: Sequence[Entry],
    paths: Mapping[str, int],
    predictions: Mapping[tuple[str, str], Sequence[Mapping]],
    model: str,
) -> tuple[int, int, int]:
    """(images with a true class that ``model`` has predicted, top-1 hits, top-5 hits)."""
    n = top1 = top5 = 0
    for (path, name), top in predictions.items():
        index = paths.get(path)
        if name != model or index is None or not top:
            continue
        label = entries[index].label
        if label is None:
            continue
        n += 1
        top1 += top[0]["index"] == label
        top5 += any(r["index"] == label for r in top[:5])
    return n, top1, top5


def list_titles(count: str, score: tuple[int, int, int]) -> tuple[str, ...]:
    """The image list's titles, longest first: the count, and once something with a true
    class has been predicted, the running top-1 / top-5 accuracy of what was predicted."""
    n, top1, top5 = score
    plain = f"images ({count})"
    if not n:
        return (plain,)
    p1, p5 = f"{top1 / n:.0%}", f"{top5 / n:.0%}"
    return (
        f"{plain} · top-1 {p1} · top-5 {p5} of {n:,}",
        f"{plain} · top-1 {p1} top-5 {p5}",
        f"{count} · top-1 {p1} top-5 {p5}",
        f"top-1 {p1} top-5 {p5}",
        f"top-1 {p1}",
    )
