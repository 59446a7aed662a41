"""SIGTERM and SIGHUP handled like SIGINT, and signals held back while a set of files is written.

A cluster scheduler, ``timeout`` or ``docker stop`` sends SIGTERM; a closed terminal or SSH
session sends SIGHUP. :func:`installed` makes both raise :class:`Terminated` — a
:class:`KeyboardInterrupt`, so every ``except KeyboardInterrupt`` that keeps a run's rows and
says how to resume it handles them too — and the CLI exits with 128 + the signal's number
(143, 129; 130 for Ctrl-C), as a shell reports a process ended by it.

:func:`deferred` holds SIGINT, SIGTERM and SIGHUP back while a set of files is written
(:func:`advtui.outputs.write_set`): the set is finished and swapped in, then the first signal
that came is raised. Both only act in the main thread (Python delivers signals there); in
another thread they do nothing. Torch-free.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: the signals a run treats as "stop now, keep what is stored"
STOP_SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None
)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived (``signum``); a KeyboardInterrupt so that Ctrl-C's handling
    (rows kept, ``interrupted``, the resume line) applies unchanged."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def signal_name(exc: BaseException) -> str:
    """``SIGTERM`` / ``SIGHUP`` for a :class:`Terminated`, ``Ctrl-C`` otherwise."""
    signum = getattr(exc, "signum", None)
    return "Ctrl-C" if signum is None else signal.Signals(signum).name


def _raise(signum: int, _frame) -> None:
    raise Terminated(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread inside the block (the
    handlers before it are restored after it)."""
    if not _main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS if s != signal.SIGINT}
    for signum in before:
        signal.signal(signum, _raise)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def interrupt_for(signum: int) -> KeyboardInterrupt:
    """The exception a signal becomes: KeyboardInterrupt for SIGINT, else Terminated."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then raise the first that came
    (nothing if none did). Nested blocks hold until the outermost ends."""
    if not _main_thread():
        yield
        return
    got: list[int] = []
    before = {}
    for signum in STOP_SIGNALS:
        before[signum] = signal.getsignal(signum)
        signal.signal(signum, lambda s, _f: got.append(s))
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    if got:
        first = got[0]
        handler = before.get(first)
        if callable(handler) and handler not in (signal.default_int_handler, _raise):
            handler(first, None)  # an outer deferred block: it records the signal
        else:
            raise interrupt_for(first)
