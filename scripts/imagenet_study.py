#!/usr/bin/env python
"""Run the ImageNet-scale study of issue 21, one `advtui eval` after another, resumably.

    python scripts/imagenet_study.py IMAGENET_SAMPLE OUT_ROOT [--only NAME,…] [--skip NAME,…]
        [--labels FILE] [--n-main N] [--n-deps 150]
        [--n-adaptive 60] [--extra "--device cuda --batch-size 32"] [--list] [--dry-run]

IMAGENET_SAMPLE is a flat folder of ImageNet photos named by their synset,
``nXXXXXXXX_name.JPEG`` (e.g. ``n01484850_great_white_shark.JPEG``), one photo per class.
eval labels such photos itself from the synset prefix of their names (advtui.labels); ``--labels
FILE`` passes a labels file to every run instead.

Every run is ``python -m advtui eval IMAGENET_SAMPLE --out OUT_ROOT/NAME … --resume``, in the
priority order of :data:`RUNS` (``--list`` prints them): Ctrl-C, a kill or a reboot lose at
most the rows being computed, and the same command continues where it stopped. A run that
finished is skipped (OUT_ROOT/logs/NAME.done holds its command; ``--redo NAME`` runs it again,
which only refits the detectors and rewrites its summary). Each run's output goes to
OUT_ROOT/logs/NAME.log; OUT_ROOT/study.log gets one line per start and end (time, exit code,
duration) and OUT_ROOT/study.json the commands, which scripts/imagenet_tables.py prints beside
the tables it writes from the runs' summary.json files.

``--interim K`` reports on a run before it ends: for each chosen run that has rows but no
``.done``, it copies the rows of its first K photos (K rounded down to a whole batch) into
``OUT_ROOT/interim-K/NAME`` and runs the same command there with ``--n K``. That computes any of
those photos' rows still missing and then only fits the detectors and writes ``summary.json``:
the numbers are those of a run with ``--n K`` (rows depend on the batch, hence whole batches).
``scripts/imagenet_tables.py OUT_ROOT/interim-K`` prints its tables. The live run is untouched
(stop it first on a 2-core machine: both would share the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script from anywhere: the checkout's advtui
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from advtui.registry import DETECTORS  # noqa: E402

MAIN_TARGETS = "untargeted,random,runner-up,nearest"
DEP_TARGETS = "untargeted,runner-up"
#: The intermediate layer of the default model (EfficientNet-Lite0) that --protocol seed
#: explains too (the default model's spec, advtui.registry.models); --layer-name changes it for another model.
DEFAULT_LAYER = "_blocks.3"
#: The main runs compare every registered detector (LID too, which eval does not run by
#: default); a detector list is not a row parameter, so a finished run's summary can be
#: redone with more (eval --resume fits them on the stored rows).
ALL_DETECTORS = ",".join(DETECTORS)
EPS_SWEEP = "1/255,2/255,4/255,8/255,16/255,255/255"
TRANSFER_MODEL = "efficientnet-lite2"


@dataclass(frozen=True)
class Run:
    """One `advtui eval` of the study: ``size`` names which --n it takes (main, deps,
    adaptive); ``flags`` are its own (every run also gets --seed 0 and --resume)."""

    name: str
    size: str
    flags: tuple[str, ...]
    what: str


def runs(layer: str = DEFAULT_LAYER) -> list[Run]:
    """The study's runs, most important first (issue 21, items 1–6)."""
    main = (
        "--eps",
        "8/255",
        "--steps",
        "10",
        "--targets",
        MAIN_TARGETS,
        "--detectors",
        ALL_DETECTORS,
    )
    dep = ("--method", "pgd", "--eps", "8/255", "--steps", "10", "--targets", DEP_TARGETS)
    out = [
        Run(
            "main-pgd",
            "main",
            ("--method", "pgd", *main, "--transfer-to", TRANSFER_MODEL),
            "main table, histogram, similarity bins and transfer: PGD-10, ε 8/255, four modes",
        ),
        Run(
            "main-bim",
            "main",
            ("--method", "bim", *main, "--transfer-to", TRANSFER_MODEL),
            "main table: BIM-10 (the paper's attack), ε 8/255, four modes",
        ),
        Run(
            "seed-protocol",
            "main",
            ("--protocol", "seed", "--targets", "untargeted"),
            "the original repository's protocol (its BIM, layer SHAP, nsamples 200, 90/10)",
        ),
        Run("dep-pixels", "deps", dep, "dependency baseline: pixel SHAP, default nsamples"),
    ]
    out += [
        Run(f"dep-nsamples-{k}", "deps", (*dep, "--nsamples", str(k)), f"SHAP nsamples {k}")
        for k in (8, 16, 32, 64)
    ]
    out += [
        Run("dep-layer", "deps", (*dep, "--layer", layer), f"SHAP of the input of {layer}"),
        Run("dep-ig", "deps", (*dep, "--explainer", "ig"), "Integrated Gradients"),
        Run("dep-smoothgrad", "deps", (*dep, "--explainer", "smoothgrad"), "SmoothGrad"),
        Run("dep-gradcam", "deps", (*dep, "--explainer", "gradcam"), "Grad-CAM"),
        Run("dep-eps", "deps", (*dep, "--eps-sweep", EPS_SWEEP), f"ε sweep {EPS_SWEEP}"),
        Run("dep-early-stop", "deps", (*dep, "--early-stop"), "weakest successful attack"),
    ]
    adaptive = ("--targets", "runner-up", "--nsamples", "16", "--adaptive")
    out += [
        Run(
            f"adaptive-w{w}",
            "adaptive",
            (*adaptive, "--adaptive-weight", str(w)),
            f"adaptive attacker on the SHAP-LR detector, λ = {w}",
        )
        for w in (1, 3)
    ]
    return out


def command(run: Run, folder: str, root: Path, sizes: dict, common: list[str]) -> list[str]:
    """The run's `advtui eval` argv (after the interpreter)."""
    argv = ["-m", "advtui", "eval", folder, "--out", str(root / run.name), *run.flags]
    if sizes.get(run.size):
        argv += ["--n", str(sizes[run.size])]
    return [*argv, "--seed", "0", *common, "--resume"]


BATCH = 8  # eval's default --batch-size: the study does not change it


def interim_copy(src: Path, dst: Path, k: int) -> int:
    """Copy run ``src``'s rows of its first ``k`` photos (``position`` < k: the order eval
    lists them in, which ``--n`` keeps) into ``dst``; return how many of those photos have
    rows there. The feature files are copied whole: rows point into them by index, and the
    store drops the vectors past the last one a row refers to when it opens them."""
    import shutil

    keep = []
    for line in (src / "results.jsonl").read_bytes().splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # a torn last line (the run was killed mid-write)
        if json.loads(line)["position"] < k:
            keep.append(line)
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in ("run.json", "features.bin", "penultimate.bin"):
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    tmp = dst / "results.jsonl.tmp"
    tmp.write_bytes(b"".join(keep))
    os.replace(tmp, dst / "results.jsonl")
    return len({json.loads(line)["position"] for line in keep})


def _log(root: Path, line: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = f"{stamp} {line}"
    print(text, flush=True)
    with open(root / "study.log", "a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def _pick(all_runs: list[Run], only: str | None, skip: str | None) -> list[Run]:
    names = {r.name for r in all_runs}
    for text in (only, skip):
        bad = [n for n in (text or "").split(",") if n and n not in names]
        if bad:
            raise SystemExit(f"imagenet_study: unknown run {bad[0]!r}; --list shows them")
    drop = set((skip or "").split(",")) - {""}
    if not only:
        return [r for r in all_runs if r.name not in drop]
    by_name = {r.name: r for r in all_runs}
    keep = dict.fromkeys(n for n in only.split(",") if n)  # --only's order, once each
    return [by_name[n] for n in keep if n not in drop]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("folder", help="IMAGENET_SAMPLE: nXXXXXXXX_name.JPEG photos")
    p.add_argument("root", help="output root: one folder per run, logs/, study.log, study.json")
    p.add_argument(
        "--only",
        help="comma-separated run names, run in the order given (default all, in --list order)",
    )
    p.add_argument("--skip", help="comma-separated run names to leave out")
    p.add_argument("--redo", default="", help="comma-separated finished runs to run again")
    p.add_argument("--labels", help="a --labels file to pass to every run")
    p.add_argument("--n-main", type=int, help="photos of the main runs (default all)")
    p.add_argument("--n-deps", type=int, default=150, help="photos of the dependency runs")
    p.add_argument("--n-adaptive", type=int, default=60, help="photos of the adaptive runs")
    p.add_argument("--layer-name", default=DEFAULT_LAYER, help="layer of dep-layer")
    p.add_argument(
        "--extra",
        default="",
        help="flags added to every run, last (so they win): e.g. '--device cuda "
        "--batch-size 32', or '--steps 2 --nsamples 2' for a quick trial",
    )
    p.add_argument(
        "--interim",
        type=int,
        metavar="K",
        help="report on unfinished runs from their first K photos (into OUT_ROOT/interim-K)",
    )
    p.add_argument("--list", action="store_true", help="print the runs and exit")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    a = p.parse_args(argv)

    all_runs = runs(a.layer_name)
    if a.list:
        for r in all_runs:
            print(f"{r.name:18} {r.size:9} {r.what}")
        return 0
    chosen = _pick(all_runs, a.only, a.skip)
    redo = set(a.redo.split(",")) - {""}
    folder = Path(a.folder).expanduser()
    if not folder.is_dir():
        raise SystemExit(f"imagenet_study: {folder}: not a folder")
    root = Path(a.root).expanduser()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    common = []
    if a.labels:
        common += ["--labels", a.labels]
    common += shlex.split(a.extra)
    sizes = {"main": a.n_main, "deps": a.n_deps, "adaptive": a.n_adaptive}
    if a.interim is not None:
        return _interim(chosen, folder, root, sizes, common, a.interim, a.dry_run)
    manifest_path = root / "study.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    failed = []
    for r in chosen:
        argv_r = command(r, str(folder), root, sizes, common)
        shown = "python " + shlex.join(argv_r)
        manifest[r.name] = {"what": r.what, "command": shown, "folder": str(folder)}
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, manifest_path)
        done = root / "logs" / f"{r.name}.done"
        if a.dry_run:
            print(shown)
            continue
        if done.exists() and done.read_text().strip() == shown and r.name not in redo:
            _log(root, f"{r.name}: finished before, skipped (--redo {r.name} to rerun)")
            continue
        _log(root, f"{r.name}: start — {shown}")
        t0 = time.monotonic()
        with open(root / "logs" / f"{r.name}.log", "ab") as log:
            try:
                rc = subprocess.call([sys.executable, *argv_r], stdout=log, stderr=log)
            except KeyboardInterrupt:
                _log(root, f"{r.name}: interrupted; run the same command to continue")
                return 130
        took = time.monotonic() - t0
        _log(root, f"{r.name}: exit {rc} after {took / 60:.1f} min")
        if rc == 0:
            done.write_text(shown + "\n")
        else:
            failed.append(r.name)
            if rc in (130, -2):
                return 130
    if failed:
        _log(root, f"failed: {', '.join(failed)} (see logs/NAME.log)")
        return 1
    return 0


def _interim(chosen, folder: Path, root: Path, sizes: dict, common: list[str], k: int, dry: bool):
    k -= k % BATCH
    if k <= 0:
        raise SystemExit(f"imagenet_study: --interim needs at least one batch ({BATCH} photos)")
    out_root = root / f"interim-{k}"
    (out_root / "logs").mkdir(parents=True, exist_ok=True)
    manifest: dict = {}
    for r in chosen:
        src = root / r.name
        if (root / "logs" / f"{r.name}.done").exists() or not (src / "results.jsonl").exists():
            continue
        n = sizes.get(r.size)
        take = min(k, n) if n else k
        argv_r = command(r, str(folder), out_root, {**sizes, r.size: take}, common)
        shown = "python " + shlex.join(argv_r)
        if dry:
            print(shown)
            continue
        have = interim_copy(src, out_root / r.name, take)
        if have < take:
            _log(root, f"{r.name}: interim {take} skipped: rows of only {have} photos so far")
            continue
        manifest[r.name] = {
            "what": f"{r.what} — interim: the first {take} photos of an unfinished run",
            "command": shown,
            "folder": str(folder),
        }
        _log(root, f"{r.name}: interim of {take} photos — {shown}")
        with open(out_root / "logs" / f"{r.name}.log", "ab") as log:
            rc = subprocess.call([sys.executable, *argv_r], stdout=log, stderr=log)
        _log(root, f"{r.name}: interim exit {rc}")
        if rc == 0:
            (out_root / "logs" / f"{r.name}.done").write_text(shown + "\n")
    tmp = out_root / "study.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out_root / "study.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
