"""Timing and reporting helpers shared by the benchmark scripts.

Every figure is a ratio against a reference measured in the same run, with the two timed
interleaved and each taken as the minimum over repeats: the minimum is the least disturbed by
other processes, and interleaving exposes both sides to the same machine state.

Ratios use CPU time (``time.process_time``, all threads of this process) by default: on a
shared machine wall time swings 2× between identical runs while CPU time, the work done,
barely moves. Wall times are printed alongside. With ``--device cuda`` (work runs
asynchronously on the GPU) the clock is wall time after ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

#: "cpu" (process CPU time) or "wall"; benchmarks/run.py sets it from --clock / --device.
CLOCK = {"name": "cpu", "cuda": False}


class Timing(NamedTuple):
    wall: float
    cpu: float

    @property
    def value(self) -> float:
        """The time on the clock the ratios use."""
        return self.cpu if CLOCK["name"] == "cpu" else self.wall


@dataclass
class Figure:
    """One measured figure: ``value`` (ours) against ``ref`` (the reference), lower is better."""

    name: str
    value: float | None
    ref: float | None = None
    ref_name: str = ""
    unit: str = "s"
    target: float | None = None  # on the ratio (or on the value when ref is None)
    note: str = ""
    wall: tuple[float, float] | None = None  # (ours, ref) wall seconds, shown when ratio is CPU
    clock: str | None = None  # the clock of value/ref when unit is "s" (default: CLOCK)

    @classmethod
    def timed(cls, name: str, ours: Timing, ref: Timing | None, ref_name: str = "", **kw):
        """A figure from two :class:`Timing` values (ratio on the configured clock)."""
        return cls(
            name,
            ours.value,
            None if ref is None else ref.value,
            ref_name,
            wall=None if ref is None or CLOCK["name"] == "wall" else (ours.wall, ref.wall),
            clock=CLOCK["name"],
            **kw,
        )

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.ref:
            return None
        return self.value / self.ref

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        checked = self.ratio if self.ref is not None else self.value
        return None if checked is None else checked <= self.target

    def line(self) -> str:
        if self.value is None:
            return f"{self.name:<34} n/a ({self.note})"
        parts = [f"{self.name:<34}"]
        if self.ratio is not None:
            parts.append(f"{self.ratio:6.2f}× {self.ref_name}")
            clock = f"{self.clock or CLOCK['name']} " if self.unit == "s" else ""
            text = f"({clock}{fmt(self.value, self.unit)} vs {fmt(self.ref, self.unit)}"
            if self.wall:
                text += f"; wall {fmt(self.wall[0], 's')} vs {fmt(self.wall[1], 's')}"
            parts.append(text + ")")
        else:
            parts.append(fmt(self.value, self.unit))
        if self.target is not None:
            unit = "×" if self.ref is not None else f" {self.unit}"
            parts.append(f"target ≤ {self.target:g}{unit}: {'ok' if self.ok else 'MISS'}")
        if self.note:
            parts.append(f"[{self.note}]")
        return "  ".join(parts)

    def to_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "ok": self.ok}


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.3g} {unit}"


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int = 3, warmup: int = 1
) -> dict[str, Timing]:
    """Minimum wall and CPU time of each callable over ``repeats`` rounds, run in turn."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    best = {name: Timing(float("inf"), float("inf")) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync()
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            _sync()
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            best[name] = Timing(min(best[name].wall, wall), min(best[name].cpu, cpu))
    return best


def _sync() -> None:
    if CLOCK["cuda"]:
        import torch

        torch.cuda.synchronize()


def machine() -> dict:
    """The machine the figures come from: CPU model, cores, torch version, load."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["loadavg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info
