"""The explorer's memory over a long stay: peak RSS after many attacks against a fresh one.

``python -m benchmarks.tui_memory [--attacks 200 --explanations 30] [--quick]`` runs two fresh
processes (:mod:`benchmarks.tui_memory_child`): a fresh explorer that attacks one image (the
reference) and one that attacks N times and explains M of them by scripted keys, and reports
the ratio of their peak RSS (target ≤ 1.5×: the result cache has a byte budget,
:mod:`advtui.tui.resultcache`). A third process, a fresh explorer after one attack and one
explanation, separates SHAP's own working memory (the same for one explanation or thirty)
from the growth of the stay: ``ratio_to_one_explanation``. ``--quick`` (3 attacks, 1
explanation) is the smoke test's size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import Figure

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5


def run_child(attacks: int, explanations: int, steps: int, nsamples: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["COLORTERM"] = "truecolor"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.tui_memory_child",
        "--attacks",
        str(attacks),
        "--explanations",
        str(explanations),
        "--steps",
        str(steps),
        "--nsamples",
        str(nsamples),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=7200)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_tui_memory(
    attacks: int = 200, explanations: int = 30, steps: int = 3, nsamples: int = 16
) -> tuple[Figure, dict]:
    fresh = run_child(1, 0, steps, nsamples)
    fresh_explained = run_child(1, 1, steps, nsamples) if explanations else None
    long = run_child(attacks, explanations, steps, nsamples)
    fig = Figure(
        f"explorer peak RSS after {long['attacks']} attacks + {long['explanations']} explanations",
        long["peak_mb"],
        fresh["peak_mb"],
        "a fresh explorer after one attack",
        unit="MB",
        target=TARGET,
    )
    growth = None
    if fresh_explained is not None:  # SHAP's own working memory is in both: the stay's growth
        growth = long["peak_mb"] / fresh_explained["peak_mb"]
    data = {"fresh": fresh, "fresh_explained": fresh_explained, "long": long}
    return fig, data | {"ratio": fig.ratio, "ratio_to_one_explanation": growth}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--attacks", type=int, default=200)
    p.add_argument("--explanations", type=int, default=30)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--nsamples", type=int, default=16)
    p.add_argument("--quick", action="store_true", help="3 attacks, 1 explanation")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.attacks, a.explanations, a.steps, a.nsamples = 3, 1, 1, 4
    fig, data = bench_tui_memory(a.attacks, a.explanations, a.steps, a.nsamples)
    print(json.dumps(data) if a.json else fig.line())
    if not a.json and data["ratio_to_one_explanation"] is not None:
        print(
            f"  against a fresh explorer after one attack and one explanation: "
            f"{data['ratio_to_one_explanation']:.2f}×"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
