"""Every size readable: at 80×24, 100×30 and 160×50, in every view, nothing the explorer writes
is cut ("…"), every panel has its four borders, and pictures are large enough."""

from __future__ import annotations

import pytest
from textual.geometry import Region

from advtui.tui.pixels import PixelView
from advtui.tui.widgets import ColorScale, ConfidenceTable, EvidenceTable, StatusLine

from .conftest import make_app, wait_job, wait_ready

pytestmark = pytest.mark.slow

SIZES = [(80, 24), (100, 30), (160, 50)]


def _visible(app, *types):
    return [w for w in app.screen.query("*") if isinstance(w, types) and w.region.area > 0]


def _text(widget) -> str:
    """The widget's rendered lines, border and title included."""
    region = Region(0, 0, widget.outer_size.width, widget.outer_size.height)
    return "\n".join(line.text for line in widget.render_lines(region))


def _has_four_borders(widget) -> bool:
    s = widget.styles
    sides = (s.border_top, s.border_right, s.border_bottom, s.border_left)
    return all(edge[0] not in ("", "none", "hidden") for edge in sides)


async def test_every_label_is_whole_at_every_size_and_view(samples_dir):
    app = make_app(str(samples_dir))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_ready(pilot)
        await pilot.press("j")
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_job(pilot)
        assert app.state.current_outcome is not None and app.state.current_outcome.evidence
        for width, height in SIZES:
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            views = 4 if width < 130 else 3
            for _ in range(views):
                where = f"{width}×{height}, view {app.state.view}"
                panels = _visible(app, PixelView, ConfidenceTable, EvidenceTable)
                assert len(_visible(app, PixelView)) >= 2, where
                assert len(_visible(app, ConfidenceTable, EvidenceTable)) >= 1, where
                for w in panels:
                    assert _has_four_borders(w), f"{where}: {w.id} lost a border"
                    text = _text(w)
                    assert "…" not in text, f"{where}: {w.id} cut: {text!r}"
                for w in _visible(app, StatusLine, ColorScale):
                    assert "…" not in _text(w), f"{where}: {w.id} cut"
                status = _text(app.query_one(StatusLine))
                assert "success: " in status or "failed: " in status, where
                assert app.state.status_text.split("│")[-1].strip() in " ".join(status.split())
                if app.state.view in ("side", "shap", "overlay") and width >= 100:
                    pics = [p for p in _visible(app, PixelView) if p.image is not None]
                    assert pics, where
                    for p in pics:
                        assert min(p.content_size.width, 2 * p.content_size.height) >= 32, (
                            f"{where}: {p.id} is {p.content_size} cells"
                        )
                await pilot.press("v")
                await pilot.pause()
