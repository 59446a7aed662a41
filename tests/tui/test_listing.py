"""The explorer opens what users have, at their scale: trees with true classes, one image,
``--list``, filters and jumps, a list that grows under the cursor, symlink loops, and big
folders listed without decoding them (Pilot tests on a tiny injected model)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import advtui.images
import advtui.tui.app
import advtui.walk
from advtui.cli import build_app
from advtui.eval.dataset import collect_items
from advtui.tui.imagelist import MARK_FAILED, ImageList
from advtui.tui.state import DECODED_LIMIT
from tests.conftest import make_tiny_classifier

from .conftest import wait_for

SIZE = (120, 40)
WNIDS = [f"n0{1440764 + 7 * i:07d}" for i in range(10)]  # the tiny model has 10 classes


@pytest.fixture
def tiny(monkeypatch):
    """The explorer loads this tiny CNN instead of the real model (fast, no weights)."""
    model = make_tiny_classifier(10, size=16)
    monkeypatch.setattr(advtui.tui.app, "load_model_cached", lambda config: model)
    return model


@pytest.fixture(scope="module")
def thumb(tmp_path_factory, sample_paths) -> Path:
    """A real photo as a 32-pixel JPEG: cheap to hard-link thousands of times."""
    path = tmp_path_factory.mktemp("thumb") / "thumb.jpg"
    with Image.open(sample_paths[0]) as im:
        im.convert("RGB").resize((32, 32)).save(path, quality=85)
    return path


def link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.link(src, dst)
    return dst


@pytest.fixture
def walk_in_thread(monkeypatch):
    """The walk runs in the explorer's thread, as when no child process can be started (the
    fallback), so that a test can slow it down by patching ``advtui.images.walk_images``."""

    def no_child(*args, **kwargs):
        raise advtui.walk.ChildUnavailable("no child processes here")

    monkeypatch.setattr(advtui.walk, "walk_in_process", no_child)


@pytest.fixture
def tree(tmp_path, thumb) -> Path:
    """An ImageNet-style tree: 10 synset folders (all the tiny model's classes), 2 files each."""
    root = tmp_path / "val"
    for wnid in WNIDS:
        for k in range(2):
            link(thumb, root / wnid / f"ILSVRC2012_val_{wnid}_{k}.JPEG")
    return root


def app_for(*args: str):
    return build_app(["--device", "cpu", "--steps", "2", *args])


async def listed(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.state.listed, what="listing")
    await wait_for(pilot, lambda: app.state.model is not None, what="model")
    await pilot.pause()


async def test_tree_shows_true_classes_and_a_tick_or_cross_once_predicted(tree, tiny):
    app = app_for(str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        images = app.query_one(ImageList)
        assert len(app.state.entries) == 20
        for e in app.state.entries:
            assert e.label == WNIDS.index(e.folder)  # sorted synsets = class order
            assert e.truth == f"class {e.label}"
        assert "class 0" in images.row_text(0).plain
        visited = [0, 1, 2, 3]
        for _ in visited[1:]:
            await pilot.press("j")
            await pilot.pause()
        for i in visited:
            key = (str(app.state.entries[i].path), "tiny")
            await wait_for(pilot, lambda key=key: key in app.state.predictions, what="prediction")
        await pilot.pause()
        for i in visited:
            e = app.state.entries[i]
            top1 = app.state.predictions[(str(e.path), "tiny")][0]["index"]
            assert e.verdict == ("✓" if top1 == e.label else "✗")
            assert images.row_text(i).plain.rstrip().endswith(e.verdict)
        assert app.state.entries[10].verdict == ""  # not predicted yet: no verdict


async def test_eval_and_the_explorer_agree_on_the_same_tree(tree, tiny):
    items = collect_items(tree, tiny.class_names)
    app = app_for(str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        shown = [(e.rel, e.label, Path(e.path)) for e in app.state.entries]
    assert shown == [(it.image, it.label, it.path) for it in items]
    assert {it.label_source for it in items} == {"folder"}


async def test_a_single_image_opens_its_folder_with_that_image_selected(tmp_path, thumb, tiny):
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        link(thumb, tmp_path / name)
    link(thumb, tmp_path / "sub" / "e.jpg")  # an image's folder is not walked as a tree
    app = app_for(str(tmp_path / "c.jpg"))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        assert app.config.folder == tmp_path
        assert [e.rel for e in app.state.entries] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
        assert app.state.current == 2 and app.state.current_entry.path == tmp_path / "c.jpg"
        assert app.query_one(ImageList).highlighted == 2
        await wait_for(pilot, lambda: app.state.current_entry.image is not None, what="decode")


async def test_list_file_lists_its_paths_in_order_and_marks_a_missing_one(tmp_path, thumb, tiny):
    link(thumb, tmp_path / "x" / "one.jpg")
    two = link(thumb, tmp_path / "y" / "two.jpg")
    lst = tmp_path / "picks.txt"
    lst.write_text(f"# picks\ny/two.jpg\n{tmp_path / 'x' / 'one.jpg'}\ngone.jpg\n")
    app = app_for("--list", str(lst))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        assert [e.path for e in app.state.entries] == [
            two,
            tmp_path / "x/one.jpg",
            tmp_path / "gone.jpg",
        ]
        await pilot.press("G")
        await wait_for(pilot, lambda: app.state.entries[2].error is not None, what="missing file")
        assert "no such file" in app.state.entries[2].error
        assert app.query_one(ImageList).mark(2) == MARK_FAILED
        assert app.is_running


async def test_slash_filters_by_name_or_class_and_esc_clears(tree, tiny):
    app = app_for(str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        images = app.query_one(ImageList)
        await pilot.press("slash", "c", "l", "a", "s", "s", "space", "3")
        await pilot.pause()
        assert images.filter == "class 3"
        assert images.rows == 2
        assert {app.state.entries[images.item_at(r)].label for r in range(2)} == {3}
        assert (
            app.state.current == images.highlighted
            and app.state.entries[app.state.current].label == 3
        )
        assert app.state.job is None  # typed letters ("a", "s") went to the filter, not the app
        await pilot.press("enter", "j")  # Enter keeps the filter; j moves within it
        await pilot.pause()
        assert images.rows == 2 and app.state.entries[app.state.current].label == 3
        kept = app.state.current
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert images.rows == 20 and images.filter == ""
        assert app.state.current == kept  # clearing the filter keeps the image
        await pilot.press("slash", *"_1.JPEG", "enter")  # by name
        await pilot.pause()
        assert images.rows == 10
        assert all(app.state.entries[images.item_at(r)].rel.endswith("_1.JPEG") for r in range(10))


async def test_g_and_G_and_home_end_jump(tree, tiny):
    app = app_for(str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pilot.press("G")
        await pilot.pause()
        assert app.state.current == 19
        await pilot.press("g")
        await pilot.pause()
        assert app.state.current == 0
        await pilot.press("end")
        await pilot.pause()
        assert app.state.current == 19
        await pilot.press("home", "j", "j")
        await pilot.pause()
        assert app.state.current == 2


async def test_the_cursor_stays_on_its_image_while_the_list_grows(
    tmp_path, thumb, tiny, monkeypatch, walk_in_thread
):
    for i in range(30):
        link(thumb, tmp_path / f"{i:02d}.jpg")
    gate = threading.Event()
    real_walk = advtui.images.walk_images

    def slow_walk(root, **kw):
        for n, f in enumerate(real_walk(root, **kw)):
            if n == 5:
                gate.wait(30)
            yield f

    monkeypatch.setattr(advtui.images, "walk_images", slow_walk)
    app = app_for(str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(app.state.entries) == 5, what="first files")
        assert not app.state.listed
        assert "…" in str(app.query_one(ImageList).border_title)
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert app.state.current == 3
        gate.set()
        await listed(pilot)
        assert len(app.state.entries) == 30
        assert app.state.current == 3 and app.query_one(ImageList).highlighted == 3
        assert app.state.current_entry.rel == "03.jpg"
        assert str(app.query_one(ImageList).border_title) == "images (30)"


async def test_q_quits_mid_walk_in_the_thread(tmp_path, thumb, tiny, monkeypatch, walk_in_thread):
    link(thumb, tmp_path / "a.jpg")
    stopped = threading.Event()
    real_walk = advtui.images.walk_images

    def endless(root, stop=None, **kw):
        yield from real_walk(root, stop=stop, **kw)
        while not stop.wait(0.01):  # a walk that never ends unless stopped
            pass
        stopped.set()

    monkeypatch.setattr(advtui.images, "walk_images", endless)
    app = app_for(str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(app.state.entries) == 1, what="first file")
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert stopped.wait(5), "the walk was not told to stop"


def _has_reader(fifo: Path) -> bool:
    """Whether some process has ``fifo`` open for reading (opening it to write then works)."""
    import errno

    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        assert exc.errno == errno.ENXIO, exc
        return False
    os.close(fd)
    return True


async def test_q_quits_while_the_walk_process_waits_and_the_process_is_killed(tmp_path, tiny):
    """The walk's child process blocks (here on a --list that is a FIFO nobody writes, as on a
    stalled mount): the explorer still quits at once, and the child is gone."""
    fifo = tmp_path / "list.txt"
    os.mkfifo(fifo)
    app = app_for("--list", str(fifo))
    async with app.run_test(size=SIZE) as pilot:
        # once the child has opened the list, hold the FIFO open for writing, writing
        # nothing: its read stays blocked (a writer that closes would end the read, and the
        # child would exit by itself, so no probe may open and close it before this)
        writers: list[int] = []

        def open_writer() -> bool:
            try:
                writers.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                return False
            return True

        await wait_for(pilot, open_writer, what="the walk to open the list")
        writer = writers[0]
        try:
            await pilot.pause(0.3)
            assert not app.state.listed and app.state.entries == []
            assert "listing" in str(app.query_one(ImageList).border_title)
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running
            deadline = time.monotonic() + 5
            while _has_reader(fifo) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert not _has_reader(fifo), "the walk's child process still reads the list"
        finally:
            os.close(writer)


async def test_a_symlink_loop_in_the_folder_is_skipped_with_a_note(tmp_path, thumb, tiny):
    link(thumb, tmp_path / "fig.jpg")
    link(thumb, tmp_path / "sub" / "espresso.jpg")
    os.symlink("b.jpg", tmp_path / "a.jpg")
    os.symlink("a.jpg", tmp_path / "b.jpg")
    os.symlink("..", tmp_path / "sub" / "loop")
    app = app_for(str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        assert [e.rel for e in app.state.entries] == ["fig.jpg", "sub/espresso.jpg"]
        notes = " ".join(m for _, m in app.notices)
        assert "a.jpg: symlink loop, skipped" in notes
        assert "loop: symlink loop" in notes
        await pilot.press("j", "a")  # the folder still works
        await wait_for(pilot, lambda: app.state.current_outcome is not None, what="attack")


async def test_a_big_folder_is_listed_without_decoding_it(tmp_path, thumb, tiny, monkeypatch):
    for i in range(5000):
        link(thumb, tmp_path / f"img_{i:05d}.jpg")
    decoded: list[str] = []
    real_load = advtui.images.load_image

    def counting(path, *a, **k):
        decoded.append(str(path))
        return real_load(path, *a, **k)

    monkeypatch.setattr(advtui.images, "load_image", counting)
    app = app_for(str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        assert len(app.state.entries) == 5000
        images = app.query_one(ImageList)
        on_screen = images.visible_items()
        await wait_for(
            pilot,
            lambda: all(app.state.entries[i].scanned for i in on_screen),
            what="marks on screen",
        )
        quiet = ("predict", "background")
        await wait_for(
            pilot,
            lambda: not any(w.is_running for w in app.workers if w.group in quiet),
            what="prediction and SHAP warm-up",
        )
        first = len(decoded)
        # the rows on screen, a few around the cursor, SHAP's background of 8, the prediction
        assert first <= len(on_screen) + 40
        await pilot.press("G")
        await wait_for(pilot, lambda: app.state.current_entry.image is not None, what="last image")
        await pilot.press(*["k"] * 40)
        await wait_for(pilot, lambda: app.state.current_entry.image is not None, what="image")
        await pilot.pause(0.3)
        assert len(decoded) < 3 * (len(on_screen) + 40)
        assert len({d for d in decoded}) < 500
        held = sum(e.image is not None for e in app.state.entries)
        assert held <= DECODED_LIMIT  # decoded crops are an LRU, not one per file


async def test_worker_messages_that_arrive_while_quitting_are_dropped(tmp_path, thumb, tiny):
    """Workers keep posting (a batch of the walk, a decoded file, a notice) while the app
    shuts down: messages that arrive when the screens are gone must not end the app with a
    traceback (``q`` while a big folder was still listed did)."""
    from advtui.tui import messages as msg

    link(thumb, tmp_path / "a.jpg")
    app = app_for(str(tmp_path))
    done = threading.Event()

    def keep_posting() -> None:
        while not done.is_set():
            app.post_message(msg.ImageScanned(0, None, "gone"))
            app.post_message(msg.ListGrew())
            app.post_message(msg.Notice("late", title="late"))
            time.sleep(0.0005)

    poster = threading.Thread(target=keep_posting, daemon=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await listed(pilot)
            poster.start()
            await pilot.pause(0.2)
    finally:
        done.set()
        poster.join(5)
    assert not app.is_running  # and run_test raised nothing the app hit while closing


async def test_an_imagenet_tree_shows_true_classes_before_the_model_has_loaded(
    tmp_path, thumb, monkeypatch
):
    """A 1,000-class tree shows each image's true class (the built-in models' ImageNet-1k
    names) as soon as it is listed, without waiting for the model; when the model that
    loads has other classes, the mapping is taken back and the user told why."""
    from advtui.imagenet import imagenet_classes

    root = tmp_path / "val"
    wnids = [f"n{10000000 + c:08d}" for c in range(1000)]
    for w in wnids:
        link(thumb, root / w / f"{w}.JPEG")
    gate = threading.Event()
    model = make_tiny_classifier(10, size=16)

    def slow_model(config):
        gate.wait(60)
        return model

    monkeypatch.setattr(advtui.tui.app, "load_model_cached", slow_model)
    app = app_for(str(root))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.state.listed, what="listing")
            await wait_for(pilot, lambda: app.state.entries[-1].label == 999, what="true classes")
            assert app.state.model is None
            names = imagenet_classes()
            assert [e.truth for e in app.state.entries[:2]] == [names[0], names[1]]
            assert app.state.entries[-1].truth == names[999]
            gate.set()
            await wait_for(pilot, lambda: app.state.model is not None, what="model")
            await wait_for(
                pilot, lambda: app.state.entries[0].label is None, what="mapping taken back"
            )
            assert (
                app.state.entries[0].truth == wnids[0] and app.state.entries[-1].truth == wnids[-1]
            )
            assert any("1000 ImageNet class folders" in text for _, text in app.notices)
    finally:
        gate.set()


@pytest.mark.parametrize(
    ("layout", "in_child"), [("flat small", False), ("with a sub-folder", True), ("big", True)]
)
async def test_small_folders_are_walked_at_once_big_ones_in_the_child(
    tmp_path, thumb, tiny, monkeypatch, layout, in_child
):
    """A small flat folder is listed in the explorer's thread (no child start-up before the
    first row); a tree, or a folder of more than SMALL_FOLDER entries, in the child process.
    Either way the same rows."""
    from advtui.tui.jobs import SMALL_FOLDER

    root = tmp_path / "imgs"
    n = {"flat small": 3, "with a sub-folder": 3, "big": SMALL_FOLDER + 1}[layout]
    for i in range(n):
        link(thumb, root / f"{i:05d}.jpg")
    if layout == "with a sub-folder":
        link(thumb, root / "sub" / "x.jpg")
    calls, real = [], advtui.walk.walk_in_process

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(advtui.walk, "walk_in_process", spy)
    app = app_for(str(root))
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        assert len(app.state.entries) == n + (layout == "with a sub-folder")
        assert app.state.entries[0].rel == "00000.jpg"
    assert bool(calls) == in_child
