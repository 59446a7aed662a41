"""scripts/imagenet_study.py (the ImageNet study's runs) and scripts/imagenet_tables.py (its
markdown tables): the commands parse with `advtui eval`'s own parser, the labels come from
the synset prefixes, and the tables are read from summary.json files."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.test_bootstrap import small_run  # noqa: F401  (the fixture: one small stored run)

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


study = _script("imagenet_study")
tables = _script("imagenet_tables")


def test_every_run_is_a_valid_resumable_eval_command(tmp_path):
    from advtui.cli import sub_parser

    runs = study.runs()
    names = [r.name for r in runs]
    assert names[:2] == ["main-pgd", "main-bim"] and len(set(names)) == len(names)
    assert {"seed-protocol", "dep-layer", "dep-ig", "dep-smoothgrad", "dep-eps"} <= set(names)
    assert {"adaptive-w1", "adaptive-w3", "dep-early-stop"} <= set(names)
    sizes = {"main": None, "deps": 150, "adaptive": 60}
    parser = sub_parser()
    for r in runs:
        argv = study.command(r, "PHOTOS", tmp_path, sizes, ["--labels", "l.csv"])
        assert argv[:4] == ["-m", "advtui", "eval", "PHOTOS"] and argv[-1] == "--resume"
        args = parser.parse_args(argv[2:])  # SystemExit on a flag eval does not have
        assert args.resume and str(args.seed) == "0"
        assert args.out == str(tmp_path / r.name)
        assert args.n == (None if r.size == "main" else str(sizes[r.size]))
    by = {r.name: parser.parse_args(study.command(r, "P", tmp_path, sizes, [])[2:]) for r in runs}
    assert by["main-pgd"].targets == by["main-bim"].targets == "untargeted,random,runner-up,nearest"
    assert (by["main-pgd"].method, by["main-bim"].method) == ("pgd", "bim")
    assert by["main-pgd"].transfer_to == "efficientnet-lite2"
    assert by["dep-eps"].eps_sweep.split(",")[-1] == "255/255"
    assert [by[f"dep-nsamples-{k}"].nsamples for k in (8, 16, 32, 64)] == ["8", "16", "32", "64"]
    assert by["adaptive-w3"].adaptive and by["adaptive-w3"].adaptive_weight == 3.0
    # --extra comes last, so its flags win over a run's own
    quick = study.command(runs[0], "P", tmp_path, sizes, ["--steps", "2"])
    assert parser.parse_args(quick[2:]).steps == "2"


def test_unknown_runs_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown run 'nope'"):
        study.main([str(tmp_path), str(tmp_path / "out"), "--only", "nope", "--dry-run"])


def test_tables_are_read_from_the_summaries(small_run, tmp_path):  # noqa: F811
    """One stored run stands in for main-pgd; the others are missing and listed as such."""
    run, out, _ = small_run
    root = tmp_path / "study"
    shutil.copytree(out, root / "main-pgd")
    (root / "study.json").write_text(
        json.dumps(
            {
                "main-pgd": {
                    "command": f"python -m advtui eval /data/x --out {root}/main-pgd --resume",
                    "folder": "/data/x",
                }
            }
        )
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    md = docs / "tables.md"
    assert tables.main([str(root), "--out", str(md), "--img-dir", str(docs / "img")]) == 0
    text = md.read_text()
    s = json.loads((out / "summary.json").read_text())
    acc = s["variants"]["pooled"]["detectors"]["shap-lr"]["intervals"]["accuracy"]
    row = next(line for line in text.splitlines() if "| pooled | " in line and "shap-lr" in line)
    assert f"{acc['estimate']:.2f} [{acc['low']:.2f}, {acc['high']:.2f}]" in row
    assert "| 0.9981 | not reported | not reported |" in text
    assert "Inception-v3, BIM" in text
    assert "`python -m advtui eval IMAGENET_SAMPLE --out OUT/main-pgd --resume`" in text
    assert "*main-bim: not run yet (no summary.json).*" in text
    assert "*adaptive-w1: not run yet" in text and "*dep-eps: not run yet" in text
    assert (docs / "img" / "imagenet-histogram-main-pgd.png").exists()
    assert "](img/imagenet-histogram-main-pgd.png)" in text
    below = s["variants"]["random"]["mean_shap"]["adv_below_clean_interval"]
    assert f"{100 * below['estimate']:.0f} % [" in text
    bins = s["target_similarity"]["bins"]
    assert sum(f"| main-pgd | {b['low']:.2f}–{b['high']:.2f} |" in text for b in bins) == len(bins)


def test_runs_go_in_order_and_a_finished_one_is_skipped(tmp_path, monkeypatch):
    """The study runs its runs one after another, logs each, and on a second call skips the
    ones that finished (their .done holds the same command) but reruns a failed one."""
    photos = tmp_path / "photos"
    photos.mkdir()
    calls: list[list[str]] = []
    codes = {"main-pgd": 0, "main-bim": 1}

    def fake_call(argv, stdout=None, stderr=None):
        calls.append(argv)
        return codes[argv[argv.index("--out") + 1].rsplit("/", 1)[-1]]

    monkeypatch.setattr(study.subprocess, "call", fake_call)
    root = tmp_path / "out"
    args = [str(photos), str(root), "--only", "main-pgd,main-bim"]
    assert study.main(args) == 1  # main-bim failed
    assert [c[c.index("--out") + 1] for c in calls] == [
        str(root / "main-pgd"),
        str(root / "main-bim"),
    ]
    assert all(c[-1] == "--resume" for c in calls)
    log = (root / "study.log").read_text()
    assert "main-pgd: exit 0" in log and "main-bim: exit 1" in log and "failed: main-bim" in log
    manifest = json.loads((root / "study.json").read_text())
    assert manifest["main-pgd"]["command"].startswith("python -m advtui eval ")
    calls.clear()
    codes["main-bim"] = 0
    assert study.main(args) == 0
    assert [c[c.index("--out") + 1] for c in calls] == [str(root / "main-bim")]
    assert "main-pgd: finished before, skipped" in (root / "study.log").read_text()


def test_an_interim_report_holds_the_first_photos_of_an_unfinished_run(small_run, tmp_path):  # noqa: F811
    """--interim K copies the rows of the run's first K photos, and eval --resume --n K on that
    copy computes nothing new: its summary counts exactly those photos."""
    from advtui.eval.config import EvalConfig
    from advtui.eval.loop import run_eval

    run, out, model = small_run
    src_rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    first = {r["image"] for r in src_rows if r["position"] < 3}
    dst = tmp_path / "interim" / "main-pgd"
    assert study.interim_copy(out, dst, 3) == 3
    rows = [json.loads(line) for line in (dst / "results.jsonl").read_text().splitlines()]
    assert [r for r in src_rows if r["image"] in first] == rows
    cfg = EvalConfig(
        folder=run.config.folder, out=str(dst), n=3, views=1,
        targets=["untargeted", "random", "nearest"], eps=["16/255"], steps=5, nsamples=2,
        batch_size=8, folds=2, method="bim", detectors=["shap-lr", "confidence"], plots=False,
        bootstrap=50, resume=True,
    )  # fmt: skip
    again = run_eval(cfg, model)
    assert [json.loads(line) for line in (dst / "results.jsonl").read_text().splitlines()] == rows
    assert again.summary["images"]["photos"] == 3


def test_the_answer_is_inserted_between_the_markers(small_run, tmp_path):  # noqa: F811
    """--insert replaces only the text between the markers, and the answer's numbers are the
    summary's pooled intervals."""
    run, out, _ = small_run
    root = tmp_path / "study"
    shutil.copytree(out, root / "main-pgd")
    doc = tmp_path / "eval.md"
    doc.write_text(f"# head\n{tables.BEGIN}\nstale\n{tables.END}\ntail\n")
    assert tables.main([str(root), "--insert", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith(f"# head\n{tables.BEGIN}\n") and text.endswith(f"{tables.END}\ntail\n")
    assert "stale" not in text
    s = json.loads((out / "summary.json").read_text())
    pooled = s["variants"]["pooled"]["detectors"]
    for det in ("shap-lr", "confidence"):
        auc = pooled[det]["intervals"]["roc_auc"]
        assert (
            f"{auc['estimate']:.2f} [{auc['low']:.2f}, {auc['high']:.2f}]" in text.split("###")[0]
        )
    assert f"**main-pgd**: {s['images']['photos']} photos" in text
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit, match="needs one"):
        tables.main([str(root), "--insert", str(doc)])


def test_only_runs_its_runs_in_the_order_given(tmp_path, monkeypatch):
    """--only is also the order: a later session can put the runs it wants first."""
    photos = tmp_path / "photos"
    photos.mkdir()
    outs: list[str] = []

    def fake_call(argv, stdout=None, stderr=None):
        outs.append(argv[argv.index("--out") + 1].rsplit("/", 1)[-1])
        return 0

    monkeypatch.setattr(study.subprocess, "call", fake_call)
    args = [str(photos), str(tmp_path / "out"), "--only", "dep-gradcam,main-pgd,dep-gradcam"]
    assert study.main([*args, "--skip", "main-pgd"]) == 0
    assert outs == ["dep-gradcam"]
    outs.clear()
    assert study.main([*args, "--redo", "dep-gradcam"]) == 0
    assert outs == ["dep-gradcam", "main-pgd"]
