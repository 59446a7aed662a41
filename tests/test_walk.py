"""The one walker (advtui.images.walk_images) the explorer and eval share: what counts as an
image, in which order, what is skipped and why (true classes: tests/test_labels.py)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from advtui.errors import ImageError
from advtui.images import (
    Found,
    Skipped,
    find_images,
    load_image,
    open_source,
    read_list,
    walk_images,
)
from advtui.names import safe_name


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def walk(root, **kw) -> tuple[list[str], list[Skipped]]:
    found, skipped = [], []
    for f in walk_images(root, **kw):
        (found if isinstance(f, Found) else skipped).append(f.rel if isinstance(f, Found) else f)
    return found, skipped


def test_flat_folder_in_name_order_case_insensitive_hidden_and_non_images_left_out(tmp_path):
    for name in ("b.JPG", "A.png", "c.txt", ".hidden.jpg", "a2.jpeg"):
        touch(tmp_path / name)
    (tmp_path / "dir.jpg").mkdir()  # a folder named like an image is a folder
    found, skipped = walk(tmp_path, recursive=False)
    assert found == ["A.png", "a2.jpeg", "b.JPG"]
    assert skipped == []


def test_tree_is_walked_depth_first_files_before_sub_folders_with_the_class_folder(tmp_path):
    touch(tmp_path / "top.jpg")
    touch(tmp_path / "n01443537" / "y.jpg")
    touch(tmp_path / "n01440764" / "x.JPEG")
    touch(tmp_path / "n01440764" / "deeper" / "z.png")
    touch(tmp_path / ".git" / "hidden.jpg")
    entries = [f for f in walk_images(tmp_path) if isinstance(f, Found)]
    assert [(f.rel, f.folder) for f in entries] == [
        ("top.jpg", ""),
        ("n01440764/x.JPEG", "n01440764"),
        ("n01440764/deeper/z.png", "deeper"),
        ("n01443537/y.jpg", "n01443537"),
    ]
    assert entries[1].path == os.path.join(str(tmp_path), "n01440764", "x.JPEG")
    assert entries[1].name == "x.JPEG"
    # not recursive: the root's own images only
    assert walk(tmp_path, recursive=False)[0] == ["top.jpg"]


def test_symlink_loops_are_reported_as_loops_and_skipped(tmp_path):
    touch(tmp_path / "fig.jpg")
    os.symlink("b.jpg", tmp_path / "a.jpg")
    os.symlink("a.jpg", tmp_path / "b.jpg")
    os.symlink("missing.jpg", tmp_path / "dangling.jpg")
    (tmp_path / "sub").mkdir()
    touch(tmp_path / "sub" / "s.jpg")
    os.symlink("..", tmp_path / "sub" / "up")  # a folder loop
    os.symlink("sub", tmp_path / "again")  # a second way into a folder already listed
    found, skipped = walk(tmp_path)
    assert found == ["fig.jpg", "sub/s.jpg"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["a.jpg"] == reasons["b.jpg"] == "symlink loop"
    assert reasons["dangling.jpg"] == "broken symlink"
    assert reasons["up"].startswith("symlink loop")
    assert str(skipped[0]).endswith(", skipped")
    # the shared rules see the same: find_images skips it, load_image says it is a loop
    assert [p.name for p in find_images(tmp_path)] == ["fig.jpg"]
    with pytest.raises(ImageError, match="symlink loop"):
        load_image(tmp_path / "a.jpg")


def test_any_bytes_in_names_are_listed_and_shown_escaped(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/bad\xffname\x1b[31m.jpg"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    (found,), _ = walk(tmp_path)
    assert found == "bad\udcffname\x1b[31m.jpg"  # surrogate-escaped, as os.fsdecode gives
    assert safe_name(found) == "bad\\xffname\\x1b[31m.jpg"
    assert os.path.exists(next(f for f in walk_images(tmp_path)).path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_sub_folder_is_skipped_with_the_reason(tmp_path):
    touch(tmp_path / "ok.jpg")
    locked = tmp_path / "locked"
    touch(locked / "x.jpg")
    locked.chmod(0)
    try:
        found, skipped = walk(tmp_path)
    finally:
        locked.chmod(0o755)
    assert found == ["ok.jpg"]
    assert "permission denied" in skipped[0].reason


def test_root_errors_are_one_line(tmp_path):
    with pytest.raises(ImageError, match="no such folder"):
        list(walk_images(tmp_path / "nope"))
    with pytest.raises(ImageError, match="not a folder"):
        list(walk_images(touch(tmp_path / "f.jpg")))


def test_the_walk_is_lazy_and_stops_on_the_event(tmp_path):
    for i in range(3):
        touch(tmp_path / f"d{i}" / "x.jpg")
    stop = threading.Event()
    gen = walk_images(tmp_path, stop=stop)
    first = next(gen)
    assert first.rel == "d0/x.jpg"  # yielded before the other folders were listed
    stop.set()
    assert list(gen) == []


def test_a_huge_flat_folder_is_listed_without_a_stat_or_open_per_file(tmp_path, monkeypatch):
    for i in range(3000):
        (tmp_path / f"{i:05d}.jpg").touch()
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k))
    monkeypatch.setattr("builtins.open", lambda *a, **k: calls.append(a))
    found, _ = walk(tmp_path)
    assert len(found) == 3000 and found[0] == "00000.jpg" and found[-1] == "02999.jpg"
    assert len(calls) < 5  # the root only, not one per file


def test_list_file_keeps_order_skips_comments_and_resolves_relative_paths(tmp_path):
    touch(tmp_path / "imgs" / "a.jpg")
    absolute = touch(tmp_path / "elsewhere" / "b.png")
    lst = tmp_path / "list.txt"
    lst.write_bytes(
        b"# my picks\n\nimgs/a.jpg\r\n" + os.fsencode(str(absolute)) + b"\nimgs/odd\xff.jpg\n"
    )
    entries = list(read_list(lst))
    assert [e.rel for e in entries] == ["imgs/a.jpg", str(absolute), "imgs/odd\udcff.jpg"]
    assert entries[0].path == os.path.join(str(tmp_path), "imgs/a.jpg")
    assert entries[1].path == str(absolute) and entries[1].folder == "elsewhere"
    with pytest.raises(ImageError, match="cannot read"):
        list(read_list(tmp_path / "missing.txt"))
    with pytest.raises(ImageError, match="not a text file"):
        list(read_list(touch(tmp_path / "x.bin", b"\x00\x01")))


def test_open_source_opens_a_folder_or_an_image_in_its_folder(tmp_path):
    img = touch(tmp_path / "photo.jpg")
    assert open_source(tmp_path) == (tmp_path, None)
    assert open_source(img) == (tmp_path, img)
    with pytest.raises(ImageError, match="no such file"):
        open_source(tmp_path / "gone.jpg")
    with pytest.raises(ImageError, match="--list"):
        open_source(touch(tmp_path / "paths.txt"))


def _in_process(root=None, list_file=None, recursive=True, stop=None):
    from advtui.walk import walk_in_process

    found, skipped, batches = [], [], [0]
    error = walk_in_process(
        root,
        list_file,
        recursive,
        lambda path, rel, folder: found.append((path, rel, folder)),
        skipped.append,
        lambda: batches.__setitem__(0, batches[0] + 1),
        stop or threading.Event(),
    )
    return found, skipped, error, batches[0]


def test_the_walk_process_yields_what_the_walker_yields_for_any_name(tmp_path):
    """The explorer's child process reports exactly the walker's records, in order, for names
    with undecodable bytes, newlines and escapes, with loops skipped and escaped."""
    odd = [b"caf\xe9.jpg", b"new\nline.jpg", b"\x1b]0;PWNED\x07t.jpg", b"plain.png"]
    for raw in odd:
        touch(Path(os.fsdecode(os.fsencode(str(tmp_path / "sub")) + b"/" + raw)))
    touch(tmp_path / "a.jpg")
    os.symlink("y.jpg", tmp_path / "x.jpg")
    os.symlink("x.jpg", tmp_path / "y.jpg")
    expected = [(f.path, f.rel, f.folder) for f in walk_images(tmp_path) if isinstance(f, Found)]
    found, skipped, error, batches = _in_process(tmp_path)
    assert error is None and batches >= 1
    assert found == expected and len(found) == 5
    assert sorted(skipped) == sorted(
        str(f) for f in walk_images(tmp_path) if isinstance(f, Skipped)
    )
    assert all("symlink loop" in s and "\x1b" not in s for s in skipped) and len(skipped) == 2
    flat, _, _, _ = _in_process(tmp_path, recursive=False)
    assert [rel for _, rel, _ in flat] == ["a.jpg"]


def test_the_walk_process_reports_a_missing_root_and_a_bad_list_in_one_line(tmp_path):
    found, _, error, _ = _in_process(tmp_path / "nope")
    assert found == [] and error == f"{safe_name(tmp_path / 'nope')}: no such folder"
    binary = touch(tmp_path / "list.txt", b"\0\1\2")
    _, _, error, _ = _in_process(list_file=binary)
    assert error is not None and "not a text file" in error
    lst = touch(tmp_path / "l.txt", b"a.jpg\n# comment\n./b.jpg\n")
    found, _, error, _ = _in_process(list_file=lst)
    assert error is None and [rel for _, rel, _ in found] == ["a.jpg", "./b.jpg"]
    assert found[1][0] == str(tmp_path / "b.jpg")


def test_the_walk_process_stops_when_told(tmp_path):
    """A stop kills the child even while it is blocked (a FIFO list nobody writes)."""
    fifo = tmp_path / "list"
    os.mkfifo(fifo)
    stop = threading.Event()
    result: list = []
    walker = threading.Thread(target=lambda: result.append(_in_process(list_file=fifo, stop=stop)))
    walker.start()
    time.sleep(0.3)
    assert walker.is_alive()  # blocked on the FIFO
    stop.set()
    walker.join(10)
    assert not walker.is_alive(), "the walk did not stop"
    found, _, error, _ = result[0]
    assert found == [] and error is None


def test_the_walk_process_runs_nothing_from_the_current_folder(tmp_path, monkeypatch):
    """The child is isolated: a ``json.py`` (or any module name) in the folder the explorer
    was started from is never imported, and a folder named like a flag is a folder."""
    here = tmp_path / "cwd"
    marker = tmp_path / "ran"
    touch(here / "json.py", f"open({str(marker)!r}, 'w').close()\n".encode())
    touch(here / "--flat" / "a.jpg")
    monkeypatch.chdir(here)
    found, _, error, _ = _in_process(Path("--flat"))
    assert error is None and [(p, rel) for p, rel, _ in found] == [("--flat/a.jpg", "a.jpg")]
    assert not marker.exists(), "the walk ran json.py from the current folder"


def test_a_walk_process_that_dies_is_reported_in_one_line(tmp_path, monkeypatch):
    """A child that ends without finishing (killed, crashed) gives one line, not a traceback."""
    import advtui.walk

    monkeypatch.setattr(
        advtui.walk,
        "_command",
        lambda *a: [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"],
    )
    found, _, error, _ = _in_process(tmp_path)
    assert found == [] and error == "listing failed: the walk process was killed by signal 9"
