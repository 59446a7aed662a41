"""advtui benchmarks: every figure is a ratio against a reference measured in the same run.

    python benchmarks/run.py [--quick] [--json] [--device auto|cpu|cuda] [--only SECTIONS]

Sections: attack (vs torchattacks and the fwd+bwd floor), explain (vs shap's default
GradientExplainer call and a hand expected-gradients floor), rss (peak RSS at nsamples=200,
fresh process), tui (first frame, full redraw; fresh processes), eval (images/min), sweep
(explainer batch sizes; full runs only), scale (the explorer on 50,000 files and a
1,000-class tree against the samples folder; full runs only, or ``--only scale``), detectors
(every detector fitted and scored on 5,000 synthetic rows × 1,000 classes × 1,280 dims, peak
RSS; ``--quick``: a small smoke case). ``--quick`` trims repeats and cases (≈ 2 min on a
quiet 2-core CPU). With ``--json`` the last line is one JSON object. Timings are minima
over interleaved repeats; on a loaded machine they are still noisy — compare ratios, and
never gate on absolute times.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CLOCK, Figure, machine  # noqa: E402

SECTIONS = ("attack", "explain", "rss", "tui", "eval", "sweep", "scale", "detectors")
#: Sections that time the default model in this process (the others start their own).
NEEDS_MODEL = {"attack", "explain", "sweep", "eval"}
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LAYER = "_blocks.5"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and cases (CI smoke run)")
    p.add_argument("--json", action="store_true", help="end with one JSON object on a line")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda (default cpu)")
    p.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        help="clock of the ratios: process CPU time (default on CPU) or wall time (on CUDA)",
    )
    p.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads (default torch's; 1 gives steadier ratios on a busy machine)",
    )
    p.add_argument("--only", default="", help=f"comma-separated sections from {','.join(SECTIONS)}")
    args = p.parse_args(argv)
    args.sections = [s for s in args.only.split(",") if s] or [
        s for s in SECTIONS if not (s in ("sweep", "scale") and args.quick)
    ]
    bad = set(args.sections) - set(SECTIONS)
    if bad:
        p.error(f"unknown section(s): {', '.join(sorted(bad))}")
    return args


def emit(figures: list[Figure], fig_list: list[Figure]) -> None:
    for fig in fig_list:
        figures.append(fig)
        print(fig.line(), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from advtui.explain import background_from_folder
    from advtui.images import find_images, load_tensor
    from advtui.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    info = machine()
    print(
        f"# {info['cpu']}, {info['nproc']} cores (torch threads {info['torch_threads']}), "
        f"torch {info['torch']}, python {info['python']}, load {info.get('loadavg_1m', '?')}"
        + (f", GPU {info['cuda']}" if info["cuda"] else ""),
        flush=True,
    )
    if NEEDS_MODEL & set(args.sections):
        model = load_model(device=args.device)
        CLOCK["cuda"] = model.device.type == "cuda"
        paths = find_images(SAMPLES)
        images = torch.stack([load_tensor(p, model.input_size) for p in paths])
        x = images[:1].to(model.device)
        background = background_from_folder(SAMPLES, model.input_size, exclude=paths[:1])
    CLOCK["name"] = args.clock or ("wall" if CLOCK["cuda"] else "cpu")
    print(f"# ratios on {CLOCK['name']} time; minima over interleaved repeats", flush=True)
    figures: list[Figure] = []
    result: dict = {
        "attack_vs_torchattacks": None,
        "explain_vs_shap_default": None,
        "explain_vs_floor": None,
        "first_frame_s": None,
        "redraw_ms": None,
        "peak_rss_mb_ns200": None,
        "eval_images_per_min": None,
    }
    repeats = 1 if args.quick else 2

    if "attack" in args.sections:
        from benchmarks.attack import bench_attacks

        figs, worst = bench_attacks(
            model, images, batches=(1,) if args.quick else (1, 16), repeats=repeats
        )
        emit(figures, figs)
        result["attack_vs_torchattacks"] = worst

    if "explain" in args.sections:
        from benchmarks.explain import bench_explain

        cases = [(None, 50), (LAYER, 50)]
        if not args.quick:
            cases += [(None, 200), (LAYER, 200)]
        # one more round than the attacks: a single slow round (another process waking up)
        # otherwise decides a ratio against the floor, which sits within a few % of ours
        figs, headline = bench_explain(
            model, background, x, cases, repeats=repeats if args.quick else repeats + 1
        )
        emit(figures, figs)
        result.update(headline)

    if "sweep" in args.sections:
        from benchmarks.explain import sweep_batch_sizes

        emit(figures, sweep_batch_sizes(model, background, x))

    if "rss" in args.sections:
        from benchmarks.explain import peak_rss

        ours = peak_rss(200, args.device, threads=args.threads)
        ref = (
            None
            if args.quick
            else peak_rss(200, args.device, shap_default=True, threads=args.threads)
        )
        result["peak_rss_mb_ns200"] = ours["peak_mb"]
        emit(
            figures,
            [
                Figure(
                    "peak RSS explain ns=200",
                    ours["peak_mb"],
                    ref["peak_mb"] if ref else ours["before_mb"],
                    "shap default" if ref else "model loaded",
                    unit="MB",
                ),
                Figure(
                    "peak RSS explain ns=200 (absolute)", ours["peak_mb"], unit="MB", target=2048
                ),
            ],
        )

    if "tui" in args.sections:
        from benchmarks.tui import bench_tui

        figs, tui = bench_tui(repeats=1 if args.quick else 3, redraws=10 if args.quick else 20)
        emit(figures, figs)
        result.update(tui)

    if "eval" in args.sections:
        from benchmarks.eval import bench_eval

        figs, per_min = bench_eval(model, n_images=2 if args.quick else 4)
        emit(figures, figs)
        result["eval_images_per_min"] = per_min

    if "scale" in args.sections:
        from benchmarks.scale import bench_scale

        figs, _ = bench_scale(repeats=1 if args.quick else 2)
        emit(figures, figs)

    if "detectors" in args.sections:
        from benchmarks.detectors import bench_detectors

        figs, res = bench_detectors(quick=args.quick, threads=args.threads)
        emit(figures, figs)
        result["detector_phase_s"] = res.get("phase_wall_s")
        result["detector_peak_rss_mb"] = res.get("peak_rss_mb")

    print(f"# {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        result["machine"] = info
        result["quick"] = args.quick
        result["figures"] = [f.to_dict() for f in figures]
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
