"""Run in a fresh process by benchmarks.tui: time the first frame and full-screen redraws.

``python -m benchmarks.tui_child advtui|bare [--redraws N]`` prints one JSON line:
``first_frame`` (time.time() when the first frame was composed and serialised to terminal
bytes), ``redraw_ms`` (median of N full-screen redraws: every widget marked for repaint, the
whole screen composed and serialised), ``redraw_new_content_ms`` (the same with the
widgets' content caches dropped too: a new image's repaint), ``attack_keypress_s`` and
``attack_direct_s`` (``a`` pressed until the result is drawn, against the same attack run
directly) and ``ready`` (whether the app's
startup workers finished before the redraws). ``bare`` is a plain Textual app whose screen is
the same size and full of coloured half-blocks served from cached strips: the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

SIZE = (160, 50)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def bare_app():
    """A plain Textual app: one Line-API widget serving cached strips of coloured half-blocks."""
    from rich.segment import Segment
    from rich.style import Style
    from textual.app import App
    from textual.strip import Strip
    from textual.widget import Widget

    rows = [
        Strip(
            [
                Segment("▀", Style.from_color(_rgb(x, 5 * y, 99), _rgb(9, x, 2 * y)))
                for x in range(SIZE[0])
            ]
        )
        for y in range(SIZE[1])
    ]

    class HalfBlocks(Widget):
        DEFAULT_CSS = "HalfBlocks { width: 1fr; height: 1fr; }"

        def render_line(self, y: int) -> Strip:
            return rows[y] if y < len(rows) else Strip.blank(self.size.width)

    class Bare(App):
        def compose(self):
            yield HalfBlocks()

    return Bare()


def _rgb(r: int, g: int, b: int):
    from rich.color import Color

    return Color.from_rgb(r % 256, g % 256, b % 256)


async def measure(app, redraws: int, wait_workers: float) -> dict:
    from textual._compositor import CompositorUpdate

    first: list[float] = []
    display = app._display

    def hooked(screen, renderable):
        if renderable is not None and not app._batch_count and not first:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # headless skips this: count it
            first.append(time.time())
        return display(screen, renderable)

    app._display = hooked
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        out = {"first_frame": first[0] if first else time.time()}
        try:
            await asyncio.wait_for(app.workers.wait_for_complete(), wait_workers)
            out["ready"] = True
        except asyncio.TimeoutError:
            out["ready"] = False
        await pilot.pause()
        times = []
        for _ in range(redraws):
            screen = app.screen
            for widget in screen.walk_children(with_self=True):
                widget.refresh()
            t0 = time.perf_counter()
            screen._compositor.render_full_update().render_segments(app.console)
            times.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
        out["redraw_ms"] = statistics.median(times) if times else None
        out["redraw_all_ms"] = times
        out["redraw_new_content_ms"] = await _new_content_redraws(app, pilot, redraws)
        state = getattr(app, "state", None)  # the explorer's (the bare app has none)
        if state is not None and state.model is not None:
            out.update(await _attack_keypress(app, pilot))
    return out


async def _new_content_redraws(app, pilot, redraws: int) -> float | None:
    """Median full redraw with every content cache dropped as well (what a new image costs
    to paint once its numbers are known: pixel panels re-fitted, tables laid out again)."""
    try:
        from advtui.tui.pixels import PixelView
        from advtui.tui.widgets import CachedRender
    except ImportError:  # the bare app
        return None
    if not hasattr(app, "state"):
        return None
    times = []
    for _ in range(redraws):
        screen = app.screen
        for widget in screen.walk_children(with_self=True):
            if isinstance(widget, CachedRender):
                widget.changed()
            elif isinstance(widget, PixelView):
                widget._strips = None
            widget.refresh()
        t0 = time.perf_counter()
        screen._compositor.render_full_update().render_segments(app.console)
        times.append((time.perf_counter() - t0) * 1000)
        await pilot.pause()
    return statistics.median(times) if times else None


async def _attack_keypress(app, pilot, images: int = 3) -> dict:
    """Seconds from pressing ``a`` to the adversarial image on screen (best over ``images``
    images), and the same attack through ``pipeline.run_attack`` directly (image loading
    included) in this process, on the explorer's torch thread (:mod:`advtui.tui.torchwork`)
    with the same thread count — the UI thread's own torch ops run serially — so the ratio is
    the explorer's overhead over the work itself."""
    from textual import events

    from advtui.images import load_tensor
    from advtui.pipeline import run_attack

    frames: list[float] = []
    painted = asyncio.Event()  # a frame drawn with the result on screen
    display = app._display

    def hooked(screen, renderable):
        frames.append(time.perf_counter())
        try:
            return display(screen, renderable)
        finally:
            if app.state.job is None and app.state.current_outcome is not None:
                painted.set()

    app._display = hooked
    keypress, paths = [], []
    for i in range(images):
        if i:
            await pilot.press("j")
            await app.workers.wait_for_complete()
            await pilot.pause()
        painted.clear()
        t0 = time.perf_counter()
        app.post_message(events.Key("a", "a"))  # as the terminal driver does; no pilot waits
        # woken by that frame: a polling loop would share the UI thread (and the GIL) with
        # the attack and slow it (it did: 1 ms polls)
        await painted.wait()
        keypress.append(frames[-1] - t0)
        paths.append(app.state.current_entry.path)
    app._display = display
    from advtui.tui import torchwork

    direct = []
    for path in paths:  # the same call on the thread the explorer runs it on, nothing else
        t0 = time.perf_counter()
        torchwork.run(
            lambda p=path: run_attack(
                app.state.model, load_tensor(p, app.state.model.load_size), app.state.settings
            )
        )
        direct.append(time.perf_counter() - t0)
    return {"attack_keypress_s": min(keypress), "attack_direct_s": min(direct)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("which", choices=("advtui", "bare"))
    p.add_argument("--redraws", type=int, default=20)
    p.add_argument("--wait-workers", type=float, default=60.0)
    a = p.parse_args()
    if a.which == "advtui":
        from advtui.cli import build_app

        app = build_app([str(SAMPLES)])
    else:
        app = bare_app()
    print(json.dumps(asyncio.run(measure(app, a.redraws, a.wait_workers))))


if __name__ == "__main__":
    main()
