"""Issue 13 in the explorer: hostile names never reach the terminal, ε = 0 is "no attack",
an unwritable ``--out`` is one named reason, unreadable SHAP-background files are a notice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import SIZE, make_app, wait_for, wait_job, wait_ready

pytestmark = pytest.mark.slow

HOSTILE = "a\x1b]0;PWNED\x07\x1b]52;c;SGVsbG8=\x07\x1b[31mb.jpg"  # title, OSC 52, colour


def _record_notifications(app) -> list[tuple[str, str]]:
    """(title, message) of every notification, through the public ``notify``."""
    seen: list[tuple[str, str]] = []
    notify = app.notify

    def recording(message, *, title="", **kwargs):
        seen.append((str(title), str(message)))
        return notify(message, title=title, **kwargs)

    app.notify = recording
    return seen


async def test_hostile_names_are_escaped_in_notifications_titles_and_status(
    tmp_path, sample_paths, attack_gate
):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(sample_paths[0], folder / HOSTILE)
    shutil.copy(sample_paths[1], folder / "b.jpg")  # somewhere to move to while the job runs
    os.symlink("y.jpg", folder / "x.jpg")  # a loop beside the photo: SHAP goes on, with a notice
    os.symlink("x.jpg", folder / "y.jpg")
    out = tmp_path / "out"
    app = make_app(str(folder), "--out", str(out))
    seen = _record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")  # attack + SHAP on the hostile name (held by the gate) ...
        assert app.state.job is not None
        await pilot.press("j")  # ... then move away
        attack_gate.set()
        await wait_job(pilot)
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.state.saving, what="save")
        await pilot.pause()
        texts = [t for pair in seen for t in pair] + [app.state.status_text]
        assert texts and all("\x1b" not in t and "\x07" not in t for t in texts), texts
        finished = [m for t, m in seen if t == "finished"]
        assert finished and finished[0].startswith("a\\x1b]0;PWNED"), finished
        background = [m for t, m in seen if t == "SHAP background"]
        assert background and "symlink loop" in background[0], seen
        assert any("saved" in m for _t, m in seen), seen


async def test_a_hostile_target_name_is_escaped_in_the_status_line(tmp_path, sample_paths):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(sample_paths[0], folder / "a.jpg")
    app = make_app(str(folder), "--target", "\x1b[2J\x1b]52;c;eA==\x07cat")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert "\x1b" not in app.state.status_text and "\x07" not in app.state.status_text
        assert "→ \\x1b[2J\\x1b]52;c;eA==\\x07cat" in app.state.status_text


async def test_eps_zero_is_no_attack_and_the_perturbation_view_works(tmp_path, sample_paths):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(sample_paths[0], folder / "a.jpg")
    app = make_app(str(folder), "--eps", "0")
    seen = _record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        await pilot.press("v", "v")  # every view, the perturbation one included
        await pilot.pause()
        assert app.state.current_outcome is not None and not app.state.current_outcome.success
        assert "no attack (ε = 0)" in app.state.status_text
        assert not [m for t, m in seen if t == "display error"], seen
        await pilot.press("plus", "minus", "minus")  # the key stops at 0, as --eps does
        assert app.state.settings.eps == 0


async def test_save_into_an_unwritable_out_is_one_named_reason(tmp_path, sample_paths):
    if not Path("/sys").is_dir():
        pytest.skip("no read-only folder on this machine")
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(sample_paths[0], folder / "a.jpg")
    app = make_app(str(folder), "--out", "/sys/advtui-out")
    seen = _record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.state.saving, what="save")
        await pilot.pause()
        errors = [m for t, m in seen if t == "error"]
        assert errors and errors[0].startswith("/sys/advtui-out/a-"), seen
        assert "-pgd-" in errors[0], errors
        assert "permission denied" in errors[0] or "not permitted" in errors[0], errors
        assert "internal error" not in errors[0] and "OSError" not in errors[0]
        assert app.is_running
