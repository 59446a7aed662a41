"""Pilot tests of the explorer on the real default model and the bundled samples."""

from __future__ import annotations

import json

import pytest

from advtui.tui.imagelist import MARK_ATTACKED, MARK_FAILED, ImageList
from advtui.tui.pixels import PixelView
from advtui.tui.widgets import ConfidenceTable, EvidenceTable

from .conftest import SIZE, make_app, wait_for, wait_job, wait_ready

pytestmark = pytest.mark.slow


def panel(app, wid: str) -> PixelView:
    return app.query_one(f"#{wid}", PixelView)


async def test_launch_shows_loading_then_the_first_image_and_its_prediction(samples_dir):
    app = make_app(str(samples_dir), real=True)
    async with app.run_test(size=SIZE) as pilot:
        assert app.config.folder == samples_dir
        await wait_ready(pilot)
        names = [e.path.name for e in app.state.entries]
        assert names == sorted(names, key=str.lower) and len(names) >= 10
        assert app.state.model is not None and app.state.model_error is None
        assert "efficientnet-lite0 · cpu" in app.state.status_text
        assert "PGD ε 8/255 · 3 steps · untargeted" in app.state.status_text
        assert panel(app, "p-clean").image is not None
        assert panel(app, "p-adv").image is None
        assert "press a" in panel(app, "p-adv").message
        table = app.query_one(ConfidenceTable)
        assert len(table.clean) == 5 and table.adversarial == []
        assert app.check_action("attack", ()) is True
        assert app.check_action("cancel", ()) is None  # nothing to cancel: dimmed
        assert app.check_action("save", ()) is None


async def test_status_says_loading_model_before_the_model_is_there(samples_dir):
    app = make_app(str(samples_dir), "--model", "efficientnet-lite0")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert "loading model" not in app.state.status_text


async def test_j_and_k_move_the_selection(samples_dir):
    app = make_app(str(samples_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        first = panel(app, "p-clean").image
        await pilot.press("j")
        await pilot.pause()
        assert app.state.current == 1
        assert app.query_one(ImageList).highlighted == 1
        assert panel(app, "p-clean").image is app.state.entries[1].image
        assert panel(app, "p-clean").image is not first
        await pilot.press("down", "down")
        await pilot.pause()
        assert app.state.current == 3
        await pilot.press("k")
        await pilot.pause()
        assert app.state.current == 2


async def test_attack_changes_the_adversarial_top1_and_reports_success(samples_dir):
    app = make_app(str(samples_dir), real=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        table = app.query_one(ConfidenceTable)
        assert len(table.clean) == 5 and len(table.adversarial) == 5
        assert table.adversarial[0]["index"] != table.clean[0]["index"]
        assert "success" in app.state.status_text
        outcome = app.state.current_outcome
        assert outcome.success and outcome.linf <= 8 / 255 + 1e-6
        assert panel(app, "p-adv").image is not None
        assert panel(app, "p-pert").image is not None
        assert app.query_one(ImageList).mark(0) == MARK_ATTACKED
        assert app.check_action("save", ()) is True


async def test_e_fills_the_evidence_table_and_heatmaps(samples_dir):
    app = make_app(str(samples_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.query_one(EvidenceTable).columns == {}
        await pilot.press("e")  # attacks first, then explains both images
        await wait_job(pilot)
        outcome = app.state.current_outcome
        table = app.query_one(EvidenceTable)
        assert set(table.columns) == {"clean", "adversarial"}
        assert table.columns["clean"].label == outcome.clean_top5[0]["label"]
        assert table.columns["adversarial"].label == outcome.adv_top5[0]["label"]
        assert table.columns["clean"].pos_sum > 0 > table.columns["clean"].neg_sum
        assert panel(app, "p-shap-clean").image is not None
        assert panel(app, "p-shap-adv").image is not None
        assert app.check_action("explain", ()) is None  # already explained
        await pilot.press("v")  # overlay view shows the heatmap over the images
        await pilot.pause()
        assert app.state.view == "overlay"
        assert panel(app, "p-clean").image is not panel(app, "p-shap-clean").image
        assert not panel(app, "p-pert").display or not panel(app, "p-pert").region.area


async def test_escape_cancels_a_long_job_at_the_next_step(samples_dir):
    """Esc stops the attack thread between two gradient steps (counted, not timed: one step is
    ~50 ms on an idle 2-core CPU, seconds on a loaded one)."""
    from advtui.tui import messages as msg

    app = make_app(str(samples_dir), "--steps", "1000", real=True)
    steps: list[int] = []  # attack steps reported by the worker thread, in order
    post = app.post_message

    def spy(message):
        if isinstance(message, msg.JobProgress) and message.label == "attack":
            steps.append(message.done)
        return post(message)

    app.post_message = spy
    at_cancel: list[int] = []  # the last step reported when the cancel action ran
    cancel = app.action_cancel

    def spy_cancel():
        at_cancel.append(max(steps))
        cancel()

    app.action_cancel = spy_cancel
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        job = app.state.job
        await wait_for(pilot, lambda: job.done >= 2, what="attack progress")
        assert "attack" in app.state.status_text and "/1000" in app.state.status_text
        assert app.check_action("attack", ()) is None  # one job at a time
        assert app.check_action("explain", ()) is None
        assert app.check_action("cancel", ()) is True
        await pilot.press("escape")
        assert job.finished.wait(60), "the attack thread did not stop after Esc"
        # the step running when the cancel action ran may finish; nothing after it
        assert at_cancel and max(steps) <= at_cancel[0] + 1 < 1000
        await pilot.pause()
        assert app.state.job is None
        assert "cancelled" in app.state.status_text
        assert app.state.current_outcome is None  # nothing half-done is shown
        # still usable: FGSM on the same image runs and finishes
        await pilot.press("m")  # pgd → fgsm
        await pilot.pause()
        assert app.state.settings.method == "fgsm"
        await pilot.press("a")
        await wait_job(pilot)
        assert app.state.current_outcome is not None


async def test_folder_with_a_corrupt_file_opens_and_marks_it(small_folder):
    app = make_app(str(small_folder))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        names = [e.path.name for e in app.state.entries]
        assert names[0] == "[red]bad.jpg"  # sorted first; markup-like name shown literally
        images = app.query_one(ImageList)
        assert images.mark(0) == MARK_FAILED
        assert images.row_text(0).plain.rstrip().endswith("[red]bad.jpg")
        assert app.state.entries[0].error.startswith("[red]bad.jpg: ")
        msg = panel(app, "p-clean").message
        assert msg == f"✗ {app.state.entries[0].error}"
        # a and e run on a ✗ file, to say why it cannot be attacked (no job starts)
        assert app.check_action("attack", ()) is True
        assert app.check_action("explain", ()) is True
        await pilot.press("a")
        await pilot.pause()
        assert app.state.job is None
        said = [m for _, m in app.notices]
        assert any(m.startswith("cannot attack \\[red]bad.jpg: ") for m in said), said
        await pilot.press("e")
        await pilot.pause()
        assert app.state.job is None
        said = [m for _, m in app.notices]
        assert any(m.startswith("cannot explain \\[red]bad.jpg: ") for m in said), said
        await pilot.press("j")
        await pilot.pause()
        assert panel(app, "p-clean").image is not None
        assert app.check_action("attack", ()) is True


async def test_s_saves_the_same_files_as_the_cli(small_folder, tmp_path):
    out = tmp_path / "out"
    app = make_app(str(small_folder), "--out", str(out))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("a")
        await wait_job(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.state.saving, what="save")
        folders = list(out.iterdir())
        assert len(folders) == 1
        files = {p.name for p in folders[0].iterdir()}
        assert {"clean.png", "adversarial.png", "perturbation.png", "result.json"} <= files
        result = json.loads((folders[0] / "result.json").read_text())
        assert result["success"] == app.state.current_outcome.success
        assert result["method"] == "pgd" and result["steps"] == 3
        assert folders[0].name.startswith(app.state.entries[1].path.stem)


async def test_c_picks_a_target_class_by_typing(samples_dir):
    app = make_app(str(samples_dir), real=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert type(app.screen).__name__ == "ClassPicker"
        await pilot.press(*"goldfi")
        await pilot.pause()
        await pilot.press("enter")  # goldfish or goldfinch: ambiguous, the picker stays open
        await pilot.pause()
        assert type(app.screen).__name__ == "ClassPicker"
        assert "ambiguous" in app.screen.note and "goldfinch" in app.screen.note
        assert app.state.settings.target == "untargeted"
        await pilot.press("s", "h", "enter")  # "goldfish": exact
        await pilot.pause()
        goldfish = app.state.model.class_names.index("goldfish")
        assert app.state.settings.target == str(goldfish)
        assert "→ goldfish" in app.state.status_text
        # and the targeted attack reaches it (PGD-10 at 8/255 does on this photo)
        await pilot.press(*["right_square_bracket"] * 4)  # 3 → 4 → 5 → 7 → 10 steps
        assert app.state.settings.steps == 10
        await pilot.press("a")
        await wait_job(pilot)
        outcome = app.state.current_outcome
        assert outcome.target == {"index": goldfish, "label": "goldfish"}
        assert outcome.adv_top5[0]["index"] == goldfish and outcome.success
        assert "success" in app.state.status_text and "→ goldfish" in app.state.status_text
        await pilot.press("c")
        await pilot.pause()
        from textual.widgets import Input

        assert app.screen.query_one(Input).value == "goldfish"  # the current target, prefilled
        await pilot.press(*"tabby")  # ... and selected: typing replaces it
        await pilot.pause()
        assert app.screen.query_one(Input).value == "tabby"
        await pilot.press("escape")  # cancel the picker: target unchanged
        await pilot.pause()
        assert app.state.settings.target == str(goldfish)


async def test_settings_keys_and_results_cached_per_settings(samples_dir):
    app = make_app(str(samples_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        attacked = app.state.current_outcome
        await pilot.press("plus")
        await pilot.pause()
        assert app.state.settings.eps_255 == "9/255" and "ε 9/255" in app.state.status_text
        assert app.state.current_outcome is None  # different settings: not attacked yet
        await pilot.press("minus")
        await pilot.pause()
        assert app.state.current_outcome is attacked  # cached: shown at once
        await pilot.press("t")
        await pilot.pause()
        assert app.state.settings.target == "random" and "random" in app.state.status_text
        await pilot.press("t", "t", "t")
        assert app.state.settings.target == "untargeted"
        await pilot.press("left_square_bracket")
        assert app.state.settings.steps == 2
        await pilot.press("m")
        await pilot.pause()
        assert app.state.settings.method == "fgsm" and "1 step" in app.state.status_text
        assert app.check_action("more_steps", ()) is None  # FGSM has no steps
        await pilot.press("m")
        assert app.state.settings.method == "bim"


async def test_result_never_shows_on_another_image(samples_dir, attack_gate):
    app = make_app(str(samples_dir), "--eps", "64/255")  # the tiny CNN falls at this ε
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        first = str(app.state.entries[0].path)
        await pilot.press("a")  # the attack waits for the gate
        assert app.state.job is not None
        await pilot.press("j")  # move on while the attack runs
        attack_gate.set()
        await wait_job(pilot)
        assert app.state.current == 1
        assert app.state.current_outcome is None
        assert "success" not in app.state.status_text and "failed" not in app.state.status_text
        assert any(t == "finished" for t, _ in app.notices)
        assert panel(app, "p-adv").image is None
        assert app.query_one(ConfidenceTable).adversarial == []
        assert any(k[0] == first for k in app.state.outcomes)
        assert app.query_one(ImageList).mark(0) == MARK_ATTACKED
        await pilot.press("k")
        await pilot.pause()
        assert app.state.current_outcome is not None and app.state.current_outcome.image == first
        assert panel(app, "p-adv").image is not None


async def test_unknown_model_gives_a_clear_message(samples_dir):
    app = make_app(str(samples_dir), "--model", "no-such-model")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.model is None
        assert "unknown model" in app.state.model_error
        assert "unknown model" in app.state.status_text
        assert "model unavailable" in panel(app, "p-adv").message
        assert app.check_action("attack", ()) is None
        await pilot.press("a", "e", "j", "c")  # nothing crashes
        await pilot.pause()
        assert app.state.current == 1
        assert app.is_running


async def test_missing_weights_file_gives_a_clear_message(samples_dir, tmp_path):
    missing = tmp_path / "nope.pth"
    app = make_app(str(samples_dir), "--model", "resnet50", "--weights", str(missing))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.model is None and "nope.pth" in app.state.model_error
        assert "nope.pth" in app.state.status_text


async def test_empty_folder_says_so(tmp_path):
    app = make_app(str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.entries == []
        assert "no images found" in app.state.folder_error
        assert "no images found" in panel(app, "p-clean").message
        await pilot.press("a", "e", "s", "j", "v")
        await pilot.pause()
        assert app.is_running


async def test_help_lists_every_binding(samples_dir):
    from advtui.tui.screens import KEYS

    app = make_app(str(samples_dir))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("a", "j")  # the main screen's keys wait until the help is closed
        await pilot.pause()
        assert app.state.job is None and app.state.current == 0
        documented = " ".join(k for k, _ in KEYS).lower()
        for binding in app.BINDINGS:
            shown = binding.key_display or binding.key.split(",")[0]
            assert binding.show or shown in documented, binding
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ != "HelpScreen"
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_status_result_is_only_about_the_current_image_and_settings(samples_dir, shap_gate):
    """`e` on one image, move on while SHAP runs: the status never shows that image's result."""
    gate = shap_gate  # SHAP waits for it, so the job is still running when the test moves on
    app = make_app(str(samples_dir), "--nsamples", "16")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        first_key = app.state.job.key
        # the attack half finishes first (JobDone final=False) while this image is selected
        await wait_for(pilot, lambda: first_key in app.state.outcomes, what="attack half")
        assert app.state.job is not None  # SHAP still running
        await pilot.press("j")
        gate.set()
        await wait_job(pilot)
        assert app.state.current == 1 and app.state.current_outcome is None
        assert "success" not in app.state.status_text and "failed" not in app.state.status_text
        await pilot.press("j", "k")
        await pilot.pause()
        assert "success" not in app.state.status_text and "failed" not in app.state.status_text
        await pilot.press("k")  # back to the attacked image: its result is shown
        await pilot.pause()
        outcome = app.state.current_outcome
        assert outcome is not None
        summary = "success" if outcome.success else "failed"
        assert summary in app.state.status_text
        # each key changes a setting (and they add up: never back to the attacked settings),
        # so no result is current and none is shown
        for key in ("m", "t", "plus", "minus", "right_square_bracket"):
            await pilot.press(key)
            await pilot.pause()
            assert app.state.current_outcome is None, key
            assert summary not in app.state.status_text, key


@pytest.mark.parametrize("size", [(160, 50), (120, 40), (100, 30)])
async def test_tables_end_on_one_row_and_panel_titles_are_separated(samples_dir, size):
    app = make_app(str(samples_dir))
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        confidence = app.query_one(ConfidenceTable).region
        evidence = app.query_one(EvidenceTable).region
        if size[0] >= 130:
            assert confidence.bottom == evidence.bottom
        else:  # narrow: one table at a time, the one that goes with the view
            assert confidence.area > 0 and evidence.area == 0
        left, middle = panel(app, "p-clean"), panel(app, "p-adv")
        # neighbouring panels: a visible rule (border) lies between their titles
        assert left.region.right <= middle.region.x
        assert middle.styles.border_left[0] not in ("", "none", "hidden")


async def test_shap_panels_say_shap_is_running_after_a_cached_attack(samples_dir, shap_gate):
    """`a`, then `e`: the attack is cached, only SHAP runs, and the SHAP panels say so."""
    gate = shap_gate
    app = make_app(str(samples_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        panel = app.query_one("#p-shap-clean", PixelView)
        assert panel.message == "press e for SHAP"
        await pilot.press("e")
        await pilot.pause()
        try:
            assert app.state.job is not None and app.state.job.kind == "explain"
            assert panel.message.startswith("running SHAP")
        finally:
            gate.set()
        await wait_job(pilot)
        assert panel.image is not None


async def test_ctrl_c_quits_like_in_any_terminal_program(small_folder):
    app = make_app(str(small_folder))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running


async def test_m_cycles_the_chosen_methods_and_runs_a_torchattacks_attack(samples_dir):
    """--methods pgd,ta:FGSM: `m` goes pgd → ta:FGSM → pgd; `a` runs ta:FGSM through the same
    pipeline, and the perturbation panel names its norm and size."""
    pytest.importorskip("torchattacks")
    app = make_app(str(samples_dir), "--methods", "pgd,ta:FGSM", "--eps", "4/255")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("m")
        assert app.state.settings.method == "ta:FGSM"
        await pilot.press("a")
        await wait_job(pilot)
        outcome = app.state.current_outcome
        assert outcome.settings.method == "ta:FGSM" and outcome.linf <= 4 / 255
        title = str(panel(app, "p-pert").border_title)
        assert "‖δ‖∞ = 4/255" in title and "×" in title
        await pilot.press("m")
        assert app.state.settings.method == "pgd"
