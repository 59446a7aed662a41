"""`advtui eval` engines, threads and progress: the in-process and the Ray engine give the same
rows (also across a stop and --resume, and across a SIGKILL of the whole process group and
--resume), --threads and the thread policy, progress.json and the live display.

The Ray tests (marker ``ray``) start one local Ray for the module (2 CPUs, no dashboard) and
load a tiny TorchScript model in each actor (a monkeypatch cannot reach actor processes); the
kill tests run ``python -m advtui eval`` in a process group of its own with the same model file.
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from advtui import threads
from advtui.cli import main
from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval
from advtui.eval.progress import Tracker, read_progress
from tests.conftest import TinyNet, make_tiny_classifier, threads_kept

ROOT = Path(__file__).resolve().parent.parent
EVAL_FLAGS = [
    "--n", "3", "--views", "2", "--targets", "untargeted,random", "--eps", "32/255",
    "--steps", "3", "--nsamples", "4", "--batch-size", "2", "--no-plots", "--device", "cpu",
    "--detectors", "shap-lr,confidence",
]  # fmt: skip
SIZE_FLAGS = ["--input-size", "16", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25"]

#: One pytest-xdist worker runs this module (``--dist loadgroup``, pyproject's addopts): one
#: local Ray and one reference run, not one per worker.
pytestmark = pytest.mark.xdist_group("eval-engines")


@pytest.fixture(scope="module")
def tiny_script(tmp_path_factory) -> Path:
    """The conftest tiny CNN as a TorchScript file: any process can load it by path."""
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    torch.manual_seed(0)
    torch.jit.script(TinyNet(10).eval()).save(str(path))
    return path


@pytest.fixture
def keep_threads():
    with threads_kept():
        for name in threads.THREAD_ENV:
            os.environ.pop(name, None)
        yield


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _key(r: dict) -> tuple:
    return (r["image"], r["variant"], r["eps_255"])


def _same(a, b, where=""):
    """Equal, floats to 1e-5 relative or 1e-6 absolute (rows of two processes or batchings may
    differ in the last bits; squeeze scores are differences of softmax values)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), (where, set(a) ^ set(b))
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6), where
    else:
        assert a == b, where


def _assert_same_rows(out: Path, ref: Path) -> None:
    """Same rows (whatever their order in the file) with the same feature vectors."""
    rows, want = _rows(out), _rows(ref)
    assert len(rows) == len({_key(r) for r in rows}) == len(want)
    feats, ref_feats = np.load(out / "features.npz"), np.load(ref / "features.npz")
    by_key = {_key(r): r for r in want}
    for r in rows:
        w = by_key[_key(r)]
        _same({k: v for k, v in r.items() if k != "f"}, {k: v for k, v in w.items() if k != "f"})
        assert (r["f"] is None) == (w["f"] is None)
    order = {k: i for i, k in enumerate(zip(ref_feats["image"], ref_feats["variant"], strict=True))}
    idx = [order[k] for k in zip(feats["image"], feats["variant"], strict=True)]
    np.testing.assert_allclose(feats["features"], ref_feats["features"][idx], rtol=1e-5, atol=1e-8)
    summary = json.loads((out / "summary.json").read_text().replace(str(out), "OUT"))
    want = json.loads((ref / "summary.json").read_text().replace(str(ref), "OUT"))
    assert set(summary.pop("phases")) >= {"rows", "detectors", "summary"}  # times: not equal
    want.pop("phases")
    _same(summary, want)


# ----------------------------------------------------------------------------- threads


def test_cgroup_quota_v2_v1_and_unlimited(tmp_path):
    v2 = tmp_path / "v2"
    (v2 / "user.slice" / "job").mkdir(parents=True)
    (v2 / "user.slice" / "cpu.max").write_text("300000 100000\n")  # parent: 3 CPUs
    (v2 / "user.slice" / "job" / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs
    proc = tmp_path / "cgroup"
    proc.write_text("0::/user.slice/job\n")
    assert threads.cgroup_cpu_limit(v2, proc) == pytest.approx(1.5)
    (v2 / "user.slice" / "job" / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_cpu_limit(v2, proc) == pytest.approx(3.0)  # the parent's limit
    (v2 / "user.slice" / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_cpu_limit(v2, proc) is None

    v1 = tmp_path / "v1"
    (v1 / "cpu,cpuacct" / "docker" / "abc").mkdir(parents=True)
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("200000\n")
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us").write_text("100000\n")
    proc.write_text("12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    assert threads.cgroup_cpu_limit(v1, proc) == pytest.approx(2.0)
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cgroup_cpu_limit(v1, proc) is None


def test_fit_threads_uses_affinity_quota_and_load(monkeypatch):
    monkeypatch.setattr(threads, "affinity_cpus", lambda: 8)
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: 2.5)
    assert threads.available_cpus() == 2  # quota rounds down
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: None)
    assert threads.available_cpus() == 8
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(threads, "busy_cpus_now", lambda: None)  # no /proc/stat: load average
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert threads.fit_threads() == 8  # idle
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (6.0, 0.0, 0.0))
    assert threads.fit_threads() == 2  # 6 of 8 CPUs busy elsewhere
    assert threads.fit_threads(load_aware=False) == 8
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (30.0, 0.0, 0.0))
    assert threads.fit_threads() == 1  # never 0
    assert threads.split(8, 3) == 2 and threads.split(2, 4) == 1


def test_threads_flag_sets_torch_threads(tiny_script, samples_dir, keep_threads, capsys):
    argv = ["predict", str(samples_dir / "espresso.jpg"), "--model", str(tiny_script), "--json"]
    assert main([*argv, *SIZE_FLAGS[:2], "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1 and threads.configured() == 1
    assert main([*argv, *SIZE_FLAGS[:2], "--threads", "0"]) == 2
    assert "--threads 0: must lie in [1, 4096]" in capsys.readouterr().err


def test_threads_apply_before_torch_is_imported():
    """The explorer configures threads before its worker imports torch: the environment."""
    code = (
        "import sys; from advtui import threads; n = threads.configure(1); "
        "assert 'torch' not in sys.modules; import torch; print(n, torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in threads.THREAD_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["1", "1"]


# ----------------------------------------------------------------------------- progress


def test_tracker_rates_eta_and_resumed_rows(tmp_path):
    t = {"now": 100.0}
    seen = []
    tr = Tracker(
        tmp_path,
        rows=(30, 90),
        images=(10, 30),
        progress=lambda d, n, w: seen.append((d, n, w)),
        clock=lambda: t["now"],
    )
    tr.tick("resumed")
    assert tr.rates() == (None, None, None)  # rows loaded from the last run are not timed
    t["now"] += 60
    for _ in range(3):
        tr.rows(1, what="a.jpg clean")
    tr.rows(3, finished=True, what="b.jpg misclassified")
    rows_min, images_min, eta = tr.rates()
    assert rows_min == pytest.approx(6.0) and images_min == pytest.approx(1.0)
    assert eta == pytest.approx((90 - 36) / 6.0 * 60)
    assert seen[-1] == (36, 90, "b.jpg misclassified")
    tr.finish("interrupted")
    snap = read_progress(tmp_path)
    assert snap["state"] == "interrupted" and snap["rows"] == {"done": 36, "total": 90}
    assert snap["images"] == {"done": 11, "total": 30} and snap["resumed_rows"] == 30
    assert snap["images_per_min"] == pytest.approx(1.0)


def test_progress_json_follows_an_in_process_run(samples_dir, tmp_path):
    out = tmp_path / "out"
    mid = []

    def progress(done, total, what):
        if done == 5:
            mid.append(read_progress(out))

    cfg = EvalConfig(
        folder=str(samples_dir), out=str(out), n=2, views=1, eps=["32/255"], steps=2,
        nsamples=2, batch_size=2, plots=False, targets=["untargeted", "runner-up"],
    )  # fmt: skip
    run_eval(cfg, make_tiny_classifier(), progress=progress)
    assert mid and mid[0]["state"] == "running" and mid[0]["rows"]["total"] == 6
    snap = read_progress(out)
    assert snap["state"] == "done" and snap["engine"] == "inprocess"
    assert snap["rows"] == {"done": 6, "total": 6} and snap["images"] == {"done": 2, "total": 2}
    assert snap["images_per_min"] > 0 and snap["eta_seconds"] == 0
    [worker] = snap["workers"]
    assert worker["rows"] == 6 and worker["state"] == "done" and worker["threads"] >= 1
    assert not list(out.glob(".progress.json.*"))  # no temp file left behind


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_live_display_shows_rates_and_workers_with_names_escaped():
    from advtui.cli.eval_display import LiveProgress

    err = _Tty()
    p = LiveProgress(err, clock=lambda: 0.0)
    p.status(
        {
            "images": {"done": 3, "total": 10},
            "images_per_min": 12.5,
            "workers": [
                {"id": 0, "host": "gpu1", "pid": 7, "device": "cuda:0", "state": "working",
                 "rows": 9, "batch": "8 images from [red]evil\x1b[2J.jpg",
                 "last": "[b]x.jpg clean"},
                {"id": 1, "host": "gpu1", "pid": 8, "device": "cuda:1", "state": "idle",
                 "rows": 4},
            ],
        }
    )  # fmt: skip
    p(30, 100, "[b]x.jpg clean")
    p.end_line()
    text = err.getvalue()
    for needle in ("30/100 rows", "3/10 images", "12.5 images/min", "worker 0", "worker 1"):
        assert needle in text, needle
    assert "cuda:1" in text and "[b]x.jpg clean" in text
    assert "[red]evil\\x1b[2J.jpg" in text and "\x1b[2J" not in text  # markup, control chars
    p.end_line()  # twice is harmless


def test_engine_flags_need_engine_ray_and_ray_needs_installing(
    samples_dir, tmp_path, capsys, monkeypatch
):
    argv = ["eval", str(samples_dir), "--out", str(tmp_path / "o")]
    assert main([*argv, "--workers", "2"]) == 2
    assert "--workers needs --engine ray" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    assert main([*argv, "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pip install "advtui[ray]"' in err
    assert not (tmp_path / "o" / "results.jsonl").exists()  # checked before any work


# ----------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tiny_script, samples_dir, tmp_path_factory):
    """The in-process run (one torch thread, like each Ray worker)."""
    out = tmp_path_factory.mktemp("ref")
    argv = ["eval", str(samples_dir), "--out", str(out), "--model", str(tiny_script)]
    with threads_kept():
        assert main([*argv, *SIZE_FLAGS, *EVAL_FLAGS, "--threads", "1"]) == 0
    return out


@pytest.mark.ray
def test_ray_engine_stopped_midway_resumes_to_the_in_process_rows_transfer_included(
    ray_local, tiny_script, samples_dir, tmp_path, capsys
):
    """A Ray run stopped after 5 rows and resumed on two workers gives the uninterrupted
    in-process run's rows, --transfer-to included (each worker holds the second model too);
    every row that arrived before the stop is stored, nothing more; progress.json lists both
    workers. --adaptive stays in-process and says how to combine them."""
    from advtui.eval.ray_engine import RayEngine
    from advtui.models import load_model

    other = tmp_path / "other.pt"
    torch.manual_seed(1)
    torch.jit.script(TinyNet(10).eval()).save(str(other))
    base = ["eval", str(samples_dir), "--model", str(tiny_script), *SIZE_FLAGS, *EVAL_FLAGS]
    flags = ["--transfer-to", str(other)]
    with threads_kept():
        assert main([*base, "--out", str(tmp_path / "ref"), *flags, "--threads", "1"]) == 0

    factory = functools.partial(
        load_model, str(tiny_script), device="cpu", input_size=16, mean=(0.5,) * 3,
        std=(0.25,) * 3,
    )  # fmt: skip
    out = tmp_path / "ray"
    cfg = EvalConfig(
        folder=str(samples_dir), out=str(out), n=3, views=2, eps=["32/255"], steps=3,
        nsamples=4, batch_size=2, targets=["untargeted", "random"], plots=False,
        detectors=["shap-lr", "confidence"], transfer_to=str(other),
    )  # fmt: skip
    seen = []

    def stop_after_5(done, total, what):
        if what not in ("starting", "resumed"):
            seen.append(done)
            if len(seen) == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # one worker here, two for the rest
        run_eval(cfg, factory(), engine=RayEngine(factory, workers=1), progress=stop_after_5)
    assert len(_rows(out)) == 5  # every row that arrived is stored, nothing more
    assert read_progress(out)["state"] == "interrupted"

    resumed = EvalConfig(**(cfg.__dict__ | {"resume": True}))
    run = run_eval(resumed, factory(), engine=RayEngine(factory, workers=2))
    assert run.summary["images"]["evaluated"] == 6
    _assert_same_rows(out, tmp_path / "ref")
    attacked = [r for r in _rows(out) if r["variant"] != "clean" and r.get("status") == "ok"]
    assert attacked and all(r["transfer_model"] == "other.pt" for r in attacked)
    assert all(isinstance(r["transfer_pred"], int) for r in attacked)
    snap = read_progress(out)
    assert snap["state"] == "done" and snap["engine"] == "ray"
    # both workers are listed (one may still be starting when a run this small ends)
    assert len(snap["workers"]) == 2 and sum(w["rows"] for w in snap["workers"]) == 18 - 5
    started = [w for w in snap["workers"] if "pid" in w]
    assert started and all(w["threads"] == 1 for w in started)  # 2 CPUs split between 2
    assert main([*base, "--out", str(tmp_path / "a"), "--adaptive", "--engine", "ray"]) == 2
    assert not (tmp_path / "a" / "results.jsonl").exists()  # refused before any work
    assert "--resume --adaptive" in capsys.readouterr().err


# ----------------------------------------------------------------------------- a real kill

#: Generous: Ray alone takes ~20 s to start on a loaded 2-core machine.
KILL_TIMEOUT = 300


def _tagged(tag: str) -> list[int]:
    """Processes whose environment carries ``ADVTUI_KILL_TEST=tag``: the eval process and all
    it started (Ray's GCS, raylet, agents and workers inherit the environment, whatever their
    process group or parent after a kill)."""
    want = f"ADVTUI_KILL_TEST={tag}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if want in (proc / "environ").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:  # gone, or not ours
                pass
    return pids


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode(errors="replace")[:120]
        )
    except OSError:
        return "(gone)"


def _survivors(tag: str, wait: float = 60.0) -> list[str]:
    """The tagged processes still alive after up to ``wait`` s (Ray's fate-sharing takes a
    moment to bring down the processes that are not in the killed group)."""
    deadline = time.monotonic() + wait
    while (pids := _tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return [f"{pid}: {_cmdline(pid)}" for pid in pids]


def _kill_and_resume(
    tmp_path, samples_dir, tiny_script, reference, capsys, extra: list[str]
) -> list[str]:
    """``python -m advtui eval`` in a process group of its own, SIGKILLed (the whole group) as
    soon as results.jsonl holds a row: no process of it is left. Then ``--resume`` to the end,
    in this process on the in-process engine: the rows are the uninterrupted run's. (Ray
    resuming on Ray is tested after a stop, in the test above, not after a kill: the store a
    kill leaves is the same either way.) Returns
    the command lines of the killed run's processes, seen just before the kill."""
    out, log = tmp_path / "out", tmp_path / "eval.log"
    tag = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # never a shared cluster
    # the killed run writes a row at most every 0.3 s (a sitecustomize of the test's own that
    # paces ResultsStore.append), so it is still midway when the first row is seen: on a fast
    # machine an engine that delivers every batch at once wrote all rows within one poll
    pace = tmp_path / "pace"
    pace.mkdir()
    (pace / "sitecustomize.py").write_text(
        "import time\n"
        "from advtui.eval import store\n"
        "_append = store.ResultsStore.append\n"
        "def append(self, *a, **k):\n"
        "    out = _append(self, *a, **k)\n"
        "    time.sleep(0.3)\n"
        "    return out\n"
        "store.ResultsStore.append = append\n"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pace), str(ROOT), env.get("PYTHONPATH")]))
    env["ADVTUI_KILL_TEST"] = tag
    cmd = [
        sys.executable, "-m", "advtui", "eval", str(samples_dir), "--out", str(out),
        "--model", str(tiny_script), *SIZE_FLAGS, *EVAL_FLAGS, *extra,
    ]  # fmt: skip
    results = out / "results.jsonl"
    running: list[str] = []
    try:
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
            deadline = time.monotonic() + KILL_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                if results.exists() and b"\n" in results.read_bytes():
                    running = [_cmdline(pid) for pid in _tagged(tag)]
                    os.killpg(proc.pid, signal.SIGKILL)  # the group: Ray's processes too
                    break
                time.sleep(0.02)
            try:
                rc = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        assert rc == -signal.SIGKILL, (rc, log.read_text(errors="replace")[-2000:])
        assert 1 <= results.read_bytes().count(b"\n") < len(_rows(reference))  # killed midway
        assert not (out / "summary.json").exists()
        assert read_progress(out)["state"] == "running"  # it never got to say otherwise
        assert _survivors(tag) == []

        # resumed here, in-process on one thread, whichever engine was killed: the rows do
        # not depend on the engine, and a second Ray start would add nothing but time
        args = cmd[cmd.index("eval") : len(cmd) - len(extra)]
        assert main([*args, "--resume", "--threads", "1"]) == 0
        assert "6 images from 3 photos" in capsys.readouterr().out
        _assert_same_rows(out, reference)
        assert read_progress(out)["state"] == "done"
        return running
    finally:
        for pid in _tagged(tag):  # a failed test leaves nothing running either
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds the run's processes in /proc"
)


@linux_only
def test_in_process_engine_killed_midway_resumes_to_the_same_rows(
    reference, tiny_script, samples_dir, tmp_path, capsys
):
    running = _kill_and_resume(
        tmp_path, samples_dir, tiny_script, reference, capsys, ["--threads", "1"]
    )
    assert any("advtui eval" in c for c in running)


@linux_only
@pytest.mark.ray
def test_ray_engine_killed_midway_resumes_to_the_same_rows(
    reference, tiny_script, samples_dir, tmp_path, capsys
):
    """Ray starts its own processes (GCS, raylet, agents, the actor): SIGKILL of the eval's
    process group takes them all down, and the store it leaves resumes in-process to the
    uninterrupted run's rows."""
    running = _kill_and_resume(
        tmp_path, samples_dir, tiny_script, reference, capsys, ["--engine", "ray", "--workers", "1"]
    )
    # the survivor check saw Ray's processes: the raylet and the row actor
    assert any("raylet" in c for c in running), running
    assert sum("_RowActor" in c for c in running) == 1, running


def test_ray_plan_splits_cpus_and_gpus_and_refuses_what_cannot_run():
    from advtui.eval.dataset import EvalError
    from advtui.eval.ray_engine import RayEngine

    def plan(resources, node_cpus=64, **kw):
        return RayEngine(None, **kw).plan(resources, node_cpus)

    assert plan({"CPU": 2}, 2) == (2, 0.0, 1)  # one worker per CPU, 1 thread each
    assert plan({"CPU": 2}, 2, workers=1) == (1, 0.0, 2)  # one worker takes both
    assert plan({"CPU": 64, "GPU": 8}) == (8, 1.0, 8)  # one per GPU, CPUs split
    assert plan({"CPU": 64, "GPU": 8}, gpus_per_worker=0.5) == (16, 0.5, 4)
    assert plan({"CPU": 64, "GPU": 8}, device="cpu") == (64, 0.0, 1)
    assert plan({"CPU": 64, "GPU": 8}, workers=2, threads=3) == (2, 1.0, 3)
    assert plan({"CPU": 256}, 16, workers=2) == (2, 0.0, 16)  # never more than a node has
    with pytest.raises(EvalError, match="has 0 GPUs"):
        plan({"CPU": 8}, gpus_per_worker=1)
    with pytest.raises(EvalError, match="no GPUs"):
        plan({"CPU": 8}, device="cuda")


@pytest.mark.ray
def test_a_worker_that_cannot_load_the_model_fails_the_run_in_one_line(
    ray_local, samples_dir, tmp_path
):
    from advtui.errors import ModelError
    from advtui.eval.ray_engine import RayEngine
    from advtui.models import load_model

    missing = functools.partial(load_model, str(tmp_path / "gone.pt"), device="cpu")
    cfg = EvalConfig(
        folder=str(samples_dir), out=str(tmp_path / "o"), n=2, views=1, eps=["32/255"],
        steps=2, nsamples=2, batch_size=2, plots=False,
    )  # fmt: skip
    with pytest.raises(ModelError, match="gone.pt: no such model file"):
        run_eval(cfg, make_tiny_classifier(), engine=RayEngine(missing, workers=1))
    assert read_progress(tmp_path / "o")["state"] == "failed"


def test_resume_keeps_the_thread_count_the_run_was_made_with(
    tiny_script, samples_dir, tmp_path, keep_threads, monkeypatch
):
    """PGD's rows depend on the torch thread count (float rounding), and eval's default count
    follows the machine's load: run.json records the count, and a --resume without
    --threads uses it again, whatever the load is now."""
    out = tmp_path / "run"
    argv = ["eval", str(samples_dir), "--out", str(out), "--model", str(tiny_script)]
    small = [*SIZE_FLAGS, "--n", "1", *EVAL_FLAGS[2:]]
    assert main([*argv, *small, "--threads", "2"]) == 0
    assert json.loads((out / "run.json").read_text())["threads"] == 2
    monkeypatch.setattr(threads, "fit_threads", lambda **kw: 1)  # the machine got busy
    assert main([*argv, *small, "--resume"]) == 0
    assert torch.get_num_threads() == 2
    assert json.loads((out / "run.json").read_text())["threads"] == 2
