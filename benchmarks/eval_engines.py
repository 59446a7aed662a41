"""Eval engines: images/min of ``advtui eval`` in-process vs on Ray with 1 and 2 workers.

    python benchmarks/eval_engines.py [--photos 8] [--views 2] [--nsamples 16] [--steps 5]
                                      [--batch-size 4] [--json]

The same eval (the default model on CPU, PGD + SHAP, corrected protocol) runs four times:
in-process with 1 torch thread (the reference) and with the threads :mod:`advtui.threads`
fits, then ``--engine ray`` on a local Ray with 1 and 2 workers of 1 torch thread each.
Figures per run: wall seconds, images/min over the whole run (Ray start and model loading
included) and images/min in steady state (from the first stored row to the last; the images
of the first arrival are not counted). Scaling efficiency = steady rate of 2 workers /
(2 × the rate of 1 worker): 1.0 is perfect, on a 2-core machine 2 workers can at best
double one. Ray is started once before the Ray runs (its start-up is reported apart).
Wall clock throughout (parallel speed-up is the point); on a busy machine compare ratios.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, machine  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


class _Clock:
    """Times of the first and last stored row and the images done at the first."""

    def __init__(self) -> None:
        self.first: tuple[float, int] | None = None
        self.last: tuple[float, int] | None = None

    def status(self, snap: dict) -> None:
        done = snap["images"]["done"]
        if snap["rows"]["done"] > snap.get("resumed_rows", 0):
            now = time.perf_counter()
            if self.first is None:
                self.first = (now, done)
            self.last = (now, done)

    def steady(self) -> float | None:
        """Images/min between the first and the last stored row."""
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return None
        return 60.0 * (self.last[1] - self.first[1]) / (self.last[0] - self.first[0])


def one_run(model, args, engine=None) -> dict:
    from advtui.eval.loop import EvalConfig, run_eval

    clock = _Clock()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = EvalConfig(
            folder=str(SAMPLES),
            out=str(Path(tmp) / "eval"),
            n=args.photos,
            views=args.views,
            nsamples=args.nsamples,
            steps=args.steps,
            batch_size=args.batch_size,
            plots=False,
            folds=2,
        )
        t0 = time.perf_counter()
        run = run_eval(cfg, model, engine=engine, status=clock.status)
        wall = time.perf_counter() - t0
        images = run.summary["images"]["evaluated"] + run.summary["images"]["misclassified"]
    return {
        "wall": wall,
        "images": images,
        "per_min": 60.0 * images / wall,
        "steady": clock.steady(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=8)
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--nsamples", type=int, default=16)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--json", action="store_true", help="end with one JSON object on a line")
    args = p.parse_args(argv)

    import torch

    from advtui import threads
    from advtui.eval.ray_engine import RayEngine, require_ray
    from advtui.models import load_model

    info = machine()
    print(
        f"# {info['cpu']}, {info['nproc']} cores, torch {info['torch']}, "
        f"load {info.get('loadavg_1m', '?')}; {args.photos} photos × {args.views} views, "
        f"nsamples {args.nsamples}, steps {args.steps}, batch {args.batch_size}",
        flush=True,
    )
    model = load_model(device="cpu")
    results: dict[str, dict] = {}

    torch.set_num_threads(1)
    results["inprocess-1t"] = one_run(model, args)
    fit = threads.fit_threads()
    torch.set_num_threads(fit)
    results[f"inprocess-{fit}t"] = one_run(model, args)
    torch.set_num_threads(1)

    ray = require_ray()
    t0 = time.perf_counter()
    ray.init(num_cpus=threads.available_cpus(), include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t0
    factory = functools.partial(load_model, device="cpu")
    try:
        for workers in (1, 2):
            engine = RayEngine(factory, workers=workers, threads=1, device="cpu")
            results[f"ray-{workers}w"] = one_run(model, args, engine)
    finally:
        ray.shutdown()

    ref = results["inprocess-1t"]
    figures = [Figure("ray start (ray.init)", ray_start, unit="s", clock="wall")]
    for name, r in results.items():
        figures.append(
            Figure(
                f"{name} images/min (run)",
                r["per_min"],
                unit="images/min",
                note=f"{r['images']} images in {r['wall']:.1f} s wall",
            )
        )
        figures.append(
            Figure(
                f"{name} images/min (steady)",
                r["steady"],
                unit="images/min",
                note=f"in-process 1 thread: {ref['steady'] or 0:.1f}",
            )
        )
    one, two = results["ray-1w"]["steady"], results["ray-2w"]["steady"]
    eff = two / (2 * one) if one and two else None
    figures.append(Figure("ray scaling efficiency 2 workers", eff, unit="×"))
    for fig in figures:
        print(fig.line(), flush=True)
    if args.json:
        print(json.dumps({"machine": info, "results": results, "scaling_efficiency": eff}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
