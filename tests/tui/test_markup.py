"""File names and labels that look like markup are shown literally and never crash the app."""

from __future__ import annotations

import shutil

import pytest

from .conftest import SIZE, make_app, wait_for, wait_job, wait_ready

pytestmark = pytest.mark.slow


async def test_markup_like_file_names_in_notifications(tmp_path, sample_paths, attack_gate):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(sample_paths[0], folder / "[bold]a.jpg")
    shutil.copy(sample_paths[1], folder / "b.jpg")
    out = tmp_path / "out [/red]"  # a folder "out [" holding "red]": closes a tag never opened
    app = make_app(str(folder), "--out", str(out))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")  # the attack waits for the gate
        assert app.state.job is not None
        await pilot.press("j")  # the attack finishes on another image: a notification
        attack_gate.set()
        await wait_job(pilot)
        finished = [m for t, m in app.notices if t == "finished"]
        assert finished and finished[0].startswith("\\[bold]a.jpg: "), finished
        await pilot.press("k")
        await pilot.pause()
        assert app.state.current == 0 and app.state.current_outcome is not None
        await pilot.press("s")  # saving names the output folder in a notification
        await wait_for(pilot, lambda: not app.state.saving, what="save")
        await pilot.pause()
        assert app.is_running
        shown = [m for _, m in app.notices]
        assert any("out \\[/red]/\\[bold]a-" in m and "-pgd-" in m for m in shown), shown
        saved = [d.name for d in out.iterdir() if (d / "result.json").exists()]
        assert len(saved) == 1 and saved[0].startswith("[bold]a-"), saved  # + the path's hash
        assert "-pgd-eps8-" in saved[0], saved
