"""One writer per results folder: an exclusive OS lock on ``OUT/.advtui-lock``.

``advtui eval`` takes it before anything else touches the folder (before a Ray engine starts,
before the store opens) and holds it until the process ends. The lock is ``flock(2)`` on an
open file, so the kernel releases it when its holder dies however it dies (SIGKILL, out of
memory): a killed run never blocks its ``--resume``. A second run on the same folder, with or
without ``--resume``, is refused in one line naming the pid that holds it (the holder writes
its pid into the lock file). Taking it again in the process that holds it is a no-op (the CLI
takes it early, :func:`advtui.eval.loop.run_eval` again; the last to give it back releases
it). Torch-free.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from advtui.eval.dataset import EvalError

LOCK_FILE = ".advtui-lock"

_held: dict[str, list[int]] = {}  # realpath of the folder → [locked descriptor, holds]
_guard = threading.Lock()


def holder(out: str | os.PathLike[str]) -> int | None:
    """The pid written in ``OUT``'s lock file (None if none or unreadable)."""
    try:
        text = (Path(out) / LOCK_FILE).read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def lock_out(out: str | os.PathLike[str]) -> Path:
    """Create ``out`` if needed and lock it for this process; raises :class:`EvalError` naming
    the holder's pid when another process has it. Returns the lock file's path."""
    import fcntl

    from advtui.names import safe_name

    folder = Path(out).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return folder / LOCK_FILE  # the store's own checks name the problem
    key = os.path.realpath(folder)
    path = folder / LOCK_FILE
    with _guard:
        if key in _held:
            _held[key][1] += 1
            return path
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return path  # a read-only folder: the store's own checks name the problem
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pid = holder(folder)
            who = f"pid {pid}" if pid is not None else "another process"
            raise EvalError(
                f"--out {safe_name(folder)} is in use by another advtui eval ({who}); "
                "wait for it to end or stop it, or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held[key] = [fd, 1]
    return path


def unlock_out(out: str | os.PathLike[str]) -> None:
    """Give back one hold of :func:`lock_out`; the last releases the lock (the OS releases
    it anyway when the process ends)."""
    key = os.path.realpath(Path(out).expanduser())
    with _guard:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[key]
    os.close(entry[0])


@contextlib.contextmanager
def holding(out: str | os.PathLike[str]) -> Iterator[Path]:
    """:func:`lock_out` for the block (then :func:`unlock_out`)."""
    path = lock_out(out)
    try:
        yield path
    finally:
        unlock_out(out)
