"""Snapshot tests of the main screen, built by the CLI's app factory, on the real default model.

Deterministic on one machine: CPU, one torch thread, fixed terminal sizes, seeded attack and SHAP,
and every worker finished before the screenshot. Across machines the kernels' last bits differ,
so the screens are compared cell by cell with a small tolerance for numbers and colours
(``snap_near``, tests/tui/snapnear.py); layout, text and classes must match exactly. The bundled samples are the input, so changing samples/ means
regenerating these with ``pytest tests/tui --snapshot-update`` (and looking at them).
"""

from __future__ import annotations

import pytest

from .conftest import make_app, wait_for, wait_job, wait_ready

pytestmark = pytest.mark.slow

#: The attack's and SHAP's last bits depend on torch's thread count, and the rendered pixels and
#: numbers with them: one count, whether the suite runs in one process or in xdist workers.
ONE_THREAD = ("--threads", "1")


def test_main_screen_at_100x30_after_loading(snap_near, samples_dir):
    async def ready(pilot) -> None:
        await wait_ready(pilot)

    app = make_app(str(samples_dir), *ONE_THREAD, real=True)
    assert snap_near(app, terminal_size=(100, 30), run_before=ready)


def test_main_screen_at_160x50_after_attack_and_shap(snap_near, samples_dir):
    async def attack_and_explain(pilot) -> None:
        await wait_ready(pilot)
        await pilot.press("j")
        await wait_ready(pilot)  # no prediction running beside SHAP: torch threads are shared
        await pilot.press("e")
        await wait_job(pilot)

    app = make_app(str(samples_dir), *ONE_THREAD, real=True)
    assert snap_near(app, terminal_size=(160, 50), run_before=attack_and_explain)


def test_help_screen(snap_near, samples_dir):
    async def help_(pilot) -> None:
        await wait_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    app = make_app(str(samples_dir), *ONE_THREAD, real=True)
    assert snap_near(app, terminal_size=(100, 30), run_before=help_)


def test_main_screen_at_80x24_after_attack_and_shap(snap_near, samples_dir):
    """The narrow layout: two pictures and one table per view; the SHAP page after one `v`."""

    async def attack_explain_and_shap_page(pilot) -> None:
        await wait_ready(pilot)
        await pilot.press("j")
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_job(pilot)
        await pilot.press("v")
        pilot.app.clear_notifications()  # the "view: SHAP maps" note
        await pilot.pause()

    app = make_app(str(samples_dir), *ONE_THREAD, real=True)
    assert snap_near(app, terminal_size=(80, 24), run_before=attack_explain_and_shap_page)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_eps_grid_screen(snap_near, samples_dir, size):
    """The ε grid (`b`) of the first photo: five PGD budgets, the first success marked."""

    async def grid(pilot) -> None:
        from advtui.tui.gridscreen import EpsGridScreen

        await wait_ready(pilot)
        await pilot.press("b")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, EpsGridScreen)
        await wait_for(pilot, lambda: not screen.running, timeout=300, what="grid")
        await screen.workers.wait_for_complete()
        await pilot.pause()

    app = make_app(str(samples_dir), *ONE_THREAD, real=True)
    assert snap_near(app, terminal_size=size, run_before=grid)
