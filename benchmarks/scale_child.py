"""Run in a fresh process by benchmarks.scale: the explorer on one folder, as a user meets it.

``python -m benchmarks.scale_child PATH [--attack] [--keys N]`` prints one JSON line:
``first_frame`` (time.time() when the first frame was composed and serialised to terminal
bytes), ``first_row_s`` (process start → first file listed), ``listed_s`` (→ every file
listed), ``classes_s`` (→ the true classes shown, for a labelled tree), ``key_fill_ms`` (median
j/k latency, key posted → frame drawn, over 6 keys pressed as soon as the first rows show:
while a big folder still fills and, in any folder, while the model loads; ``key_fill_n`` of
them before the walk ended), ``key_ms`` (the same once listed and the model is loaded), ``attack_keypress_s`` (``a`` → PGD result on screen), ``peak_rss_mb``
(VmHWM, after listing, keys and the attack), ``decoded`` (files decoded), ``rows`` and
``q_posted`` (time.time() when ``q`` was pressed; the parent times the process exit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

from benchmarks.rss_child import peak_rss_mb

SIZE = (160, 50)


async def _key(app, frames: list[float], key: str) -> float:
    """Seconds from posting ``key`` (as the terminal driver does) to the frame that shows it."""
    from textual import events

    before = app.state.current
    t0 = time.perf_counter()
    app.post_message(events.Key(key, key))
    deadline = t0 + 10
    while app.state.current == before and time.perf_counter() < deadline:
        await asyncio.sleep(0.0005)
    moved = time.perf_counter()
    while (not frames or frames[-1] < moved) and time.perf_counter() < deadline:
        await asyncio.sleep(0.0005)
    return (frames[-1] if frames else time.perf_counter()) - t0


async def measure(app, start: float, keys: int, attack: bool) -> dict:
    from textual._compositor import CompositorUpdate

    import advtui.images

    decoded = [0]
    real_load = advtui.images.load_image

    def counting(*a, **k):
        decoded[0] += 1
        return real_load(*a, **k)

    advtui.images.load_image = counting
    first: list[float] = []
    frames: list[float] = []
    display = app._display

    def hooked(screen, renderable):
        if renderable is not None and not app._batch_count:
            if isinstance(renderable, CompositorUpdate) and not first:
                renderable.render_segments(app.console)  # headless skips this: count it
                first.append(time.time())
            frames.append(time.perf_counter())
        return display(screen, renderable)

    app._display = hooked
    out: dict = {}
    async with app.run_test(size=SIZE) as pilot:
        while not app.state.entries:
            await asyncio.sleep(0.001)
        out["first_row_s"] = time.time() - start
        # the first image selected and rows below it to move to (the walk's first batch may
        # hold a single file): what a user sees before pressing j
        while app.state.current is None or len(app.state.entries) < min(
            8, 2 + 13 * (not app.state.listed)
        ):
            await asyncio.sleep(0.001)
        # j/k at once after the first rows: while the walk still runs in a big folder, and
        # (in every folder) while the model loads; the samples folder is the reference
        fill, during = [], 0
        for i in range(6):
            during += not app.state.listed
            fill.append(await _key(app, frames, "j" if i % 4 < 2 else "k"))
        while not app.state.listed:
            await asyncio.sleep(0.001)
        out["listed_s"] = time.time() - start
        out["rows"] = len(app.state.entries)
        out["first_frame"] = first[0] if first else None
        from advtui.images import is_wnid

        if is_wnid(app.state.entries[0].folder):  # a labelled tree: wait for its classes
            deadline = time.time() + 120
            while app.state.entries[-1].label is None and time.time() < deadline:
                await asyncio.sleep(0.005)
            out["classes_s"] = time.time() - start
            out["true_class_last"] = app.state.entries[-1].truth
        while app.state.model is None:
            await asyncio.sleep(0.01)
        while any(w.is_running for w in app.workers if w.group in ("predict", "background")):
            await asyncio.sleep(0.01)
        await pilot.pause()
        steady = [await _key(app, frames, "j" if i % 4 < 2 else "k") for i in range(keys)]
        out["key_fill_ms"] = statistics.median(fill) * 1000 if fill else None
        out["key_fill_all"] = [round(f * 1000) for f in fill]
        out["key_fill_n"] = during
        out["key_ms"] = statistics.median(steady) * 1000
        if attack:
            from benchmarks.tui_child import _attack_keypress

            out.update(await _attack_keypress(app, pilot, images=2))
        out["peak_rss_mb"] = peak_rss_mb()
        out["decoded"] = decoded[0]
        out["q_posted"] = time.time()
        from textual import events

        app.post_message(events.Key("q", "q"))
        while app.is_running:
            await asyncio.sleep(0.001)
    return out


def main() -> None:
    start = time.time()
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--keys", type=int, default=20)
    p.add_argument("--attack", action="store_true")
    p.add_argument("--start", type=float, help="time.time() when the parent started us")
    a = p.parse_args()
    from advtui.cli import build_app

    app = build_app([a.path, "--device", "cpu"])
    out = asyncio.run(measure(app, a.start or start, a.keys, a.attack))
    print(json.dumps(out), flush=True)
    os._exit(0)  # as the advtui script ends (advtui.cli.console): no interpreter teardown


if __name__ == "__main__":
    main()
