"""Opening an eval run in the explorer's results view: a synthetic 50,000-row run against a
100-row one, measured the same way in the same process (interleaved, best of ``repeats``).

The runs are written to a temporary folder: results.jsonl rows shaped as ``advtui eval``
writes them (clean and two target modes, evidence, squeezing), run.json, summary.json and an
oof_scores.npz of five detectors (:func:`advtui.eval.scores.write_scores`). Figures:

* first screen — ``advtui OUT``'s path to the first rows: :func:`advtui.eval.browse.open_run`,
  the first indexed chunk of results.jsonl, the order of the rows and the 50 rows on screen
  read from their offsets; the 50,000-row run against the 100-row one (target ≤ 1.5×);
* first rows in the App — Pilot, ``advtui OUT`` built by the CLI's factory: from the App's
  start to the table holding its first rows (same ratio, same target);
* full index — every row indexed (linear in the rows: reported, no target), and the memory
  the index holds per row (tracemalloc; the rows' JSON is never all in memory).

    python -m benchmarks.results_view [--rows 50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from advtui.registry import DEFAULT_DETECTORS  # noqa: E402
from benchmarks.common import Figure  # noqa: E402

MODES = ("untargeted", "runner-up")
DETECTORS = DEFAULT_DETECTORS
SCREEN_ROWS = 50


def make_run(folder: Path, rows: int, seed: int = 0) -> Path:
    """A finished synthetic run of ``rows`` rows (a third clean, two thirds adversarial)."""
    from advtui.eval.scores import write_scores

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    photos = max(1, rows // 3)
    keys, lines = [], []
    for i in range(rows):
        p, k = i % photos, i // photos
        variant = "clean" if k == 0 else MODES[(k - 1) % 2]
        adv = variant != "clean"
        row = {
            "image": f"photo_{p:06d}.jpg",
            "attack_seed": int(rng.integers(40000)),
            "source": f"photos/photo_{p:06d}.jpg",
            "view": "full",
            "group": f"photo_{p:06d}.jpg",
            "position": p,
            "label_source": "clean-top1",
            "pred": int(rng.integers(1000)),
            "pred_label": "tabby cat",
            "confidence": float(rng.random()),
            "logit": float(rng.normal()),
            "variant": variant,
            "eps": 8 / 255 if adv else None,
            "eps_255": "8/255" if adv else None,
            "label": 281,
            "status": "ok",
            "evidence": {
                "class_index": 281,
                "label": "tabby cat",
                "mean_shap": float(rng.normal(0, 1e-5)),
                "pos_sum": 0.2,
                "neg_sum": -0.18,
                "top5_share": 0.15,
                "logit": 0.6,
                "prob": 0.002,
            },
            "squeeze": float(rng.random() / 10),
            "squeeze_parts": [0.0002, 0.005],
            "f": i,
        }
        if adv:
            row |= {
                "target": None,
                "target_label": None,
                "success": True,
                "linf": 8 / 255,
                "l2": 1.5,
                "l0": 100,
                "steps_run": 10,
                "rounding_undid": False,
                "clean_confidence": 0.9,
            }
        lines.append(json.dumps(row, separators=(",", ":")))
        keys.append((row["image"], variant, row["eps_255"]))
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    params = {
        "fixed": {"model": "tiny", "method": "pgd", "steps": 10, "nsamples": 50},
        "folder": "photos",
        "eps": ["8/255"],
        "primary_eps": "8/255",
        "targets": list(MODES),
    }
    (folder / "run.json").write_text(json.dumps(params))
    (folder / "summary.json").write_text(json.dumps({"params": params}))
    line_of = {k: i for i, k in enumerate(keys)}
    sweep: dict = {"8/255": {}}
    for variant in (*MODES, "pooled"):
        idx = [i for i, k in enumerate(keys) if k[1] == "clean" or variant in ("pooled", k[1])]
        y = np.asarray([keys[i][1] != "clean" for i in idx], dtype=int)
        dets = {d: rng.random(len(idx)) + 0.3 * y for d in DETECTORS}
        sweep["8/255"][variant] = {"y": y, "keys": [keys[i] for i in idx], "detectors": dets}
    write_scores(folder, sweep, line_of)
    return folder


def first_screen(folder: Path) -> float:
    """Seconds from nothing to the first screen of rows (the results view's path)."""
    from advtui.eval.browse import open_run, view_order

    t = time.perf_counter()
    run = open_run(folder)
    stop = _StopAfterFirst()
    run.scan(stop, stop.progress)
    score, caught = run.scores(None, None)
    order = view_order(run, score, caught)
    for i in order[:SCREEN_ROWS]:
        run.row(int(i))
    return time.perf_counter() - t


class _StopAfterFirst:
    """A stop event set by the first progress report: the scan's first chunk only."""

    def __init__(self) -> None:
        self.set_ = False

    def is_set(self) -> bool:
        return self.set_

    def progress(self, done: int, total: int) -> None:
        self.set_ = True


def full_index(folder: Path) -> tuple[float, int]:
    """(seconds, bytes the finished index holds) for every row of ``folder``."""
    from advtui.eval.browse import open_run

    t = time.perf_counter()
    run = open_run(folder)
    run.scan()
    run.scores(None, None)
    dt = time.perf_counter() - t
    assert run.complete and len(run) > 0
    tracemalloc.start()  # a second pass, traced (tracing slows Python several times)
    run = open_run(folder)
    run.scan()
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dt, held


def app_first_rows(folder: Path) -> float:
    """Seconds from the App's start to the results table holding its first rows (Pilot)."""
    from advtui.cli import build_app
    from advtui.tui.results import ResultsScreen, RunTable

    app = build_app([str(folder), "--device", "cpu"], classifier=_tiny())

    async def go() -> float:
        t = time.perf_counter()
        async with app.run_test(size=(160, 50)) as pilot:
            while True:
                screen = app.screen
                if isinstance(screen, ResultsScreen) and len(screen.query_one(RunTable).order):
                    dt = time.perf_counter() - t
                    break
                await pilot.pause(0.005)
            app.workers.cancel_all()
        return dt

    return asyncio.run(go())


_TINY: list = []


def _tiny():
    if not _TINY:
        import torch
        from torch import nn

        from advtui.models import Classifier, imagenet_classes

        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.LazyLinear(1000))
        _TINY.append(
            Classifier(
                net,
                name="tiny",
                input_size=16,
                mean=(0.5, 0.5, 0.5),
                std=(0.25, 0.25, 0.25),
                class_names=imagenet_classes(),
            ).eval()
        )
    return _TINY[0]


def bench(rows: int = 50_000, small: int = 100, repeats: int = 3) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        big = make_run(Path(tmp) / "big", rows)
        little = make_run(Path(tmp) / "small", small)
        best: dict[str, dict[str, float]] = {"screen": {}, "app": {}}
        for _ in range(repeats):  # interleaved: the machine's load hits both alike
            for name, folder in (("big", big), ("small", little)):
                for what, fn in (("screen", first_screen), ("app", app_first_rows)):
                    dt = fn(folder)
                    best[what][name] = min(best[what].get(name, dt), dt)
        figures.append(
            Figure(
                f"first screen of rows, {rows:,}-row run",
                best["screen"]["big"] * 1e3,
                best["screen"]["small"] * 1e3,
                f"{small}-row run",
                unit="ms",
                target=1.5,
            )
        )
        figures.append(
            Figure(
                f"App start → first rows, {rows:,}-row run",
                best["app"]["big"] * 1e3,
                best["app"]["small"] * 1e3,
                f"{small}-row run",
                unit="ms",
                target=1.5,
            )
        )
        t_big, held = full_index(big)
        t_small, _ = full_index(little)
        figures.append(
            Figure(
                f"full index, {rows:,} rows", t_big * 1e3, t_small * 1e3, f"{small} rows", unit="ms"
            )
        )
        figures.append(
            Figure(
                "index memory per row",
                held / rows,
                None,
                unit="B",
                note=f"{held / 2**20:.1f} MiB for {rows:,} rows; results.jsonl "
                f"{(big / 'results.jsonl').stat().st_size / 2**20:.0f} MiB stays on disk",
            )
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--small", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    figures = bench(args.rows, args.small, args.repeats)
    for f in figures:
        print(f.line())
    if args.json:
        print(json.dumps([f.to_dict() for f in figures]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
