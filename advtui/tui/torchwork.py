"""One thread for all of the explorer's torch work.

Under OpenMP (torch's CPU backend) every thread that runs torch in parallel keeps a team of
helper threads for the rest of its life, and Textual's thread workers are the threads of one
reused pool. libgomp counts every team's threads; once there are more of them than CPUs it
"throttles": a helper spins about 100 times instead of ~3 ms before it sleeps between
parallel regions, and a network of many small regions (EfficientNet's) then pays a futex
wake-up for each. On 2 cores one idle team beside the working one made PGD-10 in a worker
2.1× slower (1.55 s against 0.75 s; docs/perf.md, *Keypress latency*). So the explorer runs
its model loads, predictions, attacks, explanations and saves here, on one thread whose team
is the only one (the UI thread's own tensor ops run serially:
:func:`advtui.threads.keep_this_thread_serial`). The Textual worker that asked waits for the
result, so cancellation (the ``stop`` events the calls take), progress messages and errors work
as before; a call made from this thread runs at once (no deadlock).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_LOCK = threading.Lock()
_EXECUTOR: ThreadPoolExecutor | None = None
_THREAD: list[threading.Thread] = []
NAME = "advtui-torch"


def run(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the torch thread; its result or its exception."""
    global _EXECUTOR
    if threading.current_thread().name.startswith(NAME):
        return fn(*args, **kwargs)
    with _LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix=NAME)
        executor = _EXECUTOR
    return executor.submit(fn, *args, **kwargs).result()


def thread_name() -> str:
    """The name of the thread :func:`run` uses (for tests: ``advtui-torch_0``)."""
    return f"{NAME}_0"
