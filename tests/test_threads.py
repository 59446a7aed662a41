"""The default thread count follows what is busy *now* (a /proc/stat sample), not the
1-minute load average that still counts a job which just ended. Readings are injected."""

from __future__ import annotations

import pytest

from advtui import threads


def _stat(busy: int, idle: int, iowait: int = 0, cpus: int = 2) -> str:
    """A /proc/stat whose ``cpu`` line has ``busy`` user jiffies and ``idle`` + ``iowait``."""
    lines = [f"cpu  {busy} 0 0 {idle} {iowait} 0 0 0 0 0"]
    lines += [f"cpu{i} 0 0 0 0 0 0 0 0 0 0" for i in range(cpus)]
    return "\n".join(lines + ["intr 0", "ctxt 0"]) + "\n"


def _reader(*texts):
    it = iter(texts)
    return lambda: next(it)


def _sample(*texts, own=(0.0, 0.0), interval=0.15):
    clock = iter(own)
    return threads.busy_cpus_now(
        interval, read=_reader(*texts), sleep=lambda _s: None, own=lambda: next(clock)
    )


def test_a_sample_counts_the_busy_share_of_every_cpu():
    # 2 CPUs over the sample: 30 jiffies busy, 30 idle (iowait counts as idle) → 1 CPU busy
    got = _sample(_stat(1000, 5000, 100), _stat(1030, 5020, 110))
    assert got == pytest.approx(1.0)
    assert _sample(_stat(1000, 5000), _stat(1000, 5030)) == pytest.approx(0.0)  # idle now
    assert _sample(_stat(1000, 5000), _stat(1030, 5000)) == pytest.approx(2.0)  # both busy


def test_the_sample_leaves_out_this_process_own_cpu_time():
    # 1 CPU busy in all, 0.15 s of it ours over the 0.15 s sample: nobody else is busy
    got = _sample(_stat(1000, 5000), _stat(1015, 5015), own=(2.0, 2.15))
    assert got == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("texts", [(None, None), ("garbage\n", "garbage\n"), (_stat(5, 5),) * 2])
def test_an_unreadable_or_still_stat_gives_no_reading(texts):
    assert _sample(*texts) is None


def test_a_job_that_just_ended_does_not_halve_the_threads(monkeypatch):
    """The issue's case: an idle 2-CPU machine a minute after another job ended — the load
    average still says 1.9, the CPUs say idle — gets both threads; a busy CPU still costs one."""
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.9, 1.0, 0.5))
    monkeypatch.setattr(threads, "busy_cpus_now", lambda: 0.05)
    assert threads.fit_threads() == 2
    monkeypatch.setattr(threads, "busy_cpus_now", lambda: 1.0)  # one CPU busy elsewhere now
    assert threads.fit_threads() == 1
    monkeypatch.setattr(threads, "busy_cpus_now", lambda: None)  # no /proc/stat: load average
    assert threads.fit_threads() == 1


def test_the_busy_share_is_scaled_to_the_cpus_we_may_use(monkeypatch):
    """On a 16-CPU host with 4 CPUs for us, 8 busy CPUs elsewhere cost us half of ours."""
    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(threads, "busy_cpus_now", lambda: 8.0)
    assert threads.fit_threads() == 2
