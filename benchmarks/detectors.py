"""The detector phase at ImageNet's scale: every registry detector fitted and scored on the same
stratified group folds (:func:`advtui.detect.base.benchmark`, what ``advtui eval`` runs per
ε and target mode) on synthetic rows shaped like a large run — by default 5,000 rows of 1,000
classes, 1,280 penultimate dimensions (EfficientNet-Lite0's) and the eval's 512 SHAP
quantiles — in a fresh process, so its peak RSS is the phase's own.

Rows: one clean row per photo (its class drawn uniformly) and ``adv`` adversarial rows of the
same photo; penultimate features = the class mean + noise (adversarial rows shifted), SHAP
quantiles = sorted normal draws, confidence and squeeze columns drawn per row. Figures: seconds
per detector (wall and CPU; the machine may be shared, so CPU is the work done), the whole
phase, and peak RSS; targets: the phase under 60 s wall, peak RSS under 4 GB.

    python -m benchmarks.detectors [--rows 5000] [--classes 1000] [--dims 1280] [--quick]
    python -m benchmarks.detectors --rows 600 --classes 150 --summary 3   # eval's whole phase
    python benchmarks/run.py --only detectors [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure  # noqa: E402
from benchmarks.rss_child import peak_rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: (rows, classes, dims, width, folds): the full case and the smoke case (--quick).
FULL = (5000, 1000, 1280, 512, 5)
QUICK = (200, 20, 64, 32, 3)
#: Targets: the whole phase (wall seconds) and the peak RSS (MB).
PHASE_TARGET_S = 60.0
RSS_TARGET_MB = 4096.0


def synthetic(rows: int, classes: int, dims: int, width: int, adv: int = 3, seed: int = 0):
    """A :class:`~advtui.detect.base.DetectorData` of ``rows`` rows: a clean row and ``adv``
    adversarial rows per photo, ``group`` the photo."""
    import numpy as np

    from advtui.detect.base import DetectorData

    rng = np.random.default_rng(seed)
    photos = max(2, -(-rows // (adv + 1)))
    photo = np.repeat(np.arange(photos), adv + 1)[:rows]
    y = (np.arange(len(photo)) % (adv + 1) != 0).astype(int)
    cls = rng.integers(0, classes, photos)
    label = cls[photo]
    means = rng.normal(size=(classes, dims)).astype(np.float32)
    pen = means[label] + rng.normal(size=(len(photo), dims)).astype(np.float32)
    pen[y == 1] += 0.5 * rng.normal(size=(int(y.sum()), dims)).astype(np.float32)
    shap = np.sort(rng.normal(size=(len(photo), width)).astype(np.float32), axis=1)
    shap[y == 1] *= 1.2
    conf = np.stack([rng.normal(5, 2, len(photo)) - y, rng.normal(2, 1, len(photo)) - y], 1)
    squeeze = rng.random(len(photo)) + 0.3 * y
    return DetectorData(
        y=y,
        group=np.asarray([f"p{p}" for p in photo]),
        label=label,
        shap=shap,
        confidence=conf,
        squeeze=squeeze,
        penultimate=pen,
    )


def run_phase(rows: int, classes: int, dims: int, width: int, folds: int, names=None) -> dict:
    """Fit and score each detector on every fold; seconds (wall, CPU) per detector."""
    import numpy as np

    from advtui.detect.base import benchmark, make_detector
    from advtui.detect.cv import group_folds
    from advtui.registry import DEFAULT_DETECTORS

    names = list(names or DEFAULT_DETECTORS)
    for name in names:  # imports (torch for squeeze) are not the phase's cost: eval has them
        make_detector(name)
    t0 = time.perf_counter()
    data = synthetic(rows, classes, dims, width)
    build = time.perf_counter() - t0
    folds_list = list(group_folds(data.y, data.group, folds, 0))
    idx = np.arange(len(data))
    out: dict = {"build_s": round(build, 2), "detectors": {}, "folds": len(folds_list)}
    for name in names:
        w0, c0 = time.perf_counter(), time.process_time()
        res = benchmark([name], data, idx, folds_list, scheme="bench")[name]
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        out["detectors"][name] = {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "auc": res.cv.summary()["roc_auc"],
            "folds": res.cv.folds,
            "note": res.cv.note,
        }
    out["phase_wall_s"] = round(sum(d["wall_s"] for d in out["detectors"].values()), 3)
    out["phase_cpu_s"] = round(sum(d["cpu_s"] for d in out["detectors"].values()), 3)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


class _Store:
    """What :func:`advtui.eval.report.summarize` reads of a results store, from arrays."""

    def __init__(self, shap, penultimate) -> None:
        self.shap, self.pen = shap, penultimate
        self.n_penultimate = penultimate.shape[1]

    def features(self, idx):
        import numpy as np

        return self.shap[np.fromiter(idx, dtype=np.int64)]

    def penultimate(self, idx):
        import numpy as np

        return self.pen[np.fromiter(idx, dtype=np.int64)]


def run_summary(photos: int, classes: int, dims: int, width: int, folds: int, modes: int) -> dict:
    """The eval's whole detector phase (:func:`advtui.eval.report.summarize`: every detector
    per target mode and pooled, the summary's tables) on ``photos`` photos × (1 clean +
    ``modes`` adversarial rows)."""
    from types import SimpleNamespace

    import numpy as np

    from advtui.detect.base import make_detector
    from advtui.eval.report import summarize
    from advtui.registry import DEFAULT_DETECTORS, TARGET_MODES
    from advtui.settings import eps_text

    for name in DEFAULT_DETECTORS:
        make_detector(name)
    order = ["untargeted", "random", "nearest", "runner-up"]  # the three first
    targets = (order + [t for t in TARGET_MODES if t not in order])[:modes]
    data = synthetic(photos * (modes + 1), classes, dims, width, adv=modes)
    eps = 8 / 255
    rows = []
    for i in range(len(data)):
        photo, k = divmod(i, modes + 1)
        row = {
            "image": f"p{photo}.jpg",
            "group": f"p{photo}.jpg",
            "position": photo,
            "f": i,
            "status": "ok",
            "label": int(data.label[i]),
            "confidence": 1 / (1 + float(np.exp(-data.confidence[i, 1]))),
            "logit": float(data.confidence[i, 0]),
            "squeeze": float(data.squeeze[i]),
            "evidence": {"mean_shap": float(data.shap[i].mean())},
        }
        if k == 0:
            row |= {"variant": "clean", "eps": None, "eps_255": None}
        else:
            row |= {"variant": targets[k - 1], "eps": eps, "eps_255": eps_text(eps)}
            row |= {"success": True}
        rows.append(row)
    cfg = SimpleNamespace(
        targets=targets,
        eps=[eps],
        primary_eps=eps,
        protocol="corrected",
        folds=folds,
        seed=0,
        detectors=list(DEFAULT_DETECTORS),
    )
    w0, c0 = time.perf_counter(), time.process_time()
    summary, _oof = summarize(rows, _Store(data.shap, data.penultimate), cfg, {"fixed": {}})
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    pooled = summary["variants"]["pooled"]["detectors"]
    return {
        "rows": len(rows),
        "targets": targets,
        "summary_wall_s": round(wall, 2),
        "summary_cpu_s": round(cpu, 2),
        "pooled_auc": {n: d.get("roc_auc") for n, d in pooled.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def bench_detectors(
    quick: bool = False, threads: int | None = None, shape: tuple | None = None
) -> tuple[list[Figure], dict]:
    """Run the phase in a fresh process; figures per detector, the phase and peak RSS."""
    rows, classes, dims, width, folds = shape or (QUICK if quick else FULL)
    cmd = [sys.executable, "-m", "benchmarks.detectors", "--child"]
    cmd += ["--rows", str(rows), "--classes", str(classes), "--dims", str(dims)]
    cmd += ["--width", str(width), "--folds", str(folds)]
    if threads:
        cmd += ["--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1][:120]
        return [Figure("detector phase", None, note=why)], {}
    res = json.loads(done.stdout.strip().splitlines()[-1])
    where = f"{rows} rows × {classes} classes × {dims} dims, SHAP {width}, {res['folds']} folds"
    figures = [
        Figure(
            f"detector {name}",
            d["wall_s"],
            unit="s",
            clock="wall",
            note=f"CPU {d['cpu_s']:.1f} s" + (f"; {d['note']}" if d.get("note") else ""),
        )
        for name, d in res["detectors"].items()
    ]
    target = None if quick else PHASE_TARGET_S
    figures.append(
        Figure(
            "detector phase (all detectors)",
            res["phase_wall_s"],
            unit="s",
            clock="wall",
            target=target,
            note=f"{where}; CPU {res['phase_cpu_s']:.1f} s; {res['threads']} threads",
        )
    )
    figures.append(
        Figure(
            "detector phase peak RSS",
            res["peak_rss_mb"],
            unit="MB",
            target=None if quick else RSS_TARGET_MB,
        )
    )
    return figures, res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=FULL[0])
    p.add_argument("--classes", type=int, default=FULL[1])
    p.add_argument("--dims", type=int, default=FULL[2])
    p.add_argument("--width", type=int, default=FULL[3], help="SHAP quantiles per row")
    p.add_argument("--folds", type=int, default=FULL[4])
    p.add_argument("--detectors", default="", help="comma-separated (default: all)")
    p.add_argument("--threads", type=int, help="torch/BLAS/forest threads (default: advtui's)")
    p.add_argument("--quick", action="store_true", help=f"smoke case {QUICK[:4]}")
    p.add_argument(
        "--summary",
        type=int,
        metavar="MODES",
        help="time the eval's whole detector phase (report.summarize) on --rows/(MODES+1) "
        "photos with MODES target modes, in this process",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.quick:
        a.rows, a.classes, a.dims, a.width, a.folds = QUICK
    if a.summary:
        from advtui import threads

        n = threads.configure(a.threads)
        photos = max(2, a.rows // (a.summary + 1))
        res = run_summary(photos, a.classes, a.dims, a.width, a.folds, a.summary)
        print(json.dumps(res | {"threads": n}))
        return 0
    if not a.child:
        figures, res = bench_detectors(
            a.quick, threads=a.threads, shape=(a.rows, a.classes, a.dims, a.width, a.folds)
        )
        for f in figures:
            print(f.line(), flush=True)
        return 0 if res else 1
    from advtui import threads

    n = threads.configure(a.threads)
    names = [s for s in a.detectors.split(",") if s] or None
    res = run_phase(a.rows, a.classes, a.dims, a.width, a.folds, names)
    res["threads"] = n
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
