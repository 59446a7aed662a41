"""The explorer's torch work runs on one thread (advtui.tui.torchwork), and its UI thread's
own tensor ops run serially while later threads keep the configured count
(advtui.threads.keep_this_thread_serial): docs/perf.md, *Keypress latency*."""

from __future__ import annotations

import threading

import pytest
import torch

from advtui import threads
from advtui.tui import torchwork


def test_torch_work_runs_on_one_thread_returns_raises_and_nests():
    names = {torchwork.run(lambda: threading.current_thread().name) for _ in range(3)}
    assert names == {torchwork.thread_name()}
    assert torchwork.run(pow, 2, 10) == 1024
    with pytest.raises(ZeroDivisionError):
        torchwork.run(lambda: 1 / 0)
    # a call made from the torch thread runs at once instead of waiting for itself
    assert torchwork.run(lambda: torchwork.run(lambda: threading.current_thread().name)) == (
        torchwork.thread_name()
    )


def test_the_calling_thread_runs_serially_and_later_threads_keep_the_count():
    def here(out: list[int]) -> None:
        torch.ones(1 << 17).add_(1)  # a thread takes torch's count at its first parallel op
        out.append(torch.get_num_threads())

    main: list[int] = []

    def ui_thread() -> None:  # a fresh thread stands in for the UI thread
        torch.set_num_threads(2)
        assert threads.keep_this_thread_serial(2) == 2
        here(main)

    t = threading.Thread(target=ui_thread)
    t.start()
    t.join()
    later: list[int] = []
    t = threading.Thread(target=here, args=(later,))
    t.start()
    t.join()
    assert main == [1] and later == [2]
