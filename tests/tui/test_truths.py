"""The explorer's true classes in every common ImageNet layout (the rule eval uses,
advtui.labels), ✓/✗ once predicted, the running top-1 / top-5 accuracy in the list's title,
and ``w``: only the misclassified. Pilot tests on a tiny injected CNN with ImageNet-1k's
1,000 classes; every image is a tiny generated file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from advtui.imagenet import imagenet_classes, imagenet_wnids, wnid_index
from advtui.tui.imagelist import ImageList

from .conftest import make_app, tiny_imagenet_classifier, wait_for

SIZE = (160, 50)
NAMES = imagenet_classes()
PICKED = ["n01440764", "n01514859", "n02123045", "n02391049", "n15075141"]


@pytest.fixture(scope="module")
def model():
    return tiny_imagenet_classifier(size=16)


def photo(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (24, 20), ((seed * 53) % 256, (seed * 29) % 256, (seed * 71) % 256)).save(path)
    return path


def top1(model, path: Path) -> int:
    from advtui.images import load_tensor

    return int(model.topk(load_tensor(path, model.input_size)[None], 1)[0][0]["index"])


def flat_synset_names(root: Path) -> dict[str, int]:
    truth = {}
    for k, w in enumerate(PICKED):
        name = f"{w}_{10026 + k}.JPEG"
        photo(root / name, k)
        truth[name] = wnid_index()[w]
    return truth


def synset_subset_tree(root: Path) -> dict[str, int]:
    truth = {}
    for k, w in enumerate(imagenet_wnids()[::50]):  # 20 of the 1,000 class folders
        rel = f"{w}/img_{k}.png"
        photo(root / rel, k)
        truth[rel] = wnid_index()[w]
    return truth


def loc_solution(root: Path) -> dict[str, int]:
    truth, lines = {}, ["ImageId,PredictionString"]
    for k, w in enumerate(PICKED, 1):
        stem = f"ILSVRC2012_val_{k:08d}"
        photo(root / f"{stem}.JPEG", k)
        truth[f"{stem}.JPEG"] = wnid_index()[w]
        lines.append(f"{stem},{w} 1 2 3 4")
    (root.parent / "LOC_val_solution.csv").write_text("\n".join(lines) + "\n")
    return truth


async def _listed(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.state.model is not None, what="model")
    await wait_for(pilot, lambda: app.state.listed, what="listing")
    await pilot.pause()


def _title(app) -> str:
    return str(app.query_one(ImageList).border_title)


async def _predict_all(pilot) -> None:
    app = pilot.app
    for i in range(len(app.state.entries)):
        if i:
            await pilot.press("j")
        key = (str(app.state.entries[i].path), app.state.model.name)
        await wait_for(pilot, lambda key=key: key in app.state.predictions, what="prediction")
    await pilot.pause()


@pytest.mark.parametrize(
    "layout", [flat_synset_names, synset_subset_tree, loc_solution], ids=lambda f: f.__name__
)
async def test_true_classes_verdicts_and_running_accuracy_in_every_layout(tmp_path, model, layout):
    root = tmp_path / "photos"
    truth = layout(root)
    labels = ["--labels", str(tmp_path / "LOC_val_solution.csv")] if layout is loc_solution else []
    app = make_app(str(root), *labels, classifier=model)
    async with app.run_test(size=SIZE) as pilot:
        await _listed(pilot)
        if labels:
            await wait_for(pilot, lambda: app.state.labels is not None, what="labels")
        images = app.query_one(ImageList)
        assert {e.rel: e.label for e in app.state.entries} == truth
        for i, e in enumerate(app.state.entries):
            assert e.truth == NAMES[truth[e.rel]]
            assert NAMES[truth[e.rel]][:10] in images.row_text(i).plain
        await _predict_all(pilot)
        hits1 = hits5 = 0
        for i, e in enumerate(app.state.entries):
            top = app.state.predictions[(str(e.path), "tiny")]
            right = top[0]["index"] == e.label
            hits1 += right
            hits5 += any(r["index"] == e.label for r in top)
            assert e.verdict == ("✓" if right else "✗")
            assert images.row_text(i).plain.rstrip().endswith(e.verdict)
        n = len(truth)
        want = f"images ({n}) · top-1 {hits1 / n:.0%} · top-5 {hits5 / n:.0%} of {n}"
        await wait_for(pilot, lambda: _title(app) == want, timeout=10, what=want)
        assert not [text for title, text in app.notices if title == "labels"]


async def test_the_title_counts_only_what_has_been_predicted_and_w_shows_the_misclassified(
    tmp_path, model
):
    """Labels made from the tiny model's own predictions: two right, two wrong. The title's
    accuracy follows the predictions as they come; ``w`` shows the ✗ rows only, ``/``
    still filters by true class, and ``w`` again shows them all."""
    root = tmp_path / "photos"
    paths = [photo(root / f"p{k}.png", k) for k in range(4)]
    preds = [top1(model, p) for p in paths]
    wrong = [(c + 1) % 1000 for c in preds]
    chosen = [preds[0], wrong[1], preds[2], wrong[3]]
    (tmp_path / "l.csv").write_text(
        "filename,class\n" + "".join(f"{p.name},{c}\n" for p, c in zip(paths, chosen, strict=True))
    )
    app = make_app(str(root), "--labels", str(tmp_path / "l.csv"), classifier=model)
    async with app.run_test(size=SIZE) as pilot:
        await _listed(pilot)
        await wait_for(pilot, lambda: app.state.entries[3].truth != "", what="true classes")
        images = app.query_one(ImageList)
        key = (str(paths[0]), "tiny")
        await wait_for(pilot, lambda: key in app.state.predictions, what="first prediction")
        await pilot.pause()
        want = "images (4) · top-1 100% · top-5 100% of 1"
        await wait_for(pilot, lambda: _title(app) == want, timeout=10, what=want)
        await pilot.press("j")
        key = (str(paths[1]), "tiny")
        await wait_for(pilot, lambda: key in app.state.predictions, what="second prediction")
        await wait_for(pilot, lambda: "top-1 50% ·" in _title(app), timeout=10, what="50%")
        assert _title(app).startswith("images (4) · top-1 50% ·")
        await pilot.press("g")
        await _predict_all(pilot)
        assert [e.verdict for e in app.state.entries] == ["✓", "✗", "✓", "✗"]
        assert _title(app).startswith("images (4) · top-1 50% ·")

        await pilot.press("w")
        await pilot.pause()
        assert images.rows == 2
        assert [images.item_at(r) for r in range(images.rows)] == [1, 3]
        assert app.state.current in (1, 3)
        word = "".join(ch for ch in NAMES[wrong[3]].lower().split()[0] if ch.isalpha())[:4]
        await pilot.press("slash", *word)  # / still filters by true class
        await pilot.pause()
        assert [images.item_at(r) for r in range(images.rows)] == [
            i for i in (1, 3) if word in app.state.entries[i].truth.lower()
        ]
        assert images.item_at(images.rows - 1) == 3
        await pilot.press("enter", "w")  # all rows again, the text filter kept
        await pilot.pause()
        assert not images.wrong_only
        assert 3 in [images.item_at(r) for r in range(images.rows)]
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert images.rows == 4


async def test_w_is_bound_and_documented_in_the_help_screen(tmp_path, model):
    from advtui.tui.screens import KEYS

    photo(tmp_path / "a.png", 1)
    app = make_app(str(tmp_path), classifier=model)
    assert any(b.key == "w" and b.action == "wrong_only" for b in app.BINDINGS)
    assert any(k == "w" and "misclassified" in what for k, what in KEYS)
    async with app.run_test(size=SIZE) as pilot:
        await _listed(pilot)
        await pilot.press("w")
        await pilot.pause()
        assert any("nothing to call misclassified" in text for _, text in app.notices)


async def test_a_labels_file_that_leaves_photos_out_says_so_once(tmp_path, model):
    root = tmp_path / "photos"
    for k in range(3):
        photo(root / f"p{k}.png", k)
    (tmp_path / "l.csv").write_text("p0.png,hen\ngone.png,tench\n")
    app = make_app(str(root), "--labels", str(tmp_path / "l.csv"), classifier=model)
    async with app.run_test(size=SIZE) as pilot:
        await _listed(pilot)
        await wait_for(pilot, lambda: app.state.entries[0].label == 8, what="labels")
        await pilot.pause()
        said = [text for title, text in app.notices if title == "labels"]
        assert len(said) == 2
        assert "2 photos it does not name (no true class): p1.png, p2.png" in said[0]
        assert "1 entry names no photo in the folder: gone.png" in said[1]
        assert [e.truth for e in app.state.entries] == ["hen", "", ""]


async def test_a_labels_file_with_a_typo_is_refused_in_a_notification(tmp_path, model):
    photo(tmp_path / "photos" / "a.png", 1)
    (tmp_path / "l.csv").write_text("a.png,henn\n")
    app = make_app(str(tmp_path / "photos"), "--labels", str(tmp_path / "l.csv"), classifier=model)
    async with app.run_test(size=SIZE) as pilot:
        await _listed(pilot)
        await wait_for(
            pilot, lambda: any(t == "labels" for t, _ in app.notices), what="the refusal"
        )
        said = [text for title, text in app.notices if title == "labels"]
        assert "`henn`: no such class; did you mean hen" in said[0]
        assert app.state.entries[0].label is None
