"""True classes from every common ImageNet layout (advtui.labels), exact or refused: the
shipped WordNet ids, class folders (any subset), synset-prefixed file names, Kaggle's
LOC_val_solution.csv, the one-WordNet-id-per-line validation ground truth, and the labels
file's mistakes (a typo, a conflict, a photo it does not name, an entry naming no photo).

Every image here is a tiny generated file; eval runs a tiny random CNN with 1,000 outputs
(ImageNet-1k's names), so ImageNet's labels apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from advtui.cli import main
from advtui.errors import LabelError
from advtui.eval.config import EvalConfig
from advtui.eval.dataset import EvalError, collect_items
from advtui.eval.loop import run_eval
from advtui.imagenet import imagenet_classes, imagenet_wnids, wnid_index
from advtui.labels import ClassNames, folder_classes, label_all, name_class, read_labels
from advtui.walk import Found

NAMES = imagenet_classes()
#: (WordNet id, class index, class name): known ImageNet-1k facts, not read from the list
KNOWN = [
    ("n01440764", 0, "tench"),
    ("n01443537", 1, "goldfish"),
    ("n01514668", 7, "cock"),
    ("n01514859", 8, "hen"),
    ("n02085620", 151, "Chihuahua"),
    ("n02099601", 207, "golden retriever"),
    ("n02123045", 281, "tabby"),
    ("n02391049", 340, "zebra"),
    ("n02504458", 386, "African elephant"),
    ("n07742313", 948, "Granny Smith"),
    ("n15075141", 999, "toilet tissue"),
]


def tiny1000():
    """A tiny random CNN with ImageNet-1k's 1,000 classes (names in index order)."""
    import torch

    from advtui.models import Classifier
    from tests.conftest import TinyNet

    torch.manual_seed(0)
    return Classifier(
        TinyNet(1000),
        name="tiny",
        input_size=16,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        class_names=NAMES,
    ).eval()


@pytest.fixture(scope="module")
def tiny():
    return tiny1000()


def photo(path: Path, seed: int = 0) -> Path:
    """A 24-pixel generated picture (JPEG or PNG by its suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (24, 20), ((seed * 37) % 256, (seed * 91) % 256, 128)).save(path)
    return path


def found(rel: str) -> Found:
    folder = rel.rsplit("/", 2)[-2] if "/" in rel else ""
    return Found("/data/" + rel, rel, folder)


# ----------------------------------------------------------------------------- the ids
def test_the_shipped_wordnet_ids_are_imagenet_1k_in_class_index_order():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and len(set(wnids)) == 1000
    assert list(wnids) == sorted(wnids)  # sorted order = index, as torchvision's ImageFolder
    assert all(len(w) == 9 and w[0] == "n" and w[1:].isdigit() for w in wnids)
    for wnid, index, name in KNOWN:
        assert wnids[index] == wnid and NAMES[index] == name
        assert wnid_index()[wnid] == index


def test_the_ids_ship_as_package_data():
    text = Path(__file__).resolve().parents[1].joinpath("pyproject.toml").read_text()
    assert "imagenet_wnids.txt" in text


# ----------------------------------------------------------------------------- exact classes
def test_a_class_is_named_exactly_by_index_name_or_wordnet_id():
    c = ClassNames(NAMES)
    assert c.resolve(8) == c.resolve("8") == c.resolve("hen") == c.resolve("n01514859") == 8
    assert c.resolve(" golden retriever ") == 207


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("henn", "`henn`: no such class; did you mean hen"),
        ("tigr", "did you mean tiger"),
        ("cok", "did you mean cock"),
        ("Tench", "did you mean tench"),
        ("zebra-unicorn", "no such class (none of the 1,000 names is close)"),
        ("1000", "out of range 0..999"),
        ("n00000001", "not one of the 1,000 ImageNet-1k WordNet ids"),
        (True, "not a class"),
    ],
)
def test_near_misses_are_refused_with_the_candidates(value, needle):
    with pytest.raises(LabelError) as err:
        ClassNames(NAMES).resolve(value)
    assert needle in str(err.value)


def test_a_wordnet_id_on_a_model_of_other_classes_and_a_shared_name_are_refused():
    with pytest.raises(LabelError, match="not ImageNet-1k's"):
        ClassNames([f"class {i}" for i in range(10)]).resolve("n01440764")
    with pytest.raises(LabelError, match="names classes 1, 2: give the index"):
        ClassNames(["a", "crane", "crane"]).resolve("crane")


# ----------------------------------------------------------------------------- the rules
def test_wordnet_id_folders_map_for_any_subset_and_the_full_tree_rule_stays():
    some = ["n15075141", "n01440764", "n02123045", "cats"]
    assert folder_classes(some, 1000) == {"n01440764": 0, "n02123045": 281, "n15075141": 999}
    # another model's convention: all its n_classes synset folders, sorted order = index
    assert folder_classes(["n01443537", "n01440764", "other"], 2) == {
        "n01440764": 0,
        "n01443537": 1,
    }
    assert folder_classes(["n01440764"], 10) == {}
    # 1,000 folders named like WordNet ids that ImageNet-1k does not know: the full-tree rule
    fake = [f"n{10000000 + c:08d}" for c in range(1000)]
    assert folder_classes(fake, 1000)[fake[999]] == 999


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("n01440764_10026.JPEG", 0),
        ("n01440764_tench.JPEG", 0),
        ("n15075141.png", 999),
        ("n02123045-tabby.jpg", 281),
        ("n0144076_x.jpg", None),  # seven digits
        ("n014407640_x.jpg", None),  # nine digits
        ("xn01440764.jpg", None),
        ("n00000001_x.jpg", None),  # not an ImageNet-1k id
    ],
)
def test_file_names_that_start_with_a_wordnet_id_name_their_class(name, index):
    assert name_class(name, 1000) == index
    assert name_class(name, 10) is None  # not an ImageNet-1k model


def test_the_labels_file_comes_first_then_the_folder_then_the_file_name(tmp_path):
    (tmp_path / "l.csv").write_text("n01440764/a.jpg,7\nb.jpg,hen\n")
    labels = read_labels(tmp_path / "l.csv", NAMES)
    images = [
        found("n01440764/a.jpg"),  # the file says 7 (cock), the folder 0
        found("n01440764/b.jpg"),  # the file names it by its name: 8
        found("n01440764/n01443537_c.jpg"),  # folder (0) before the file name (1)
        found("n01443537_d.jpg"),
        found("e.jpg"),
    ]
    out, report = label_all(images, NAMES, labels)
    assert out == [
        (7, "labels"),
        (8, "labels"),
        (0, "folder"),
        (1, "filename"),
        (None, "clean-top1"),
    ]
    assert report.unlabelled == ["e.jpg"] and report.missing == []


# ----------------------------------------------------------------------------- file formats
def test_a_csv_may_hold_name_space_class_lines_as_caffes_val_txt(tmp_path):
    p = tmp_path / "val.txt"
    p.write_text("ILSVRC2012_val_00000001.JPEG 65\nILSVRC2012_val_00000002.JPEG 970\n")
    assert read_labels(p, NAMES).entries == {
        "ILSVRC2012_val_00000001.JPEG": 65,
        "ILSVRC2012_val_00000002.JPEG": 970,
    }


def test_kaggle_loc_val_solution_names_images_without_their_extension(tmp_path):
    p = tmp_path / "LOC_val_solution.csv"
    p.write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000002,n15075141 1 2 30 40 n15075141 5 6 70 80\n"
        "ILSVRC2012_val_00000001,n01514859 10 20 100 200\n"
    )
    labels = read_labels(p, NAMES)
    assert labels.kind == "loc" and labels.entries == {
        "ILSVRC2012_val_00000002": 999,
        "ILSVRC2012_val_00000001": 8,
    }
    out, _ = label_all(
        [found("ILSVRC2012_val_00000001.JPEG"), found("val/ILSVRC2012_val_00000002.JPEG")],
        NAMES,
        labels,
    )
    assert out == [(8, "labels"), (999, "labels")]


def test_a_loc_line_without_a_prediction_is_refused_naming_the_line(tmp_path):
    p = tmp_path / "LOC_val_solution.csv"
    p.write_text("ImageId,PredictionString\nILSVRC2012_val_00000001,\n")
    with pytest.raises(LabelError, match="line 2 needs ImageId,PredictionString"):
        read_labels(p, NAMES)


def test_one_wordnet_id_a_line_labels_ilsvrc2012_val_images_by_their_number(tmp_path):
    p = tmp_path / "val_gt.txt"
    p.write_text("n01514859\nn15075141\nn01440764\n")
    labels = read_labels(p, NAMES)
    assert labels.kind == "wnids" and labels.by_number == (8, 999, 0)
    images = [found(f"ILSVRC2012_val_0000000{k}.JPEG") for k in (1, 2, 3)]
    out, report = label_all(images, NAMES, labels)
    assert [lab for lab, _ in out] == [8, 999, 0] and report.notes == []
    # two images for three lines: one line says so; the images keep their own lines
    out, report = label_all(images[1:], NAMES, labels)
    assert [lab for lab, _ in out] == [999, 0]
    assert len(report.notes) == 1
    assert "3 WordNet ids for 2 ILSVRC2012_val_* images in the folder" in report.notes[0]


def test_a_wordnet_id_list_on_a_model_of_other_classes_is_refused(tmp_path):
    p = tmp_path / "val_gt.txt"
    p.write_text("n01514859\n")
    with pytest.raises(LabelError, match="not ImageNet-1k's"):
        read_labels(p, [f"class {i}" for i in range(10)])


# ----------------------------------------------------------------------------- mistakes
def test_a_typo_is_refused_with_its_line_and_the_candidate(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("filename,class\na.jpg,hen\nb.jpg,henn\nc.jpg,tigr\n")
    with pytest.raises(LabelError) as err:
        read_labels(p, NAMES)
    msg = str(err.value)
    assert "line 3: b.jpg: `henn`: no such class; did you mean hen" in msg
    assert "(and 1 more problem)" in msg


def test_two_classes_for_one_name_are_refused_naming_both_lines(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("a.jpg,hen\nb.jpg,0\na.jpg,cock\n")
    with pytest.raises(LabelError) as err:
        read_labels(p, NAMES)
    assert "a.jpg has two classes: line 1 says 8 (hen), line 3 says 7 (cock)" in str(err.value)
    j = tmp_path / "l.json"
    j.write_text('{"a.jpg": "hen", "a.jpg": 7}')
    with pytest.raises(LabelError, match="entry 1 says 8 \\(hen\\), entry 2 says 7 \\(cock\\)"):
        read_labels(j, NAMES)


def test_a_repeated_line_with_the_same_class_is_kept_once_and_said(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("a.jpg,hen\na.jpg,8\na.jpg,n01514859\n")
    labels = read_labels(p, NAMES)
    assert labels.entries == {"a.jpg": 8}
    assert labels.notes == [
        f"--labels {p}: 2 names given twice with the same class, kept once: "
        "a.jpg (line 1, line 2), a.jpg (line 1, line 3)"
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a.jpg\n", "line 1 needs two columns: name,class"),
        ("a.jpg,0\nn01440764\n", "line 2 holds only a WordNet id"),
        ("# nothing\n\n", "no labels found"),
        ("filename,class\n", "no labels found"),
    ],
)
def test_malformed_labels_files_are_one_line_errors(tmp_path, text, needle):
    p = tmp_path / "l.csv"
    p.write_text(text)
    with pytest.raises(LabelError, match=needle):
        read_labels(p, NAMES)


# ----------------------------------------------------------------------------- eval, end to end
def _layout(kind: str, root: Path) -> tuple[dict[str, int], str | None]:
    """Build a folder of one layout: {relative path: true class}, and the labels file."""
    picked = [w for w, _, _ in KNOWN]
    truth: dict[str, int] = {}
    labels = None
    if kind == "synset-prefixed files":
        for k, w in enumerate(picked):
            name = f"{w}_{10026 + k}.JPEG" if k % 2 else f"{w}_{NAMES[wnid_index()[w]]}.png"
            photo(root / name, k)
            truth[name] = wnid_index()[w]
    elif kind == "20 synset folders":
        for k, w in enumerate(imagenet_wnids()[::50]):  # 20 of the 1,000, a subset
            rel = f"{w}/ILSVRC2012_val_{k:08d}.JPEG"
            photo(root / rel, k)
            truth[rel] = wnid_index()[w]
    elif kind == "LOC_val_solution.csv":
        lines = ["ImageId,PredictionString"]
        for k, w in enumerate(picked, 1):
            name = f"ILSVRC2012_val_{k:08d}"
            photo(root / f"{name}.JPEG", k)
            truth[f"{name}.JPEG"] = wnid_index()[w]
            lines.append(f"{name},{w} 1 2 30 40 {w} 5 6 7 8")
        labels = str(root.parent / "LOC_val_solution.csv")
        # in another order than the images: matched by name, not by position
        Path(labels).write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    elif kind == "one WordNet id a line":
        for k, w in enumerate(picked, 1):
            name = f"ILSVRC2012_val_{k:08d}.JPEG"
            photo(root / name, k)
            truth[name] = wnid_index()[w]
        labels = str(root.parent / "ILSVRC2012_validation_ground_truth.txt")
        Path(labels).write_text("\n".join(picked) + "\n")
    return truth, labels


def _run(tiny, folder: Path, out: Path, labels: str | None, notes: list[str]):
    cfg = EvalConfig(
        folder=str(folder),
        out=str(out),
        labels=labels,
        targets=["untargeted"],
        eps=["8/255"],
        steps=1,
        nsamples=2,
        batch_size=8,
        detectors=["confidence"],
        folds=2,
        plots=False,
    )
    return run_eval(cfg, tiny, note=notes.append)


@pytest.mark.parametrize(
    "kind",
    ["synset-prefixed files", "20 synset folders", "LOC_val_solution.csv", "one WordNet id a line"],
)
def test_eval_labels_every_photo_right_in_every_common_layout(tiny, tmp_path, kind):
    truth, labels = _layout(kind, tmp_path / "photos")
    notes: list[str] = []
    run = _run(tiny, tmp_path / "photos", tmp_path / "out", labels, notes)
    clean = {r["image"]: r for r in run.store.rows if r["variant"] == "clean"}
    assert {k: r["label"] for k, r in clean.items()} == truth
    source = {"synset-prefixed files": "filename", "20 synset folders": "folder"}.get(
        kind, "labels"
    )
    assert {r["label_source"] for r in clean.values()} == {source}
    assert notes == []  # nothing left out, nothing to say
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["labels"]["sources"] == {source: len(truth)}
    assert summary["labels"]["unlabelled"] == summary["labels"]["missing"] == 0


def test_eval_says_when_the_wordnet_id_list_and_the_images_do_not_count_alike(tiny, tmp_path):
    truth, labels = _layout("one WordNet id a line", tmp_path / "photos")
    last = sorted(truth)[-1]
    (tmp_path / "photos" / last).unlink()
    del truth[last]
    notes: list[str] = []
    run = _run(tiny, tmp_path / "photos", tmp_path / "out", labels, notes)
    clean = {r["image"]: r["label"] for r in run.store.rows if r["variant"] == "clean"}
    assert clean == truth
    assert notes == [
        f"--labels {labels}: {len(KNOWN)} WordNet ids for {len(KNOWN) - 1} ILSVRC2012_val_* "
        "images in the folder: each image takes the line of its number "
        "(ILSVRC2012_val_00000007 → line 7)"
    ]


def test_eval_counts_and_reports_unnamed_photos_and_entries_naming_no_photo(
    tiny, tmp_path, monkeypatch, capsys
):
    """A photo the labels file does not name is left out of the eval, said in one line and
    counted in summary.json; so is an entry that names no photo in the folder."""
    folder = tmp_path / "photos"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        photo(folder / name)
    labels = tmp_path / "labels.csv"
    labels.write_text("a.jpg,hen\nb.jpg,n01440764\ngone.jpg,tench\n")
    monkeypatch.setattr("advtui.cli.common.load_model_from_args", lambda args: tiny)
    out = tmp_path / "out"
    argv = ["eval", str(folder), "--out", str(out), "--labels", str(labels), "--no-plots"]
    argv += ["--targets", "untargeted", "--nsamples", "2", "--detectors", "confidence"]
    code = main([*argv, "--folds", "2", "--steps", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    err = captured.err.splitlines()
    assert (
        f"advtui eval: note: --labels {labels}: 1 photo it does not name (not evaluated): c.jpg"
        in err
    )
    assert (
        f"advtui eval: note: --labels {labels}: 1 entry names no photo in the folder: gone.jpg"
        in err
    )
    assert "1 unlabelled (not evaluated)" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"] | {"file": None} == {
        "file": None,
        "format": "csv",
        "sources": {"labels": 2, "clean-top1": 1},
        "unlabelled": 1,
        "unlabelled_examples": ["c.jpg"],
        "missing": 1,
        "missing_examples": ["gone.jpg"],
        "notes": [],
    }
    assert summary["images"]["photos"] + summary["images"]["misclassified"] <= 2
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["image"] for r in rows} == {"a.jpg", "b.jpg"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a.jpg,henn\n", "line 1: a.jpg: `henn`: no such class; did you mean hen"),
        ("a.jpg,hen\na.jpg,cock\n", "line 1 says 8 (hen), line 2 says 7 (cock)"),
        ("a.jpg,unicorn\n", "`unicorn`: no such class"),
    ],
)
def test_eval_refuses_a_labels_file_with_a_mistake_in_one_line(
    tiny, tmp_path, monkeypatch, capsys, text, needle
):
    photo(tmp_path / "photos" / "a.jpg")
    (tmp_path / "l.csv").write_text(text)
    monkeypatch.setattr("advtui.cli.common.load_model_from_args", lambda args: tiny)
    argv = ["eval", str(tmp_path / "photos"), "--out", str(tmp_path / "o")]
    code = main([*argv, "--labels", str(tmp_path / "l.csv")])
    err = capsys.readouterr().err
    assert code == 2 and needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_folders_named_like_wordnet_ids_imagenet_does_not_know_need_labels(tmp_path):
    photo(tmp_path / "n00000001" / "a.jpg")
    photo(tmp_path / "n01440764" / "b.jpg")
    with pytest.raises(EvalError, match="1 folder named like WordNet ids but not ImageNet-1k"):
        collect_items(tmp_path, NAMES)
