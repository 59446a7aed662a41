"""The results view: ``advtui OUT`` on an eval run made here from the tiny CNN — its rows,
sorting, filters, Enter → the row reproduced in the explorer, the plots, bad input."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from advtui.eval.browse import open_run
from advtui.tui.evalrow import RowCheck
from advtui.tui.plotdata import PlotScreen
from advtui.tui.results import ResultsScreen
from advtui.tui.runtable import RunTable

from . import eval_run
from .conftest import make_app, wait_for, wait_job

tiny, run_dir = eval_run.tiny, eval_run.run_dir  # the fixtures


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


async def _results(pilot) -> ResultsScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen), what="results")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.run.complete, what="indexed")
    await pilot.pause()
    return screen


async def test_advtui_out_opens_the_rows_sorted_and_missed_only(run_dir, tiny):
    rows = _rows(run_dir)
    app = make_app(str(run_dir), "--threads", "1", classifier=tiny)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await _results(pilot)
        table = screen.query_one(RunTable)
        assert len(table.order) == len(rows)
        assert list(table.order) == list(range(len(rows)))  # file order first
        run = open_run(run_dir)
        run.scan()
        score, caught = run.scores(None, None)
        await pilot.press("s")  # sort: the focused detector's score, highest first
        assert screen.sort == "score" and screen.detector == "shap-lr"
        shown = score[table.order, 0]
        finite = shown[np.isfinite(shown)]
        assert len(finite) > 4 and list(finite) == sorted(finite, reverse=True)
        assert np.isnan(shown[len(finite) :]).all()  # unscored rows last
        await pilot.press("o")
        shown = score[table.order, 0]
        finite = shown[np.isfinite(shown)]
        assert list(finite) == sorted(finite)
        await pilot.press("f")  # missed only
        assert screen.verdict == "missed only"
        missed = [
            i for i in range(len(rows)) if rows[i]["variant"] != "clean" and caught[i, 0] == 0
        ]
        assert missed and sorted(table.order) == missed
        for i in table.order:
            r = rows[i]
            assert r["variant"] != "clean" and r["status"] == "ok"
            assert score[i, 0] < _threshold(run_dir, "pooled", "shap-lr")
        await pilot.press("f")  # false alarms only: clean rows the detector flagged
        alarms = [
            i for i in range(len(rows)) if rows[i]["variant"] == "clean" and caught[i, 0] == 1
        ]
        assert sorted(table.order) == alarms
        await pilot.press("f", "m")  # all rows of one mode (and the clean rows)
        assert screen.mode == "untargeted"
        assert {rows[i]["variant"] for i in table.order} == {"clean", "untargeted"}


def _threshold(out: Path, variant: str, detector: str) -> float:
    run = open_run(out)
    b = run.block("8/255", variant)
    return float(b.threshold[b.detectors.index(detector)])


def test_caught_share_is_the_summarys_tpr_at_5fpr(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    run = open_run(run_dir)
    assert run.blocks
    for b in run.blocks:
        got = b.caught()
        for j, d in enumerate(b.detectors):
            want = summary["sweep"][b.eps][b.variant]["detectors"][d]["tpr_at_5fpr"]
            assert want is not None and got[b.y == 1, j].mean() == pytest.approx(want, abs=1e-12)
            # the block's rows are the lines they name
        rows = _rows(run_dir)
        for line, y in zip(b.line, b.y, strict=True):
            assert (rows[line]["variant"] != "clean") == bool(y)


async def test_enter_reproduces_the_row_in_the_explorer(run_dir, tiny):
    rows = _rows(run_dir)
    pick = next(
        i for i, r in enumerate(rows) if r["variant"] == "runner-up" and r["status"] == "ok"
    )
    row = rows[pick]
    app = make_app(str(run_dir), "--threads", "1", classifier=tiny)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await _results(pilot)
        table = screen.query_one(RunTable)
        for _ in range(pick):
            await pilot.press("j")
        assert table.current == pick
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ResultsScreen), what="explorer")
        await wait_for(pilot, lambda: bool(app.query(RowCheck)), what="row check")
        check = app.query_one(RowCheck)
        await wait_for(pilot, lambda: check.matches is not None, timeout=120, what="reproduced")
        await wait_job(pilot)
        assert app.state.current_entry.name == Path(row["source"]).name
        assert (
            app.state.settings.seed == row["attack_seed"]
            and app.state.settings.target == "runner-up"
        )
        out = app.state.current_outcome
        assert out.adv_top5[0]["index"] == row["pred"]
        assert math.isclose(out.adv_top5[0]["prob"], row["confidence"], abs_tol=1e-5)
        assert math.isclose(
            out.evidence["adversarial"].mean_shap, row["evidence"]["mean_shap"], rel_tol=1e-3
        )
        assert check.matches, check.rows
        assert any(what == "mean SHAP, clean" for what, *_ in check.rows)
        await pilot.press("r")  # back to the rows, where they were
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen), what="back")
        assert app.screen.query_one(RunTable).current == pick


async def test_plots_open_for_each_mode(run_dir, tiny):
    app = make_app(str(run_dir), "--threads", "1", classifier=tiny)
    async with app.run_test(size=(80, 24)) as pilot:
        await _results(pilot)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, PlotScreen), what="plot")
        await pilot.pause()
        text = str(app.screen.query_one("#plot").render())
        assert "untargeted" in text and "clean (n=" in text
        await pilot.press("m")
        await pilot.pause()
        assert "runner-up" in str(app.screen.query_one("#plot").render())
        await pilot.press("c")
        await pilot.pause()
        text = str(app.screen.query_one("#plot").render())
        assert "shap-lr  AUC" in text and "TPR@5%" in text


async def test_corrupt_line_and_no_summary_are_one_line_each(run_dir, tiny, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)
    lines = (bad / "results.jsonl").read_text().splitlines()
    lines[2] = '{"image": "x.jpg", "broken'
    (bad / "results.jsonl").write_text("\n".join(lines) + "\n" + '{"partial": ')
    (bad / "summary.json").unlink()
    (bad / "oof_scores.npz").unlink()
    app = make_app(str(bad), "--threads", "1", classifier=tiny)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _results(pilot)
        await wait_for(pilot, lambda: any("line 3" in n for _, n in app.notices), what="note")
        notes = [n for _, n in app.notices]
        assert any("no summary yet" in n for n in notes)
        assert len(screen.query_one(RunTable).order) == len(lines)  # the partial line waits
        await pilot.press("f")  # no scores: says so, keeps going
        await pilot.press("s", "j", "enter")
        assert app.is_running


async def test_r_opens_the_run_of_detector_out(run_dir, tiny):
    photos = json.loads((run_dir / "run.json").read_text())["folder"]
    app = make_app(photos, "--threads", "1", "--detector", str(run_dir), classifier=tiny)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.state.model is not None, what="model")
        assert not isinstance(app.screen, ResultsScreen)  # the explorer first
        await pilot.press("r")
        screen = await _results(pilot)
        assert len(screen.query_one(RunTable).order) == len(_rows(run_dir))
        await pilot.press("escape")
        assert not isinstance(app.screen, ResultsScreen)


async def test_r_without_a_run_says_how_to_get_one(tiny, samples_dir):
    app = make_app(str(samples_dir), "--threads", "1", classifier=tiny)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ResultsScreen)
        assert any("no eval run" in n for _, n in app.notices)


async def test_u_reloads_a_run_that_was_still_running(run_dir, tiny, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(run_dir, part)
    full = (part / "results.jsonl").read_text()
    lines = full.splitlines(keepends=True)
    (part / "results.jsonl").write_text("".join(lines[:5]))
    summary, scores = (part / "summary.json").read_bytes(), (part / "oof_scores.npz").read_bytes()
    (part / "summary.json").unlink()
    (part / "oof_scores.npz").unlink()
    app = make_app(str(part), "--threads", "1", classifier=tiny)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _results(pilot)
        assert len(screen.query_one(RunTable).order) == 5 and screen.run.detectors == []
        (part / "results.jsonl").write_text(full)  # the run goes on …
        await pilot.press("u")
        await wait_for(pilot, lambda: len(screen.run) == len(lines), what="new rows")
        await wait_for(pilot, lambda: len(screen.query_one(RunTable).order) == len(lines))
        (part / "summary.json").write_bytes(summary)  # … and finishes
        (part / "oof_scores.npz").write_bytes(scores)
        await pilot.press("u")
        await wait_for(pilot, lambda: app.screen is not screen, what="reopened")
        fresh = await _results(pilot)
        assert fresh.run.detectors == ["shap-lr", "confidence", "squeeze"]
