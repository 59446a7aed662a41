"""Where `a` → result spends its time in the explorer: a breakdown of the path, stage by stage.

``python -m benchmarks.tui_latency [--images 5] [--json]`` runs the explorer headless (Pilot,
160×50, the bundled samples, the default model on the CPU, PGD-10) in this process, presses
``a`` on N images one after another, and stamps each stage of the path:

- ``to_thread``: the key posted → the attack starts on the torch thread (the App's key
  handling, the job worker's start, the hand-over to the torch thread);
- ``attack``: :func:`advtui.tui.jobs._attack_once` itself (decode + :func:`run_attack`);
- ``to_handler``: the attack returned → the App's ``on_job_done`` starts (the message queue);
- ``handler``: ``on_job_done`` (cache, marks, the view model, widgets told what changed);
- ``to_frame``: the handler returned → the first frame composed after it (layout, the
  pictures fitted and dithered, the compositor);
- ``total``: the key posted → that frame.

Then the same ``_attack_once`` calls on the torch thread with the explorer idle (``direct``),
which is the reference of ``benchmarks.tui``'s ratio. Medians over the images (the first image
is dropped: its first attack warms the allocator). One line per stage, or ``--json``.
``--profile N`` also profiles the UI thread (cProfile) from the start of ``on_job_done`` to
the frame and prints its N heaviest functions by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SIZE = (160, 50)
STAGES = ("to_thread", "attack", "to_handler", "handler", "to_frame", "total")


async def measure(images: int, profile: bool = False) -> dict:
    from textual import events

    from advtui.cli import build_app
    from advtui.tui import jobs, torchwork
    from advtui.tui.app import AdvtuiApp

    stamps: dict[str, float] = {}
    inner = jobs._attack_once

    def timed_attack(*args, **kwargs):
        stamps["attack_start"] = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            stamps["attack_end"] = time.perf_counter()

    jobs._attack_once = timed_attack
    handler = AdvtuiApp.on_job_done

    import cProfile

    prof = cProfile.Profile() if profile else None

    def timed_handler(self, message):
        if prof is not None and message.final:
            prof.enable()
        stamps["handler_start"] = time.perf_counter()
        try:
            return handler(self, message)
        finally:
            stamps["handler_end"] = time.perf_counter()

    AdvtuiApp.on_job_done = timed_handler  # the handler Textual dispatches to (by name)
    app = build_app([str(SAMPLES), "--device", "cpu"])
    frames: list[float] = []
    painted = asyncio.Event()
    rows: list[dict] = []
    paths = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            while app.state.model is None or not app.state.listed:
                await asyncio.sleep(0.05)
            await app.workers.wait_for_complete()
            await pilot.pause()
            display = app._display

            def hooked(screen, renderable):
                frames.append(time.perf_counter())
                try:
                    return display(screen, renderable)
                finally:
                    if "handler_end" in stamps and app.state.job is None:
                        painted.set()
                        if prof is not None:
                            prof.disable()

            app._display = hooked
            s, m = app.state.settings, app.state.model
            before = []
            for e in app.state.entries[:images]:  # the reference, before the explorer's runs
                t0 = time.perf_counter()
                torchwork.run(inner, e.path, s, m, None, app.explainers, 16, None, None)
                before.append(time.perf_counter() - t0)
            for i in range(images):
                if i:
                    await pilot.press("j")
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.3)
                stamps.clear()
                painted.clear()
                t0 = time.perf_counter()
                app.post_message(events.Key("a", "a"))
                # woken by the frame itself: a polling loop here would share the UI thread
                # (and the GIL) with the attack and slow it
                await painted.wait()
                h = stamps["handler_end"]
                frame = next(f for f in frames if f >= h)
                rows.append(
                    {
                        "to_thread": stamps["attack_start"] - t0,
                        "attack": stamps["attack_end"] - stamps["attack_start"],
                        "to_handler": stamps["handler_start"] - stamps["attack_end"],
                        "handler": h - stamps["handler_start"],
                        "to_frame": frame - h,
                        "total": frame - t0,
                    }
                )
                paths.append(app.state.current_entry.path)
            app._display = display
            direct = []
            for path in paths:
                t0 = time.perf_counter()
                torchwork.run(inner, path, s, m, None, app.explainers, 16, None, None)
                direct.append(time.perf_counter() - t0)
    finally:
        jobs._attack_once = inner
        AdvtuiApp.on_job_done = handler
    kept = rows[1:] or rows
    out = {k: statistics.median(r[k] for r in kept) * 1000 for k in STAGES}
    out["direct"] = statistics.median(direct[1:] or direct) * 1000
    out["direct_before"] = statistics.median(before[1:] or before) * 1000
    out["ratio"] = out["total"] / out["direct"]
    out["rows_ms"] = [{k: round(v * 1000, 1) for k, v in r.items()} for r in rows]
    if prof is not None:
        out["profile"] = prof
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.add_argument("--profile", type=int, default=0, metavar="N")
    a = p.parse_args(argv)
    out = asyncio.run(measure(max(2, a.images), profile=bool(a.profile)))
    prof = out.pop("profile", None)
    if a.json:
        print(json.dumps(out))
        return 0
    if prof is not None:
        import pstats

        pstats.Stats(prof).sort_stats("cumulative").print_stats(a.profile)
    for k in (*STAGES, "direct", "direct_before"):
        print(f"{k:>10}: {out[k]:8.1f} ms")
    print(f"{'ratio':>10}: {out['ratio']:8.2f}x  (total / direct)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
