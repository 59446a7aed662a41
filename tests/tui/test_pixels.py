"""Half-block rendering: exact segments, and a full-screen redraw well under 50 ms."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from rich.color import Color

from advtui.tui import pixels
from advtui.tui.pixels import HALF_BLOCK, PixelView, half_block_rows

from .conftest import make_app, wait_job, wait_ready


def test_half_block_rows_puts_upper_pixel_in_fg_and_lower_in_bg():
    rgb = np.array(
        [
            [[255, 0, 0], [255, 0, 0], [0, 0, 255]],
            [[0, 255, 0], [0, 255, 0], [10, 20, 30]],
        ],
        dtype=np.uint8,
    )
    (row,) = half_block_rows(rgb)
    assert [s.text for s in row] == [HALF_BLOCK * 2, HALF_BLOCK]  # equal neighbours merged
    assert row[0].style.color == Color.from_rgb(255, 0, 0)
    assert row[0].style.bgcolor == Color.from_rgb(0, 255, 0)
    assert row[1].style.color == Color.from_rgb(0, 0, 255)
    assert row[1].style.bgcolor == Color.from_rgb(10, 20, 30)


def test_half_block_rows_pads_an_odd_height_with_the_last_row():
    rgb = np.zeros((3, 2, 3), dtype=np.uint8)
    rgb[2] = 200
    rows = half_block_rows(rgb)
    assert len(rows) == 2
    assert rows[1][0].style.color == rows[1][0].style.bgcolor == Color.from_rgb(200, 200, 200)


async def test_pixel_view_fills_its_panel_and_follows_resizes():
    from textual.app import App

    img = Image.new("RGB", (64, 64), (250, 10, 10))

    class One(App):
        def compose(self):
            yield PixelView(img, id="v")

    app = One()
    async with app.run_test(size=(40, 20)) as pilot:
        view = app.query_one(PixelView)
        lines = [view.render_line(y) for y in range(view.size.height)]
        drawn = [line for line in lines if HALF_BLOCK in line.text]
        assert len(drawn) == 20  # 40 px tall = 20 rows: limited by the height
        assert drawn[0].text.count(HALF_BLOCK) == 40  # square pixels: 40 px wide
        assert all(line.cell_length == 40 for line in lines)
        await pilot.resize_terminal(30, 10)
        await pilot.pause()
        lines = [view.render_line(y) for y in range(view.size.height)]
        assert len(lines) == 10
        assert sum(HALF_BLOCK in line.text for line in lines) == 10
        assert lines[0].text.count(HALF_BLOCK) == 20
        view.show(None, "nothing here")
        text = "".join(view.render_line(y).text for y in range(10))
        assert "nothing here" in text and HALF_BLOCK not in text


def _best_ms(fn, n: int = 15) -> float:
    """Best CPU time of this thread over ``n`` runs (other processes on the box do not count)."""
    times = []
    for _ in range(n):
        t = time.thread_time()
        fn()
        times.append(time.thread_time() - t)
    return min(times) * 1000


@pytest.mark.slow
async def test_full_screen_redraw_is_well_under_50ms(samples_dir, capsys):
    """Every widget re-rendered (caches dropped) and encoded to ANSI, at 160×50 after `e`.

    CPU time of the test's thread, best of 15, so other processes on a loaded 2-core machine
    do not decide the result; about 25 ms wall time on an idle one (most of it Textual cutting and encoding ~4000 distinct
    colour cells), the pixel panels' own share about 13 ms with a cold colour cache.
    """
    from rich.console import Console

    app = make_app(str(samples_dir))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_job(pilot)
        views = [v for v in app.query(PixelView) if v.image is not None]
        assert len(views) == 5
        screen = app.screen
        widgets = list(screen.walk_children())
        console = Console(width=160, height=50, color_system="truecolor", force_terminal=True)

        def rebuild_pixels() -> None:
            pixels._STYLES.clear()  # cold: new image, no cached colours
            for v in views:
                v._strips = None
                for y in range(v.size.height):
                    v.render_line(y)

        def full_redraw() -> None:
            for w in widgets:
                w._styles_cache.clear()
                if isinstance(w, PixelView):
                    w._strips = None
            screen._compositor.render_full_update().render_segments(console)

        pixel_ms = _best_ms(rebuild_pixels)
        full_ms = _best_ms(full_redraw)
        for _ in range(3):  # a busy neighbour can hold the CPU for a whole round: retry
            if full_ms < 50:
                break
            await pilot.pause(0.5)
            full_ms = min(full_ms, _best_ms(full_redraw))
        with capsys.disabled():
            print(f"\n5 pixel panels rebuilt: {pixel_ms:.1f} ms; full redraw: {full_ms:.1f} ms")
        assert pixel_ms < 25
        assert full_ms < 50
