"""True classes: the one rule, beside the walker, that both faces (the explorer and eval) use
to say which class an image is. Torch-free and free of numpy and PIL, so the explorer knows
a label without importing the experiment.

An image's true class comes from the first source that knows it:

1. ``--labels FILE`` (:func:`read_labels`): an entry for its relative path, its file name
   (Kaggle's ``LOC_val_solution.csv``: its name without the extension) or its folder's name;
   a one-WordNet-id-per-line file (ILSVRC2012 validation ground truth) labels
   ``ILSVRC2012_val_<N>.*`` with its line ``N``;
2. its class folder (:func:`folder_classes`): a folder named by a WordNet id
   (``n01440764/``) is that ImageNet-1k class for a 1,000-class model, for any subset of
   folders; for other models, when all ``n_classes`` such folders are present, their sorted
   position is the class index (torchvision's ImageFolder);
3. its file name, when it starts with a WordNet id (``n01440764_10026.JPEG``, ImageNet's
   training-set naming), for a 1,000-class model.

Labels are exact or refused: a class is named by its index, its exact name or its WordNet
id; a near miss is refused with the candidates, a key given two different classes is
refused naming both lines. What a labels file leaves out (photos it does not name, entries
that name no photo) is counted in a :class:`LabelReport` that says it in one line each.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from advtui.errors import LabelError
from advtui.imagenet import IMAGENET_CLASSES, wnid_index
from advtui.names import safe_name
from advtui.walk import is_wnid

#: A file name that starts with a WordNet id: ``n01440764_10026.JPEG``, ``n01440764.jpg``.
WNID_PREFIX = re.compile(r"^(n\d{8})(?=[_.\- ]|$)")
#: An ILSVRC2012 validation image: ``ILSVRC2012_val_00000001.JPEG`` is image 1.
VAL_NAME = re.compile(r"^ILSVRC2012_val_0*(\d+)(?:\.[^.]*)?$", re.IGNORECASE)
#: Words a CSV's first line may start with to be a header, not a label.
HEADERS = ("filename", "file", "image", "imageid", "name", "path")

#: Where a label came from (rows' ``label_source``).
FROM_LABELS, FROM_FOLDER, FROM_FILENAME, FROM_CLEAN = "labels", "folder", "filename", "clean-top1"


class Named(Protocol):
    """What labelling reads of an image: the walker's Found and the explorer's Entry."""

    @property
    def rel(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def folder(self) -> str: ...


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _shown(names: Sequence[str], k: int = 3) -> str:
    more = f" and {len(names) - k:,} more" if len(names) > k else ""
    return ", ".join(safe_name(n) for n in names[:k]) + more


# ---------------------------------------------------------------------- one class, exactly
class ClassNames:
    """A model's class names, for exact look-ups: an index, the exact name or (1,000-class
    models, ImageNet-1k's order) a WordNet id. Anything else is refused with candidates."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self.names = tuple(str(n) for n in class_names)
        self.by_name: dict[str, list[int]] = {}
        for i, n in enumerate(self.names):
            self.by_name.setdefault(n, []).append(i)
        self.imagenet = len(self.names) == IMAGENET_CLASSES

    def describe(self, index: int) -> str:
        return f"{index} ({self.names[index]})"

    def wnid(self, wnid: str) -> int | None:
        """The class of a WordNet id, or None (not ImageNet-1k's, or not a 1,000-class model)."""
        return wnid_index().get(wnid) if self.imagenet else None

    def resolve(self, value: object) -> int:
        """The class index ``value`` names exactly; LabelError (one line) otherwise."""
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise LabelError(
                f"`{safe_name(str(value))}`: not a class (an index, name or WordNet id)"
            )
        n = len(self.names)
        text = str(value).strip()
        if isinstance(value, int) or text.isdigit():
            index = int(text)
            if not 0 <= index < n:
                raise LabelError(f"class index {index} out of range 0..{n - 1}")
            return index
        if not text:
            raise LabelError("no class given")
        exact = self.by_name.get(text)
        if exact is not None and len(exact) == 1:
            return exact[0]
        if exact:
            which = ", ".join(str(i) for i in exact)
            raise LabelError(f"`{safe_name(text)}` names classes {which}: give the index")
        if is_wnid(text):
            known = self.wnid(text)
            if known is not None:
                return known
            if not self.imagenet:
                raise LabelError(
                    f"`{text}` is a WordNet id, but the model's {n:,} classes are not "
                    "ImageNet-1k's: give the class index or name"
                )
            raise LabelError(f"`{text}`: not one of the 1,000 ImageNet-1k WordNet ids")
        raise LabelError(f"`{safe_name(text)}`: no such class{self._candidates(text)}")

    def _candidates(self, text: str) -> str:
        folded = text.casefold()
        near = [n for n in self.by_name if n.casefold() == folded]
        near += [
            n
            for n in difflib.get_close_matches(text, list(self.by_name), n=3, cutoff=0.6)
            if n not in near
        ]
        if not near:
            return f" (none of the {len(self.names):,} names is close)"
        names = [safe_name(n) for n in near[:3]]
        said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"; did you mean {said}?"


# ---------------------------------------------------------------------- the labels file
@dataclass
class LabelFile:
    """A labels file, resolved against a model's classes (see :func:`read_labels`)."""

    path: str  # as given, for messages
    kind: str  # "csv", "json", "loc" (LOC_val_solution.csv) or "wnids" (one a line)
    entries: dict[str, int] = field(default_factory=dict)  # key → class (csv, json, loc)
    by_number: tuple[int, ...] = ()  # wnids: the class of ILSVRC2012_val_<N> is [N - 1]
    notes: list[str] = field(default_factory=list)  # one line each (repeated entries)

    @property
    def shown(self) -> str:
        return f"--labels {safe_name(self.path)}"

    def keys_of(self, image: Named) -> tuple[str, ...]:
        """The keys an entry may name ``image`` by, in the order they are tried."""
        if self.kind == "loc":
            return (os.path.splitext(image.name)[0], image.rel, image.name)
        return (image.rel, image.name, image.folder)

    def lookup(self, image: Named) -> int | None:
        if self.kind == "wnids":
            number = val_number(image.name)
            if number is not None and 1 <= number <= len(self.by_number):
                return self.by_number[number - 1]
            return None
        for key in self.keys_of(image):
            if key and key in self.entries:
                return self.entries[key]
        return None

    def __len__(self) -> int:
        return len(self.by_number) if self.kind == "wnids" else len(self.entries)


def val_number(name: str) -> int | None:
    """``ILSVRC2012_val_00000007.JPEG`` → 7; None for other names."""
    m = VAL_NAME.match(name)
    return int(m.group(1)) if m else None


def read_labels(path: str | os.PathLike[str], class_names: Sequence[str]) -> LabelFile:
    """Read a labels file and resolve every class in it exactly (:meth:`ClassNames.resolve`).

    Formats, told apart by their content:

    * JSON object ``{"name": class, …}`` (a ``.json`` file);
    * Kaggle's ``LOC_val_solution.csv``: a header ``ImageId,PredictionString``; the first
      token of the prediction string is the WordNet id; ``ImageId`` is the file name without
      its extension;
    * one WordNet id a line and nothing else (the ILSVRC2012 validation ground truth): line
      ``N`` is the class of ``ILSVRC2012_val_<N>``;
    * CSV ``name,class`` (an optional header line), the name being a relative path, a file
      name or a folder name; a line without a comma may be ``name class`` (Caffe's
      ``val.txt``: ``ILSVRC2012_val_00000001.JPEG 65``).

    Raises LabelError (one line, naming the file and the line) for a class that is not named
    exactly (with the candidates), a name given two different classes (both lines), a line
    without two columns, or a file with no labels. A name repeated with the same class is
    kept once and said in :attr:`LabelFile.notes`.
    """
    p = Path(path).expanduser()
    shown = f"--labels {safe_name(p)}"
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except IsADirectoryError:
        raise LabelError(f"{shown}: is a folder, not a labels file") from None
    except OSError as exc:
        raise LabelError(f"{shown}: cannot read ({(exc.strerror or str(exc)).lower()})") from None
    except UnicodeDecodeError:
        raise LabelError(f"{shown}: not a UTF-8 text file") from None
    classes = ClassNames(class_names)
    if p.suffix.lower() == ".json":
        pairs = _json_pairs(text, shown)
        kind = "json"
    else:
        lines = [
            (n, line.strip())
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not lines:
            raise LabelError(f"{shown}: no labels found")
        if all(is_wnid(line) for _, line in lines):
            return _wnid_list(str(path), lines, classes)
        head = next(csv.reader([lines[0][1]]))
        if [h.strip().lower() for h in head[:2]] == ["imageid", "predictionstring"]:
            pairs, kind = _loc_pairs(lines[1:], shown), "loc"
        else:
            pairs, kind = _csv_pairs(lines, shown), "csv"
    out = LabelFile(str(path), kind)
    _resolve_pairs(out, pairs, classes, shown)
    if not out.entries:
        raise LabelError(f"{shown}: no labels found")
    return out


def _json_pairs(text: str, shown: str) -> list[tuple[str, str, object]]:
    """(where, key, class) of a JSON object, duplicates kept (the hook sees them all)."""
    try:
        obj = json.loads(text, object_pairs_hook=lambda kv: kv)
    except json.JSONDecodeError as exc:
        raise LabelError(f"{shown}: not valid JSON (line {exc.lineno})") from None
    if not isinstance(obj, list):
        raise LabelError(f"{shown}: expected a JSON object of file name → class")
    return [(f"entry {i}", str(k), v) for i, (k, v) in enumerate(obj, 1)]


def _csv_pairs(lines: list[tuple[int, str]], shown: str) -> list[tuple[str, str, object]]:
    pairs: list[tuple[str, str, object]] = []
    for n, line in lines:
        rec = next(csv.reader([line]))
        if len(rec) == 1 and len(line.split()) == 2:  # `name class` (Caffe's val.txt)
            rec = line.split()
        if len(rec) < 2 or not rec[0].strip():
            if is_wnid(line):
                raise LabelError(
                    f"{shown}: line {n} holds only a WordNet id but other lines hold more: "
                    "one WordNet id a line (the ILSVRC2012 validation ground truth), or "
                    "name,class on every line"
                )
            raise LabelError(f"{shown}: line {n} needs two columns: name,class")
        if n == lines[0][0] and rec[0].strip().lower() in HEADERS:
            continue
        pairs.append((f"line {n}", rec[0].strip(), rec[1].strip()))
    return pairs


def _loc_pairs(lines: list[tuple[int, str]], shown: str) -> list[tuple[str, str, object]]:
    pairs: list[tuple[str, str, object]] = []
    for n, line in lines:
        rec = next(csv.reader([line]))
        tokens = rec[1].split() if len(rec) > 1 else []
        if not rec[0].strip() or not tokens:
            raise LabelError(
                f"{shown}: line {n} needs ImageId,PredictionString (the WordNet id first)"
            )
        pairs.append((f"line {n}", rec[0].strip(), tokens[0]))
    return pairs


def _resolve_pairs(
    out: LabelFile, pairs: list[tuple[str, str, object]], classes: ClassNames, shown: str
) -> None:
    """Fill ``out.entries``; refuse the first bad class or conflict (counting the rest)."""
    where: dict[str, str] = {}
    errors: list[str] = []
    repeated: list[str] = []
    for at, key, value in pairs:
        try:
            index = classes.resolve(value)
        except LabelError as exc:
            errors.append(f"{shown}: {at}: {safe_name(key)}: {exc}")
            continue
        old = out.entries.get(key)
        if old is None:
            out.entries[key], where[key] = index, at
        elif old == index:
            repeated.append(f"{safe_name(key)} ({where[key]}, {at})")
        else:
            errors.append(
                f"{shown}: {safe_name(key)} has two classes: {where[key]} says "
                f"{classes.describe(old)}, {at} says {classes.describe(index)}"
            )
    if errors:
        more = f" (and {_plural(len(errors) - 1, 'more problem')})" if len(errors) > 1 else ""
        raise LabelError(errors[0] + more)
    if repeated:
        out.notes.append(
            f"{shown}: {_plural(len(repeated), 'name')} given twice with the same class, "
            f"kept once: {_shown(repeated, 2)}"
        )


def _wnid_list(path: str, lines: list[tuple[int, str]], classes: ClassNames) -> LabelFile:
    shown = f"--labels {safe_name(path)}"
    if not classes.imagenet:
        raise LabelError(
            f"{shown}: a list of WordNet ids, but the model's {len(classes.names):,} classes "
            "are not ImageNet-1k's"
        )
    by_number = []
    for n, wnid in lines:
        index = classes.wnid(wnid)
        if index is None:
            raise LabelError(
                f"{shown}: line {n}: `{wnid}`: not one of the 1,000 ImageNet-1k WordNet ids"
            )
        by_number.append(index)
    return LabelFile(path, "wnids", by_number=tuple(by_number))


# ---------------------------------------------------------------------- folders and names
def folder_classes(folders: Iterable[str], n_classes: int) -> dict[str, int]:
    """Class folders named by WordNet id → class index.

    For a 1,000-class model (ImageNet-1k's order) every folder named by one of the shipped
    ImageNet-1k ids maps to its class, for any subset of folders. Otherwise, when all
    ``n_classes`` synset folders are present, their sorted order is the class order
    (torchvision's ImageFolder, for other models' folder conventions); else ``{}``.
    """
    wnids = sorted({f for f in folders if is_wnid(f)})
    if n_classes == IMAGENET_CLASSES:
        known = wnid_index()
        mapped = {w: known[w] for w in wnids if w in known}
        if mapped:
            return mapped
    return {w: i for i, w in enumerate(wnids)} if len(wnids) == n_classes else {}


def name_class(name: str, n_classes: int) -> int | None:
    """The ImageNet-1k class of a file name that starts with a WordNet id (1,000 classes)."""
    if n_classes != IMAGENET_CLASSES:
        return None
    m = WNID_PREFIX.match(name)
    return wnid_index().get(m.group(1)) if m else None


def label_for(
    image: Named,
    labels: LabelFile | None,
    folder_label: dict[str, int],
    n_classes: int = 0,
) -> tuple[int | None, str]:
    """The true class of one image and where it came from (see the module's docstring):
    the labels file, then its class folder, then its file name; ``(None, "clean-top1")``
    when none knows it."""
    if labels is not None:
        found = labels.lookup(image)
        if found is not None:
            return found, FROM_LABELS
    if image.folder in folder_label:
        return folder_label[image.folder], FROM_FOLDER
    index = name_class(image.name, n_classes)
    if index is not None:
        return index, FROM_FILENAME
    return None, FROM_CLEAN


# ---------------------------------------------------------------------- a whole listing
@dataclass
class LabelReport:
    """What labelling a listing left unsaid, counted (``summary.json``) and said in one line
    each (:meth:`lines`)."""

    file: str | None = None
    kind: str | None = None
    unlabelled: list[str] = field(default_factory=list)  # photos no source labels (a file given)
    missing: list[str] = field(default_factory=list)  # entries of the file that name no photo
    unmapped: list[str] = field(default_factory=list)  # WordNet-id folders with no class
    notes: list[str] = field(default_factory=list)  # the file's own notes, count mismatches
    sources: dict[str, int] = field(default_factory=dict)  # label source → photos

    def lines(self, unlabelled_fate: str = "") -> list[str]:
        """One line per kind of gap; ``unlabelled_fate`` says what happens to those photos."""
        shown = f"--labels {safe_name(self.file)}" if self.file else "labels"
        out = list(self.notes)
        if self.unlabelled:
            fate = f" ({unlabelled_fate})" if unlabelled_fate else ""
            out.append(
                f"{shown}: {_plural(len(self.unlabelled), 'photo')} it does not name{fate}: "
                + _shown(self.unlabelled)
            )
        if self.missing and self.kind != "wnids":  # a wnid list says so in its count note
            out.append(
                f"{shown}: {_plural(len(self.missing), 'entry', 'entries')} "
                f"{'names' if len(self.missing) == 1 else 'name'} no photo in the folder: "
                + _shown(self.missing)
            )
        return out

    def summary(self) -> dict:
        """The counts for ``summary.json``."""
        return {
            "file": self.file,
            "format": self.kind,
            "sources": dict(self.sources),
            "unlabelled": len(self.unlabelled),
            "unlabelled_examples": self.unlabelled[:5],
            "missing": len(self.missing),
            "missing_examples": self.missing[:5],
            "notes": list(self.notes),
        }


def unmapped_message(report: LabelReport, n_classes: int) -> str | None:
    """Why WordNet-id folders have no class (one line), or None when all have one."""
    if not report.unmapped:
        return None
    k = len(report.unmapped)
    if n_classes == IMAGENET_CLASSES:
        return (
            f"{_plural(k, 'folder')} named like WordNet ids but not ImageNet-1k classes "
            f"({_shown(report.unmapped)}): their true classes are unknown; pass --labels FILE"
        )
    return (
        f"{k} ImageNet class folders but the model has {n_classes} classes: their true "
        "classes cannot be mapped offline; pass --labels FILE"
    )


def label_all(
    images: Sequence[Named], class_names: Sequence[str], labels: LabelFile | None = None
) -> tuple[list[tuple[int | None, str]], LabelReport]:
    """Label every image of a listing (:func:`label_for`) and say what was left out: photos
    a labels file does not name (and no other source labels), entries of the file that name
    no photo, WordNet-id folders with no class. Eval and the explorer both call this."""
    n = len(class_names)
    folders = {im.folder for im in images if im.folder}
    folder_label = folder_classes(folders, n)
    out = [label_for(im, labels, folder_label, n) for im in images]
    report = LabelReport(
        file=labels.path if labels is not None else None,
        kind=labels.kind if labels is not None else None,
        unmapped=sorted(f for f in folders if is_wnid(f) and f not in folder_label),
    )
    for _, source in out:
        report.sources[source] = report.sources.get(source, 0) + 1
    if labels is None:
        return out, report
    report.notes.extend(labels.notes)
    report.unlabelled = [im.rel for im, (lab, _) in zip(images, out, strict=True) if lab is None]
    if labels.kind == "wnids":
        numbers = {val_number(im.name) for im in images} - {None}
        listed = len(labels.by_number)
        report.missing = [str(k) for k in range(1, listed + 1) if k not in numbers]
        if len(numbers) != listed:
            report.notes.append(
                f"{labels.shown}: {_plural(listed, 'WordNet id')} for "
                f"{_plural(len(numbers), 'ILSVRC2012_val_* image')} in the folder: each image "
                "takes the line of its number (ILSVRC2012_val_00000007 → line 7)"
            )
    else:
        known: set[str] = set()
        for im in images:
            known.update(labels.keys_of(im))
        report.missing = [k for k in labels.entries if k not in known]
    return out, report
