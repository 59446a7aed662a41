"""Eval engines: images/min of ``advtui eval`` in-process vs on Ray with 1 and 2 workers.

    python benchmarks/eval_engines.py [--photos 8] [--views 2] [--nsamples 16] [--steps 5]
                                      [--batch-size 2] [--rounds 2] [--json]

The same eval (the default model on CPU, PGD + SHAP, corrected protocol) runs in-process
with 1 torch thread (the reference), in-process with every CPU's thread, and with ``--engine
ray`` on a local Ray with 1 and 2 workers of 1 torch thread each, interleaved for ``--rounds``
rounds (best of each), then once in-process with the threads :mod:`advtui.threads` fits. That
count follows the 1-minute load average, which still counts the runs just before it, so on an
idle machine it can come out lower than every CPU. Figures per run: images/min over the
whole run (actor start and model loading included) and in steady state (from the first
worker at work to the last row). Scaling efficiency = steady rate of 2 workers / (2 × the
rate of 1 worker): 1.0 is perfect; on a 2-core machine 2 workers can at best double one.
Ray is started once (its start-up is reported apart).
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
    """When the first worker started working (its model loaded) and when the last row came."""

    def __init__(self) -> None:
        self.working: float | None = None
        self.last: tuple[float, int] | None = None

    def status(self, snap: dict) -> None:
        now = time.perf_counter()
        if self.working is None and any(
            w.get("state") == "working" for w in snap.get("workers") or []
        ):
            self.working = now
        if snap["rows"]["done"] > snap.get("resumed_rows", 0):
            self.last = (now, snap["images"]["done"])

    def steady(self) -> float | None:
        """Images/min from the first worker at work to the last row (Ray and actor start-up
        and model loading left out)."""
        if self.working is None or self.last is None or self.last[0] <= self.working:
            return None
        return 60.0 * self.last[1] / (self.last[0] - self.working)


def one_run(model, args, engine=None) -> dict:
    from advtui.eval.config import EvalConfig
    from advtui.eval.loop import run_eval

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
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best of)")
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

    ray = require_ray()
    cpus = threads.available_cpus()
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t0
    factory = functools.partial(load_model, device="cpu")
    every_cpu = f"inprocess-{cpus}t"
    engines = {
        "inprocess-1t": None,
        "ray-1w": RayEngine(factory, workers=1, threads=1, device="cpu"),
        "ray-2w": RayEngine(factory, workers=2, threads=1, device="cpu"),
    }
    if cpus > 1:  # what 2 Ray workers compete with: one process using every CPU
        engines[every_cpu] = None
    try:  # interleaved rounds, best of each: the least disturbed by other processes
        for _ in range(args.rounds):
            for name, engine in engines.items():
                torch.set_num_threads(cpus if name == every_cpu else 1)
                r = one_run(model, args, engine)
                best = results.get(name)
                if best is None or (r["steady"] or 0) > (best["steady"] or 0):
                    results[name] = r
    finally:
        ray.shutdown()
    fit = threads.fit_threads()
    torch.set_num_threads(fit)
    results[f"inprocess-fit-{fit}t"] = one_run(model, args)

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
