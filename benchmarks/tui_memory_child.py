"""Run in a fresh process by benchmarks.tui_memory: a scripted stay in the explorer, peak RSS.

``python -m benchmarks.tui_memory_child --attacks N --explanations M [--steps S --nsamples K]``
drives the explorer (headless, Pilot, the bundled samples, the default model on the CPU) with
keys: ``a`` on every image in turn, ``+`` (a larger ε: new results, not cached ones) after
each pass over the list, and ``e`` on every (N/M)-th image; then prints one JSON line with the
peak RSS (VmHWM) in MB, the attacks and explanations run, the result cache's bytes and
evictions, and the seconds taken. ``--attacks 1 --explanations 0`` is the reference: a fresh
explorer after one attack. ``--trace`` adds ``trace``: after every job, its kind and the RSS and
peak RSS then (MB), and the live torch tensors' MB, to see whether a stay's growth is results,
tensors or the heap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from benchmarks.rss_child import peak_rss_mb

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SIZE = (160, 50)


async def _job(app, pilot, key: str) -> None:
    await pilot.press(key)
    while app.state.job is None and app.state.current_outcome is None:
        await asyncio.sleep(0.005)
    while app.state.job is not None:
        await asyncio.sleep(0.01)
    await pilot.pause()


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _tensor_mb() -> float:
    """MB held by the torch tensors the garbage collector can reach (storage counted once)."""
    import gc
    import warnings

    import torch

    seen: dict[int, int] = {}
    with warnings.catch_warnings():  # isinstance on torch.distributed's deprecated aliases
        warnings.simplefilter("ignore")
        for obj in gc.get_objects():
            if isinstance(obj, torch.Tensor) and obj.device.type == "cpu":
                storage = obj.untyped_storage()
                seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values()) / 2**20


async def stay(app, attacks: int, explanations: int, trace: bool = False) -> dict:
    t0 = time.perf_counter()
    done = {"attacks": 0, "explanations": 0}
    steps: list[dict] = []
    async with app.run_test(size=SIZE) as pilot:
        while app.state.model is None or not app.state.listed or not app.state.entries:
            await asyncio.sleep(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        n = len(app.state.entries)
        every = max(1, attacks // explanations) if explanations else 0
        for i in range(attacks):
            if i and i % n == 0:
                await pilot.press("plus")  # a new ε: the next pass makes new results
            explain = bool(every) and i % every == 0 and done["explanations"] < explanations
            await _job(app, pilot, "e" if explain else "a")
            done["explanations" if explain else "attacks"] += 1
            if explain:
                done["attacks"] += 1  # `e` attacks, then explains
            if trace:
                steps.append(
                    {
                        "job": "e" if explain else "a",
                        "rss_mb": round(_rss_mb(), 1),
                        "peak_mb": round(peak_rss_mb(), 1),
                        # the garbage collector's scan is slow: every 20th job
                        "tensor_mb": round(_tensor_mb(), 1) if i % 20 == 19 else None,
                        "cache_mb": round(getattr(app.state.outcomes, "bytes", 0) / 2**20, 1),
                    }
                )
            await pilot.press("j" if (i + 1) % n else "home")
            await pilot.pause()
        cache = app.state.outcomes
        out = {
            "peak_mb": peak_rss_mb(),
            **done,
            "cached_results": len(cache),
            "cache_mb": getattr(cache, "bytes", 0) / 2**20,
            "evicted": getattr(cache, "evicted", 0),
            "seconds": time.perf_counter() - t0,
        }
        if trace:
            out["trace"] = steps
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--attacks", type=int, default=200)
    p.add_argument("--explanations", type=int, default=30)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--nsamples", type=int, default=16)
    p.add_argument("--trace", action="store_true", help="RSS, peak and tensors after every job")
    a = p.parse_args()
    from advtui.cli import build_app

    app = build_app(
        [str(SAMPLES), "--device", "cpu", "--steps", str(a.steps), "--nsamples", str(a.nsamples)]
    )
    print(json.dumps(asyncio.run(stay(app, a.attacks, a.explanations, a.trace))))


if __name__ == "__main__":
    main()
