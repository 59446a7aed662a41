"""How many threads torch should use: the CPUs this process may run on (torch-free).

torch's default intra-op thread count is the machine's core count. That ignores the CPU
affinity mask (``taskset``, a scheduler's cpuset) and a container's CPU quota (cgroup v2
``cpu.max``, v1 ``cpu.cfs_quota_us``): a container limited to 2 CPUs on a 64-core host would
run 64 threads that wait on each other at every barrier. It also ignores other work on the
box: on a busy 2-core machine two threads that must meet at every parallel region crawl, one
thread does not (docs/perf.md, "Threads on a busy machine"). What is busy is sampled now
(/proc/stat over 150 ms), not taken from the 1-minute load average, which still counts a job
that ended a minute ago.

:func:`fit_threads` computes the count; :func:`configure` applies it — before torch is
imported through ``OMP_NUM_THREADS`` (torch reads it at start-up), after it through
``torch.set_num_threads``. Nothing here imports torch unless torch is already loaded.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: Environment variables that set the thread count of torch's OpenMP / MKL pools.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

_configured: int | None = None


def affinity_cpus() -> int:
    """CPUs in this process's affinity mask (all CPUs where the OS has no such mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _v2_limit(text: str) -> float | None:
    parts = text.split()
    if len(parts) >= 1 and parts[0] != "max":
        try:
            quota = float(parts[0])
            period = float(parts[1]) if len(parts) > 1 else 100_000.0
        except ValueError:
            return None
        if quota > 0 and period > 0:
            return quota / period
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def cgroup_cpu_limit(
    root: str | os.PathLike[str] = "/sys/fs/cgroup",
    proc_cgroup: str | os.PathLike[str] = "/proc/self/cgroup",
) -> float | None:
    """The CPU quota of this process's cgroup (and its parents) in CPUs, or None if unlimited.

    cgroup v2: ``cpu.max`` (``"200000 100000"`` = 2 CPUs, ``"max 100000"`` = none) of the
    process's group and each ancestor up to ``root``; the smallest wins. cgroup v1:
    ``cpu.cfs_quota_us / cpu.cfs_period_us`` of the ``cpu`` controller's group (-1 = none).
    """
    root = Path(root)
    lines = (_read(Path(proc_cgroup)) or "").splitlines()
    limits: list[float] = []
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _hid, controllers, rel = fields
        rel = rel.strip().lstrip("/")
        if controllers == "":  # v2 unified hierarchy
            base = root
            where = base / rel if rel else base
            while True:
                text = _read(where / "cpu.max")
                if text is not None:
                    limit = _v2_limit(text)
                    if limit is not None:
                        limits.append(limit)
                if where == base or base not in where.parents:
                    break
                where = where.parent
        elif "cpu" in controllers.split(","):  # v1
            for mount in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
                base = root / mount
                if not base.is_dir():
                    continue
                for where in (base / rel, base):  # inside a container the group is the root
                    quota = _read(where / "cpu.cfs_quota_us")
                    period = _read(where / "cpu.cfs_period_us")
                    try:
                        q, p = float(quota or "-1"), float(period or "0")
                    except ValueError:
                        continue
                    if q > 0 and p > 0:
                        limits.append(q / p)
                        break
                break
    return min(limits) if limits else None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by its cgroup's CPU quota
    (rounded down: threads beyond the quota are throttled while holding their peers up)."""
    cpus = affinity_cpus()
    limit = cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, max(1, math.floor(limit)))
    return max(1, cpus)


#: How long :func:`busy_cpus_now` watches /proc/stat (seconds): long enough for the kernel's
#: 10 ms accounting ticks to tell busy from idle, short enough to go unnoticed at start-up.
SAMPLE_SECONDS = 0.15
PROC_STAT = "/proc/stat"


def _cpu_line(text: str | None) -> tuple[float, float, int] | None:
    """(busy, total) jiffies of /proc/stat's ``cpu`` line and the number of ``cpuN`` lines;
    idle and iowait count as idle, guest time is already inside user/nice."""
    if not text:
        return None
    head, n = None, 0
    for line in text.splitlines():
        if line.startswith("cpu "):
            head = line
        elif line.startswith("cpu") and line[3:4].isdigit():
            n += 1
    if head is None:
        return None
    try:
        vals = [float(v) for v in head.split()[1:9]]
    except ValueError:
        return None
    if len(vals) < 4:
        return None
    total = sum(vals)
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)
    return total - idle, total, n


def busy_cpus_now(
    interval: float = SAMPLE_SECONDS,
    *,
    read: Callable[[], str | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    own: Callable[[], float] = time.process_time,
) -> float | None:
    """CPUs of the machine kept busy by other processes right now: two readings of
    /proc/stat ``interval`` apart (this process's own CPU time in between left out); None
    where /proc/stat cannot be read. Unlike the load average it forgets a job the moment it
    ends. ``read``, ``sleep`` and ``own`` are injectable for tests."""
    read = read or (lambda: _read(Path(PROC_STAT)))
    a, own0 = _cpu_line(read()), own()
    sleep(interval)
    b, own1 = _cpu_line(read()), own()
    if a is None or b is None or b[1] <= a[1]:
        return None
    cpus = b[2] or max(1, os.cpu_count() or 1)
    share = (b[0] - a[0]) / (b[1] - a[1])  # busy fraction of all the machine's CPUs
    mine = (own1 - own0) / interval if interval > 0 else 0.0
    return max(0.0, min(1.0, share) * cpus - mine)


def _busy_elsewhere(cpus: int) -> float:
    """Work of other processes on the CPUs we may use, scaled to our share of the machine:
    from a short sample of /proc/stat (:func:`busy_cpus_now`), or where that cannot be read
    the 1-minute load average (0 when neither is known)."""
    total = max(1, os.cpu_count() or 1)
    busy = busy_cpus_now()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    return busy * cpus / total


def fit_threads(*, load_aware: bool = True, cpus: int | None = None) -> int:
    """The torch thread count for this process: :func:`available_cpus` minus the CPUs other
    processes keep busy now (``load_aware``, :func:`_busy_elsewhere`), at least 1.

    The load part is what makes a busy shared box usable: with 2 CPUs and a load of 2 from
    others, two torch threads wait for each other at every barrier while one is descheduled;
    one thread runs at the speed of its share.
    """
    cpus = available_cpus() if cpus is None else max(1, int(cpus))
    if load_aware:
        free = cpus - _busy_elsewhere(cpus)
        cpus = min(cpus, max(1, math.floor(free + 0.5)))
    return max(1, cpus)


def env_threads() -> int | None:
    """A thread count the user set in ``OMP_NUM_THREADS`` (positive integer), else None."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def split(total: int, workers: int) -> int:
    """Threads per worker when ``workers`` share ``total`` CPUs (at least 1 each)."""
    return max(1, int(total) // max(1, int(workers)))


def configure(threads: int | None = None) -> int:
    """Set torch's thread count: ``threads`` (``--threads``), else ``OMP_NUM_THREADS`` if the
    user set it, else :func:`fit_threads`. Before torch is imported this only sets the
    environment (so it stays torch-free and also reaches subprocesses); after, it calls
    ``torch.set_num_threads``. Returns the count."""
    global _configured
    if threads is not None and threads < 1:
        from advtui.errors import AdvtuiError

        raise AdvtuiError(f"--threads must be at least 1 (got {threads})")
    n = threads or env_threads() or fit_threads()
    for name in THREAD_ENV:
        os.environ[name] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(n)
    _configured = n
    return n


def configured() -> int | None:
    """The count :func:`configure` last set (None if it was never called)."""
    return _configured


def keep_this_thread_serial(n: int | None = None) -> int:
    """Run the calling thread's own torch work on one thread, while threads that start later
    (the explorer's workers) keep ``n`` (default: the configured count); returns it. Call it from
    the explorer's UI thread once torch is imported, before that thread runs any tensor op.

    Under OpenMP every thread that runs torch in parallel owns a team of helper threads. The
    UI thread's team — made by its first small tensor op (a perturbation picture) and idle
    from then on — slowed every worker's attack and explanation about 2× on 2 cores
    (PGD-10 on EfficientNet-Lite0 in a worker thread: 1.55 s with it, 0.75 s without;
    docs/perf.md, *Keypress latency*). torch reads its shared count into each thread once, at
    that thread's first parallel op, and ``torch.set_num_threads`` sets both that shared
    count and the caller's own: so the caller is set to 1 and fixed there by one parallel
    op, then a short-lived thread puts the shared count back."""
    import threading

    import torch

    n = n or _configured or torch.get_num_threads()
    torch.set_num_threads(1)
    torch.ones(1 << 17).add_(1)  # this thread's first parallel op: it keeps 1 from now on
    restore = threading.Thread(target=torch.set_num_threads, args=(n,), name="advtui-threads")
    restore.start()
    restore.join()
    return n
