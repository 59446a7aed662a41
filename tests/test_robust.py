"""Nothing lost, nothing silent: one eval per folder, whole result sets, SIGTERM/SIGHUP, ENOSPC.

The CLI runs in a child process (tests/robust_child.py: the tiny CNN, and hooks that slow eval
down or kill the process between two files) so that real signals and kills reach it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from advtui.eval.progress import read_progress
from tests.conftest import ROOT, SAMPLES

EVAL = [
    "eval",
    str(SAMPLES),
    "--n",
    "3",
    "--steps",
    "2",
    "--nsamples",
    "4",
    "--eps",
    "32/255",
    "--detectors",
    "shap-lr,confidence",
    "--no-plots",
]


def _child(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.robust_child", *args],
        cwd=ROOT,
        env=os.environ | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(args: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    proc = _child(args, **env)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _wait_rows(out: Path, proc: subprocess.Popen, rows: int = 1, timeout: float = 90) -> dict:
    """progress.json once ``rows`` rows are stored by ``proc``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        snap = read_progress(out)
        if snap and snap["pid"] == proc.pid and snap["rows"]["done"] >= rows:
            return snap
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no {rows} rows in {timeout} s")


# ----------------------------------------------------------------------------- item 1: one writer


def test_a_second_eval_on_a_folder_is_refused_naming_the_holder_and_a_killed_one_blocks_nothing(
    tmp_path,
):
    out = tmp_path / "run"
    # 30 s after each row: the refusals below (two more processes starting, slow on a loaded
    # machine) always land while the first run is mid-way; it is killed, not waited for
    first = _child([*EVAL, "--out", str(out)], ROBUST_CHILD_SLOW_ROW="30")
    try:
        _wait_rows(out, first)
        for extra in ([], ["--resume"]):
            second = _run([*EVAL, "--out", str(out), *extra])
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and f"pid {first.pid}" in lines[0], second.stderr
            assert "in use by another advtui eval" in lines[0]
        assert first.poll() is None, "still running: the refusals were not the end of it"
        first.send_signal(signal.SIGKILL)  # as an out-of-memory kill would
        first.wait(timeout=30)
    finally:
        first.kill()
    rows = (out / "results.jsonl").read_text().splitlines()
    resumed = _run([*EVAL, "--out", str(out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    after = (out / "results.jsonl").read_text().splitlines()
    assert after[: len(rows)] == rows and len(after) > len(rows)
    keys = [tuple(json.loads(r)[k] for k in ("image", "variant", "eps_255")) for r in after]
    assert len(keys) == len(set(keys)), "every row stored once"
    assert read_progress(out)["state"] == "done"


def test_the_lock_is_per_process_and_given_back(tmp_path):
    from advtui.eval.dataset import EvalError
    from advtui.eval.lock import holder, holding, lock_out, unlock_out

    with holding(tmp_path):
        assert holder(tmp_path) == os.getpid()
        lock_out(tmp_path)  # again in the process that holds it: fine
        unlock_out(tmp_path)
        code = "import sys; from advtui.eval.lock import lock_out; lock_out(sys.argv[1]); print('locked')"
        held = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT
        )
        assert held.returncode != 0 and f"pid {os.getpid()}" in held.stderr
        assert EvalError.__name__ in held.stderr
    free = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT
    )
    assert free.returncode == 0 and free.stdout.strip() == "locked", free.stderr


# ----------------------------------------------------------------------------- item 4: signals


def test_sigterm_mid_eval_keeps_rows_writes_features_says_resume_and_exits_143(tmp_path):
    out = tmp_path / "run"
    proc = _child([*EVAL, "--out", str(out)], ROBUST_CHILD_SLOW_ROW="0.5")
    try:
        _wait_rows(out, proc)
        proc.send_signal(signal.SIGTERM)  # what timeout, docker stop or a scheduler sends
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    snap = read_progress(out)
    assert snap["state"] == "interrupted" and snap["rows"]["done"] >= 1
    assert (out / "features.npz").is_file()
    assert "stored rows are kept; continue with: advtui eval" in err and "--resume" in err
    assert err.strip().splitlines()[-1] == "advtui: interrupted (SIGTERM)"
    resumed = _run([*EVAL, "--out", str(out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert read_progress(out)["state"] == "done"
    assert (out / "summary.json").is_file()


def test_sighup_mid_eval_is_an_interruption_with_exit_129(tmp_path):
    out = tmp_path / "run"
    proc = _child([*EVAL, "--out", str(out)], ROBUST_CHILD_SLOW_ROW="0.5")
    try:
        _wait_rows(out, proc)
        proc.send_signal(signal.SIGHUP)  # the terminal or the SSH session went away
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 129, err
    assert read_progress(out)["state"] == "interrupted"
    assert (out / "features.npz").is_file()


def test_a_signal_during_a_set_waits_until_the_set_is_in_place(tmp_path):
    from advtui.outputs import write_set

    def write(staging: Path) -> list[Path]:
        (staging / "a.txt").write_text("a")
        os.kill(os.getpid(), signal.SIGINT)  # arrives between two files
        (staging / "b.txt").write_text("b")
        return [staging / "a.txt", staging / "b.txt"]

    with pytest.raises(KeyboardInterrupt) as info:
        write_set(tmp_path / "set", write)
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["a.txt", "b.txt"]
    assert info.value.saved == str(tmp_path / "set")  # the command says the set is whole


# ----------------------------------------------------------------------------- item 2: whole sets


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_kill_between_files_of_attack_out_leaves_the_previous_set(tmp_path):
    image, out = sorted(SAMPLES.glob("*.jpg"))[0], tmp_path / "res"
    args = ["attack", str(image), "--steps", "2", "--nsamples", "4", "--out", str(out)]
    first = _run([*args, "--explain", "--seed", "1"])
    assert first.returncode == 0, first.stderr
    before = _files(out)
    assert {"clean.png", "adversarial.png", "shap_clean.png", "result.json"} <= set(before)
    killed = _run([*args, "--eps", "4/255", "--seed", "2"], ROBUST_CHILD_KILL_AFTER_FILES="2")
    assert killed.returncode == -signal.SIGKILL
    assert _files(out) == before, "the previous complete set, byte for byte"
    again = _run([*args, "--eps", "4/255", "--seed", "2"])  # the next run replaces it whole
    assert again.returncode == 0, again.stderr
    after = _files(out)
    assert set(after) == {"clean.png", "adversarial.png", "perturbation.png", "result.json"}
    assert json.loads(after["result.json"])["eps"] == pytest.approx(4 / 255)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".advtui-")], "no leftovers"


def test_a_set_beside_other_files_keeps_them_and_a_failed_write_changes_nothing(tmp_path):
    from advtui.outputs import recover, write_set

    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "results.jsonl").write_text("rows\n")  # not part of the set: kept
    write_set(folder, lambda s: (s / "summary.json").write_text("1"), owned={"summary.json"})
    assert _files(folder) == {"results.jsonl": b"rows\n", "summary.json": b"1"}

    def failing(staging: Path) -> None:
        (staging / "summary.json").write_text("2")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        write_set(folder, failing, owned={"summary.json"})
    assert _files(folder) == {"results.jsonl": b"rows\n", "summary.json": b"1"}
    # a kill during the renames leaves a journal: the next write (or eval's start) finishes it
    staging = folder / ".advtui-new-1-x"
    staging.mkdir()
    (staging / "summary.json").write_text("3")
    (folder / ".advtui-commit").write_text(
        json.dumps({"staging": staging.name, "names": ["summary.json"], "remove": []})
    )
    assert recover(folder) is True
    assert _files(folder) == {"results.jsonl": b"rows\n", "summary.json": b"3"}


# ----------------------------------------------------------------------------- item 9


def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    from advtui.images import atomic_write_bytes

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(tmp_path / "summary.json", b"{}")
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(tmp_path / "summary.json")
    assert not list(tmp_path.iterdir())


def test_eval_that_cannot_write_a_plot_is_failed_not_done(tmp_path, monkeypatch):
    import advtui.eval.plots
    from advtui.errors import OutputError
    from advtui.eval.config import EvalConfig
    from advtui.eval.loop import run_eval
    from tests.conftest import make_tiny_classifier

    def no_space(fig, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(advtui.eval.plots, "_save", no_space)
    cfg = EvalConfig(
        folder=str(SAMPLES),
        out=str(tmp_path / "run"),
        n=2,
        targets=["untargeted"],
        eps=["32/255"],
        steps=2,
        nsamples=4,
        detectors=["shap-lr"],
        plots=True,
    )
    with pytest.raises(OutputError) as info:
        run_eval(cfg, make_tiny_classifier(num_classes=10, size=16))
    assert "histogram.png: no space left on device" in str(info.value)
    assert read_progress(tmp_path / "run")["state"] == "failed"
    assert not (tmp_path / "run" / "summary.json").exists(), "no summary without its plots"
