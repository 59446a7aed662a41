"""File names and labels that look like markup are shown literally and never crash the app."""

from __future__ import annotations

import shutil

import pytest

from .conftest import SIZE, make_app, wait_for, wait_job, wait_ready

pytestmark = pytest.mark.slow


async def test_markup_like_file_names_in_notifications(tmp_path, sample_paths):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(sample_paths[0], folder / "[bold]a.jpg")
    shutil.copy(sample_paths[1], folder / "b.jpg")
    out = tmp_path / "out [/red]"  # a folder "out [" holding "red]": closes a tag never opened
    app = make_app(str(folder), "--steps", "60", "--out", str(out), real=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")  # Pilot waits up to ~2 s for idle: 60 steps outlast that
        assert app.job is not None
        await pilot.press("j")  # the attack finishes on another image: a notification
        await wait_job(pilot)
        finished = [m for t, m in app.notices if t == "finished"]
        assert finished and finished[0].startswith("\\[bold]a.jpg: "), finished
        await pilot.press("k")
        await pilot.pause()
        assert app.current == 0 and app.current_outcome is not None
        await pilot.press("s")  # saving names the output folder in a notification
        await wait_for(pilot, lambda: not app.saving, what="save")
        await pilot.pause()
        assert app.is_running
        shown = [m for _, m in app.notices]
        assert any("out \\[/red]/\\[bold]a-pgd" in m for m in shown), shown
        assert (out / "[bold]a-pgd-eps8-60steps-untargeted" / "result.json").exists()
