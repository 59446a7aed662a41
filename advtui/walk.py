"""The walker: the one rule for what counts as an image in a folder, a tree or a list file,
and the same walk in a process of its own for the explorer's listing of a big folder.

:func:`walk_images` and :func:`read_list` serve eval, the CLI and the explorer. This module
imports neither numpy nor PIL (nor torch), so its child process starts in a few tens of ms.

``python -m advtui.walk [--flat] -- ROOT`` or ``python -m advtui.walk --list FILE`` runs
:func:`walk_images` (or :func:`read_list`) and writes what it finds to stdout as JSON lines,
in batches (the explorer starts it isolated, see :func:`walk_in_process`):

* ``{"found": [[path, rel, folder], ...]}`` — images, in walk order;
* ``{"skipped": ["why", ...]}`` — what the walk could not use, already escaped for display;
* ``{"error": "one line"}`` — the root (or list) itself cannot be read;
* ``{"done": true}`` — the walk finished.

Names travel with ``ensure_ascii`` JSON, which round-trips the lone surrogates that stand
for undecodable file-name bytes, so any name a filesystem allows arrives unchanged.

Why a process: walking and sorting 50,000 names is ~0.2 s of Python, and in a thread it
competes for the GIL with the UI thread (and with the model's import) for about a second,
so keys lagged while a big folder filled. In a process of its own it runs on another core;
the explorer only decodes the batches (:func:`walk_in_process`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from advtui.errors import ImageError
from advtui.names import safe_name

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})


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


def why_unusable(path: str) -> str:
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
                yield Skipped(e.path, why_unusable(e.path))
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
        path = os.fspath(Path(base, os.path.expanduser(line)))  # one spelling: ./a.jpg → a.jpg
        folder = os.path.basename(os.path.dirname(os.path.normpath(path)))
        yield Found(path, line, folder)


def is_wnid(name: str) -> bool:
    return bool(WNID.match(name))


#: A batch is written when it holds this many records or is this old (seconds).
BATCH = 1000
INTERVAL = 0.05


def _records(root: str | None, list_file: str | None, recursive: bool) -> Iterator[dict]:
    found: list[list[str]] = []
    skipped: list[str] = []
    last = time.monotonic()
    try:
        items = read_list(list_file) if list_file else walk_images(root or ".", recursive=recursive)
        for f in items:
            if isinstance(f, Found):
                found.append([f.path, f.rel, f.folder])
            else:
                skipped.append(str(f))
            now = time.monotonic()
            if len(found) >= BATCH or now - last >= INTERVAL:
                last = now
                if found:
                    yield {"found": found}
                if skipped:
                    yield {"skipped": skipped}
                found, skipped = [], []
    except ImageError as exc:
        yield {"error": str(exc)}
    if found:
        yield {"found": found}
    if skipped:
        yield {"skipped": skipped}
    yield {"done": True}


def main(argv: list[str] | None = None) -> int:
    """``python -m advtui.walk [--flat] [--list FILE | -- ROOT]``: records on stdout."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m advtui.walk")
    p.add_argument("--flat", action="store_true", help="this folder only, no sub-folders")
    p.add_argument("--list", help="read the paths from this list file instead of walking")
    p.add_argument("root", nargs="?", default=".", help="the folder to walk")
    a = p.parse_args(argv)
    parent = os.getppid()
    out = sys.stdout
    try:
        for record in _records(a.root, a.list, not a.flat):
            out.write(json.dumps(record, ensure_ascii=True) + "\n")
            out.flush()
            if os.getppid() != parent:  # the explorer died (killed): nobody reads on
                return 0
    except (BrokenPipeError, KeyboardInterrupt):  # the explorer went away: stop quietly
        return 0
    return 0


class ChildUnavailable(OSError):
    """No child process can be started here: the caller walks in a thread instead."""


def _command(root: Path | None, list_file: Path | None, recursive: bool) -> list[str]:
    """The child's command line: isolated (``-I``: neither the current folder nor PYTHON*
    variables on its path, so no ``json.py`` lying in the user's folder is ever run), with
    this advtui's own folder put first; names after ``--`` (a folder called ``--flat``)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    boot = (
        f"import sys; sys.path.insert(0, {here!r}); from advtui.walk import main; sys.exit(main())"
    )
    cmd = [sys.executable, "-I", "-c", boot, *([] if recursive else ["--flat"])]
    if list_file is not None:
        return [*cmd, "--list", os.fspath(list_file)]
    return [*cmd, "--", os.fspath(root or ".")]


def walk_in_process(
    root: Path | None,
    list_file: Path | None,
    recursive: bool,
    found: Callable[[str, str, str], None],
    skipped: Callable[[str], None],
    batch_done: Callable[[], None],
    stop: threading.Event,
) -> str | None:
    """Run the walk in a child process, calling ``found``/``skipped`` for each record and
    ``batch_done`` after each batch; returns the error line, or None.

    ``stop`` kills the child at once (even while it waits on a slow mount). Raises
    :class:`ChildUnavailable` when no child can be started (a frozen app, no interpreter):
    nothing has been reported then, so the caller can walk in a thread instead.
    """
    import tempfile

    if getattr(sys, "frozen", False) or not sys.executable:
        raise ChildUnavailable("no Python interpreter to run the walk in")
    # stderr to a file, read at the end: a chatty child never blocks on a full pipe
    errfile = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(
            _command(root, list_file, recursive),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errfile,
        )
    except OSError as exc:
        errfile.close()
        raise ChildUnavailable(str(exc)) from exc
    finished = threading.Event()

    def watch() -> None:  # stop (the App quits, or the folder changes) kills the child
        while not finished.wait(0.05):
            if stop.is_set():
                proc.kill()
                return

    watcher = threading.Thread(target=watch, name="advtui-walk-watch", daemon=True)
    watcher.start()
    error: str | None = None
    done = False
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if stop.is_set():
                break
            try:
                record = json.loads(line)
            except ValueError:  # a line cut short: the child died while writing it
                break
            if "found" in record:
                for path, rel, folder in record["found"]:
                    found(path, rel, folder)
            for why in record.get("skipped", ()):
                skipped(why)
            if "error" in record:
                error = record["error"]
            done = done or bool(record.get("done"))
            batch_done()
    finally:
        finished.set()
        if proc.poll() is None and (stop.is_set() or not done):
            proc.kill()
        proc.stdout.close()
        proc.wait()
        errfile.seek(0)
        err = errfile.read().decode("utf-8", "replace").strip().splitlines()
        errfile.close()
    if not done and not stop.is_set() and error is None:
        code = proc.returncode
        if err:
            last = safe_name(err[-1])
        elif code is not None and code < 0:
            last = f"the walk process was killed by signal {-code}"
        else:
            last = f"the walk process ended with exit status {code}"
        error = f"listing failed: {last}"
    return error


if __name__ == "__main__":
    sys.exit(main())
