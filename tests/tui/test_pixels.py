"""Half-block rendering: exact segments, panels fitted to their size, repaints from cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from rich.color import Color

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


@pytest.mark.slow
async def test_repaint_with_unchanged_content_serves_cached_strips(samples_dir, monkeypatch):
    """After `e`, a full-screen repaint (every widget refreshed) re-renders neither the pixel
    panels nor the tables and gives the same screen; new data re-renders (timings live in
    benchmarks/run.py --only tui)."""

    from advtui.tui.widgets import CachedRender, ConfidenceTable

    builds: list[str] = []
    real_pixels, real_table = PixelView.build_strips, ConfidenceTable.build
    monkeypatch.setattr(
        PixelView, "build_strips", lambda self: builds.append(self.id) or real_pixels(self)
    )
    monkeypatch.setattr(
        ConfidenceTable, "build", lambda self, w: builds.append(self.id) or real_table(self, w)
    )
    app = make_app(str(samples_dir))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_job(pilot)
        screen = app.screen
        assert len([v for v in app.query(PixelView) if v.image is not None]) == 5
        assert any(isinstance(w, CachedRender) for w in screen.walk_children())

        def repaint() -> str:  # the whole screen, colours included (Textual's own screenshot)
            for widget in screen.walk_children(with_self=True):
                widget.refresh()
            return app.export_screenshot()

        before = repaint()
        builds.clear()
        for _ in range(3):
            assert repaint() == before
            await pilot.pause()
        assert builds == []
        table = app.query_one(ConfidenceTable)
        rows = [dict(r, label=f"x{i}") for i, r in enumerate(table.clean)]
        table.set_rows(rows, table.adversarial, table.target)
        await pilot.pause()
        assert "confidence" in builds
        assert "x0" in repaint() and "x0" not in before
