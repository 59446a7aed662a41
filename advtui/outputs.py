"""Whole results or none: write a set of files into a folder so a kill leaves the old set or the new.

:func:`write_set` is the one writer of every set of result files: ``attack --out``,
``explain --out``, the explorer's ``s`` and eval's final files (summary.json, detector.json,
the plots). ``write(staging)`` writes the new set into a temporary folder; only when it has
returned are the files swapped in, with SIGINT/SIGTERM/SIGHUP held back meanwhile
(:func:`advtui.signals.deferred`). A kill (SIGKILL, out of memory, power) before that leaves the
previous complete set untouched and a stale ``.advtui-new-…`` folder that the next write into
the same place removes.

Two ways to swap, chosen by what the folder holds:

* a folder that is new, empty or holds only files of an earlier set (the names the caller
  says such a set may hold, ``owned``) is replaced whole: the new set is staged
  in a sibling folder and exchanged with it in one ``renameat2(RENAME_EXCHANGE)`` (Linux), or,
  where that is missing, two renames (between which, for an instant, only the sibling holds
  the old set); the old set is then deleted;
* a folder with other files (eval's ``--out``, which also holds results.jsonl) keeps them: the
  set is staged inside it, a journal naming the files is written atomically, and the files are
  renamed in one by one. A kill during those renames (microseconds) leaves the journal, and
  :func:`recover` — run by the next write into the folder and by ``eval`` when it starts —
  finishes them, so the folder never stays a mix. Files of an earlier set (``owned``) that
  the new one lacks are removed with the swap.

Torch-free.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from advtui.signals import deferred

T = TypeVar("T")

#: the journal of a per-file commit in progress (see :func:`recover`)
JOURNAL = ".advtui-commit"
_STAGE = ".advtui-new-"
_OLD = ".advtui-old-"
_RENAME_EXCHANGE = 2


def _tag(target: Path) -> str:
    """A short name for ``target`` (temporary folder names stay short whatever its length)."""
    return hashlib.sha1(os.fsencode(target.name)).hexdigest()[:10]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clear_stale(folder: Path, prefix: str) -> None:
    """Remove ``prefix<pid>-…`` folders left by processes that are gone."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        if not p.name.startswith(prefix):
            continue
        pid = p.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the two paths atomically (Linux renameat2); False where it is not supported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _names(staging: Path) -> list[str]:
    return sorted(p.name for p in staging.iterdir())


def write_set(
    target: str | os.PathLike[str],
    write: Callable[[Path], T],
    *,
    owned: Iterable[str] = (),
) -> T:
    """Run ``write(staging)`` to write a set of files, then swap them into folder ``target``.

    ``write`` gets an empty temporary folder and writes the whole set into it (plain file names,
    no sub-folders); its return value is returned, with every path under the staging folder
    mapped to the same name in ``target``. ``owned`` names every file an earlier set of this
    kind may hold: those the new set lacks are deleted with the swap (a map of an earlier
    ``--explain``, detector.json when this run fits none), and a folder that holds only such
    files is replaced whole. An exception (or a signal) in ``write`` leaves ``target`` as it
    was."""
    owned = set(owned)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{_tag(target)}-"
    _clear_stale(target.parent, _STAGE)
    if target.is_dir():
        recover(target)
        _clear_stale(target, _STAGE)
    whole = _replaceable(target, owned)
    where = target.parent if whole else target
    if not whole:
        target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGE}{os.getpid()}-{tag}", dir=where))
    swapped = False
    try:
        with deferred():  # a signal from here on waits until the set is in place
            result = write(staging)
            names = _names(staging)
            if whole:
                _fsync_dir(staging)
                _swap_folder(staging, target)
            else:
                _commit_files(staging, target, names, owned - set(names))
            swapped = True
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if swapped and isinstance(exc, KeyboardInterrupt):  # the signal held back: say which
            exc.saved = str(target)  # type: ignore[attr-defined]
        raise
    return _moved(result, staging, target)


def save_set(
    target: str | os.PathLike[str], write: Callable[[Path], T], *, owned: Iterable[str] = ()
) -> T:
    """:func:`write_set` for a result folder the user named: a write that fails raises an
    :class:`~advtui.errors.OutputError` that names the file (or the folder) and says the
    folder's previous contents are unchanged."""
    from advtui.errors import OutputError
    from advtui.names import safe_name

    try:
        return write_set(target, write, owned=owned)
    except OSError as exc:
        why = (exc.strerror or type(exc).__name__).lower()
        name = Path(str(exc.filename)).name if exc.filename else ""
        what = f"{safe_name(target)}/{safe_name(name)}" if name else safe_name(target)
        if name.startswith(_STAGE) or name.startswith("."):  # a temporary name: the folder
            what = safe_name(target)
        raise OutputError(
            f"cannot save to {what}: {why} (what the folder held before is unchanged)"
        ) from None


def _replaceable(target: Path, owned: set[str]) -> bool:
    """Whether ``target`` may be replaced whole: absent, empty, or only an earlier set's files."""
    if not target.exists():
        return True
    if not target.is_dir() or target.is_symlink():
        return False
    try:
        entries = list(target.iterdir())
    except OSError:
        return False
    return all(p.name in owned and p.is_file() and not p.is_symlink() for p in entries)


def _swap_folder(staging: Path, target: Path) -> None:
    if not target.exists():
        try:
            os.rename(staging, target)
            _fsync_dir(target.parent)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    if _exchange(staging, target):  # staging now holds the old set
        _fsync_dir(target.parent)
        shutil.rmtree(staging, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f"{_OLD}{os.getpid()}-", dir=target.parent))
    os.rename(target, old / "set")
    os.rename(staging, target)
    _fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def _commit_files(staging: Path, target: Path, names: list[str], drop: set[str]) -> None:
    from advtui.images import atomic_write_bytes

    journal = {"staging": staging.name, "names": names, "remove": sorted(drop)}
    atomic_write_bytes(target / JOURNAL, (json.dumps(journal) + "\n").encode())
    _fsync_dir(staging)
    recover(target)


def recover(folder: str | os.PathLike[str]) -> bool:
    """Finish a per-file commit a kill interrupted in ``folder`` (True if there was one)."""
    folder = Path(folder)
    try:
        journal = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        (folder / JOURNAL).unlink(missing_ok=True)
        return False
    staging = folder / str(journal.get("staging", ""))
    for name in journal.get("names", []):
        src = staging / name
        if src.exists():
            os.replace(src, folder / name)
    for name in journal.get("remove", []):
        if "/" not in name:
            (folder / name).unlink(missing_ok=True)
    _fsync_dir(folder)
    (folder / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    return True


def _moved(result, staging: Path, target: Path):
    """``result`` with paths under ``staging`` mapped to ``target`` (lists, dicts, paths)."""
    if isinstance(result, Path):
        try:
            return target / result.relative_to(staging)
        except ValueError:
            return result
    if isinstance(result, list):
        return [_moved(r, staging, target) for r in result]
    if isinstance(result, tuple):
        return tuple(_moved(r, staging, target) for r in result)
    if isinstance(result, dict):
        return {k: _moved(v, staging, target) for k, v in result.items()}
    return result


__all__ = ["JOURNAL", "recover", "save_set", "write_set"]
