"""No silent phase: after its rows an eval says what it does (progress.json ``phase``, the
terminal/log line), stays ``running`` until summary.json exists, and times every phase."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from advtui.eval import report
from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval
from advtui.eval.phases import PHASES, Phases
from advtui.eval.progress import read_progress
from tests.conftest import make_tiny_classifier


def _cfg(samples_dir, out: Path, **kw) -> EvalConfig:
    base = dict(
        folder=str(samples_dir),
        out=str(out),
        n=3,
        targets=["untargeted", "runner-up"],
        eps=["32/255"],
        method="bim",
        steps=2,
        nsamples=4,
        batch_size=4,
        detectors=["shap-lr", "confidence", "mahalanobis"],
        plots=True,
        folds=2,
    )
    return EvalConfig(**(base | kw))


class _Watch:
    """The status snapshots of a run, with what the folder held at each: progress.json's state
    and whether summary.json existed."""

    def __init__(self, out: Path) -> None:
        self.out, self.seen = out, []

    def __call__(self, snap: dict) -> None:
        on_disk = read_progress(self.out) or {}
        self.seen.append(
            (
                snap["phase"],
                snap["state"],
                snap["last"],
                on_disk.get("state"),
                on_disk.get("phase"),
                (self.out / "summary.json").exists(),
            )
        )

    def phases(self) -> list[str]:
        out: list[str] = []
        for phase, *_ in self.seen:
            if not out or out[-1] != phase:
                out.append(phase)
        return out


def test_phases_are_announced_in_order_and_done_only_after_the_summary(samples_dir, tmp_path):
    out = tmp_path / "run"
    watch = _Watch(out)
    run_eval(_cfg(samples_dir, out), make_tiny_classifier(num_classes=10, size=16), status=watch)
    assert watch.phases() == ["rows", "features", "detectors", "detector", "plots", "summary"]
    # every phase reached progress.json as it started (a second terminal sees each)
    written = [p for _ph, _st, _last, _disk_state, p, _s in watch.seen]
    for phase in watch.phases()[1:]:
        assert phase in written
    # never `done` without summary.json, and `running` while summary.json was missing
    for _phase, state, _last, disk_state, _p, summary_exists in watch.seen:
        if not summary_exists:
            assert state == "running" and disk_state in ("running", None)
    assert watch.seen[-1][1] == "done" and watch.seen[-1][5]
    assert read_progress(out)["state"] == "done"
    # the detector phase says which variant, detector and fold it fits; shap-rf runs too
    # (summary.json's rf entry is its result), after the three asked for
    lasts = [last for phase, _st, last, *_ in watch.seen if phase == "detectors"]
    assert any("detector 3 of 4 mahalanobis, fold 1 of 2" in s for s in lasts)
    assert any("detector 4 of 4 shap-rf, fold 2 of 2" in s for s in lasts)
    assert any(s.startswith("pooled (3 of 3)") for s in lasts)
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["phases"]) == watch.phases()
    assert all(v >= 0 for v in summary["phases"].values())
    assert set(summary["phases"]) <= set(PHASES)


def test_a_failing_detector_phase_ends_as_failed_not_running(samples_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"

    def broken(*_a, **_kw):
        raise RuntimeError("detector exploded")

    monkeypatch.setattr(report, "summarize", broken)
    with pytest.raises(RuntimeError):
        run_eval(_cfg(samples_dir, out, plots=False), make_tiny_classifier(num_classes=10, size=16))
    state = read_progress(out)
    assert state["state"] == "failed" and state["phase"] == "detectors"
    assert not (out / "summary.json").exists()


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class _Tracker:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def enter_phase(self, name, what, finished):
        self.events.append(("enter", name, what, dict(finished)))

    def tick(self, what):
        self.events.append(("tick", what))


def test_phase_times_add_up_per_phase():
    clock, tracker = _Clock(), _Tracker()
    phases = Phases(tracker, clock=clock)
    phases.enter("rows")
    clock.t = 10.0
    phases.enter("features", "writing features.npz")
    clock.t = 10.5
    phases.enter("detectors")
    phases.fold_progress("pooled (1 of 1)", 2)("mahalanobis", 2, 1, 5)
    clock.t = 13.0
    assert phases.seconds() == {"rows": 10.0, "features": 0.5, "detectors": 2.5}
    assert tracker.events[1] == ("enter", "features", "writing features.npz", {"rows": 10.0})
    assert tracker.events[-1] == (
        "tick",
        "pooled (1 of 1): detector 2 of 2 mahalanobis, fold 1 of 5",
    )


def test_a_log_gets_one_line_per_phase_not_one_per_fold():
    from advtui.cli.eval_display import Progress

    clock = _Clock()
    buf = io.StringIO()
    p = Progress(buf, clock=clock)
    p(0, 2, "starting")
    p(2, 2, "b.jpg untargeted")
    snap = {"phase": "detectors", "phase_elapsed_seconds": 0.0, "last": "pooled: fold 1 of 5"}
    for fold in range(1, 6):  # five folds within a second: the phase is announced once
        p(2, 2, f"pooled: fold {fold} of 5")
        p.status(snap | {"last": f"pooled: fold {fold} of 5"})
    clock.t = 31.0  # a long phase: a line every 30 s says where it is
    p(2, 2, "pooled: fold 5 of 5")
    p.status(snap | {"phase": "summary", "last": "writing summary.json"})
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("eval [") and "2/2 rows" in lines[1]
    assert lines[2] == "eval: detectors 00:00:00: pooled: fold 1 of 5"
    assert lines[3].startswith("eval: detectors") and "fold 5 of 5" in lines[3]
    assert lines[4] == "eval: summary 00:00:00: writing summary.json"
    assert len(lines) == 5


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_the_live_display_shows_the_phase_its_time_and_its_line():
    from advtui.cli.eval_display import LiveProgress

    err = _Tty()
    p = LiveProgress(err, clock=lambda: 0.0)
    p(4, 4, "b.jpg untargeted")  # the rows are done
    p(4, 4, "pooled (3 of 3): detector 5 of 5 mahalanobis, fold 2 of 5")
    p.status(
        {
            "phase": "detectors",
            "phase_elapsed_seconds": 75.0,
            "last": "pooled (3 of 3): detector 5 of 5 mahalanobis, fold 2 of 5",
        }
    )
    p.end_line()
    text = err.getvalue()
    assert "detectors 00:01:15: pooled (3 of 3): detector 5 of 5 mahalanobis, fold 2 of 5" in text
