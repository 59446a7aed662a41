"""Snapshots of the results view's plots (histogram, ROC) at 80×24 and 160×50, in truecolour
and in 256 colours, on an eval run made here from the tiny CNN (one torch thread, fixed
seeds), built by the CLI's app factory."""

from __future__ import annotations

import pytest

from advtui.tui.plotdata import PlotScreen
from advtui.tui.results import ResultsScreen

from . import eval_run
from .conftest import make_app, wait_for

tiny, run_dir = eval_run.tiny, eval_run.run_dir  # the fixtures

pytestmark = pytest.mark.slow


@pytest.fixture(params=["truecolor", "256"])
def colours(request, monkeypatch) -> str:
    if request.param == "256":
        monkeypatch.delenv("COLORTERM", raising=False)
        monkeypatch.delenv("TMUX", raising=False)
        monkeypatch.setenv("TERM", "xterm-256color")
    return request.param


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
@pytest.mark.parametrize("key", ["h", "c"], ids=["histogram", "roc"])
def test_plot_snapshot(snap_compare, run_dir, tiny, colours, key, size):
    async def open_plot(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen), what="rows")
        await wait_for(pilot, lambda: app.screen.run.complete, what="indexed")
        await app.workers.wait_for_complete()
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, PlotScreen), what="plot")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.console.color_system == colours
        app.clear_notifications()
        await pilot.pause()

    app = make_app(str(run_dir), "--threads", "1", classifier=tiny)
    assert snap_compare(app, terminal_size=size, run_before=open_plot)
