"""Timing and reporting helpers shared by the benchmark scripts.

Every figure is a ratio against a reference measured in the same run, with the two timed
interleaved and each taken as the minimum over repeats: the minimum is the least disturbed by
other processes, and interleaving exposes both sides to the same machine state.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


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
            parts.append(f"({fmt(self.value, self.unit)} vs {fmt(self.ref, self.unit)})")
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
) -> dict[str, float]:
    """Minimum wall time of each callable over ``repeats`` rounds, run in turn, after warm-up."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


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
