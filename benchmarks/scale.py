"""The explorer at the user's scale: a flat folder of 50,000 JPEGs and a 1,000-class
ImageNet-style tree of 3,000 files, each against the bundled samples folder (15 photos)
measured the same way in the same run (fresh processes, interleaved, best of ``repeats``).

The folders are built in a temporary directory from hard links of one small JPEG made from a
sample photo (cheap: no 50,000 copies). Figures: first frame, every file listed, true classes
shown (tree), j/k latency while the list fills and once listed, ``a`` (PGD-10) keypress to
result, ``q`` to process exit, peak RSS and the number of files decoded.

    python -m benchmarks.scale [--files 50000] [--classes 1000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def make_folders(base: Path, files: int, classes: int, per_class: int) -> tuple[Path, Path]:
    """(flat folder of ``files`` JPEGs, tree of ``classes`` synset folders × ``per_class``)."""
    from PIL import Image

    src = base / "small.jpg"
    with Image.open(SAMPLES / "tabby_cat.jpg") as im:
        im = im.convert("RGB")
        im.thumbnail((160, 160))
        im.save(src, quality=85)
    flat = base / "flat"
    flat.mkdir()
    for i in range(files):
        os.link(src, flat / f"img_{i:06d}.jpg")
    tree = base / "tree"
    for c in range(classes):
        d = tree / f"n{10000000 + c:08d}"
        d.mkdir(parents=True)
        for k in range(per_class):
            os.link(src, d / f"ILSVRC2012_val_{c * per_class + k:08d}.JPEG")
    return flat, tree


def run_child(path: Path, attack: bool, keys: int = 20) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["COLORTERM"] = "truecolor"
    t0 = time.time()
    cmd = [sys.executable, "-m", "benchmarks.scale_child", str(path), "--keys", str(keys)]
    cmd += ["--start", repr(t0)] + (["--attack"] if attack else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    end = time.time()
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit {proc.returncode}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["first_frame_s"] = out["first_frame"] - t0
    out["quit_s"] = end - out["q_posted"]
    return out


def _best(runs: list[dict], key: str) -> float | None:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return min(vals) if vals else None


def bench_scale(
    files: int = 50_000, classes: int = 1000, per_class: int = 3, repeats: int = 2
) -> tuple[list[Figure], dict]:
    with tempfile.TemporaryDirectory(prefix="advtui-scale-") as tmp:
        flat, tree = make_folders(Path(tmp), files, classes, per_class)
        ref: list[dict] = []
        big: list[dict] = []
        trees: list[dict] = []
        for _ in range(repeats):  # interleaved
            ref.append(run_child(SAMPLES, attack=True))
            big.append(run_child(flat, attack=True))
            trees.append(run_child(tree, attack=False))
    n = f"{files // 1000}k" if files >= 1000 else str(files)
    samples = "samples folder (15)"
    figs = [
        Figure(
            f"{n} flat: first frame",
            _best(big, "first_frame_s"),
            _best(ref, "first_frame_s"),
            samples,
            clock="wall",
        ),
        Figure(
            f"{n} flat: first frame (absolute)",
            _best(big, "first_frame_s"),
            target=1.0,
            clock="wall",
        ),
        Figure(
            f"{n} flat: all listed",
            _best(big, "listed_s"),
            _best(ref, "listed_s"),
            samples,
            clock="wall",
        ),
        Figure(
            f"{n} flat: j/k while filling",
            _best(big, "key_fill_ms"),
            _best(ref, "key_fill_ms"),
            samples + ", same moment",
            unit="ms",
            note=f"{max(r['key_fill_n'] for r in big)} of 6 keys before the walk ended; "
            "both while the model loads",
        ),
        Figure(
            f"{n} flat: j/k once listed",
            _best(big, "key_ms"),
            _best(ref, "key_ms"),
            samples,
            unit="ms",
        ),
        Figure(
            f"{n} flat: a → PGD-10 on screen",
            _best(big, "attack_keypress_s"),
            _best(ref, "attack_keypress_s"),
            samples,
            clock="wall",
        ),
        Figure(
            f"{n} flat: q → process exit",
            _best(big, "quit_s"),
            _best(ref, "quit_s"),
            samples,
            clock="wall",
        ),
        Figure(
            f"{n} flat: peak RSS",
            _best(big, "peak_rss_mb"),
            _best(ref, "peak_rss_mb"),
            samples,
            unit="MB",
        ),
        Figure(
            f"{n} flat: files decoded",
            _best(big, "decoded"),
            _best(ref, "decoded"),
            samples,
            unit="files",
        ),
        Figure(
            f"tree {classes}×{per_class}: first frame",
            _best(trees, "first_frame_s"),
            _best(ref, "first_frame_s"),
            samples,
            target=None,
            clock="wall",
        ),
        Figure(
            f"tree {classes}×{per_class}: first frame (absolute)",
            _best(trees, "first_frame_s"),
            target=1.0,
            clock="wall",
        ),
        Figure(f"tree {classes}×{per_class}: all listed", _best(trees, "listed_s"), clock="wall"),
        Figure(
            f"tree {classes}×{per_class}: true classes shown",
            _best(trees, "classes_s"),
            clock="wall",
            note=f"last row: {trees[0].get('true_class_last', '?')}; the built-in model's "
            "ImageNet names: no wait for the model",
        ),
        Figure(
            f"tree {classes}×{per_class}: j/k once listed",
            _best(trees, "key_ms"),
            _best(ref, "key_ms"),
            samples,
            unit="ms",
        ),
    ]
    raw = {"samples": ref, "flat": big, "tree": trees}
    return figs, raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=50_000)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--per-class", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    figs, raw = bench_scale(a.files, a.classes, a.per_class, a.repeats)
    for f in figs:
        print(f.line(), flush=True)
    if a.json:
        print(json.dumps({"figures": [f.to_dict() for f in figs], "raw": raw}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
