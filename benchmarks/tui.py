"""TUI latency: process start → first frame, and a full-screen redraw, in fresh processes.

Each figure is a ratio against the same measurement on a bare Textual app (one Static full
of coloured half-blocks, same terminal size) run in the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Figure

ROOT = Path(__file__).resolve().parent.parent


def run_child(which: str, redraws: int = 20) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # a truecolour terminal, as on any modern emulator (without it the headless console
    # downgrades every colour to the 16-colour palette, which is slower and not what users see)
    env["COLORTERM"] = "truecolor"
    cmd = [sys.executable, "-m", "benchmarks.tui_child", which, "--redraws", str(redraws)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit {proc.returncode}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["first_frame_s"] = out["first_frame"] - t0
    return out


def bench_tui(repeats: int = 2, redraws: int = 20) -> tuple[list[Figure], dict]:
    """First frame (best of ``repeats`` fresh processes) and median full redraw."""
    try:
        import advtui.tui.app  # noqa: F401
        from advtui.cli import build_app  # noqa: F401
    except ImportError as exc:
        note = f"TUI not built: {exc}"
        return [
            Figure("tui first frame", None, note=note),
            Figure("tui redraw", None, note=note),
        ], {
            "first_frame_s": None,
            "redraw_ms": None,
        }
    ours, bare = [], []
    for _ in range(repeats):  # interleaved, best of
        bare.append(run_child("bare", redraws))
        ours.append(run_child("advtui", redraws))
    first = min(o["first_frame_s"] for o in ours)
    first_ref = min(b["first_frame_s"] for b in bare)
    redraw = min(o["redraw_ms"] for o in ours)
    redraw_ref = min(b["redraw_ms"] for b in bare)
    new_content = min(
        (o["redraw_new_content_ms"] for o in ours if o.get("redraw_new_content_ms")),
        default=None,
    )
    keypress = min((o["attack_keypress_s"] for o in ours if "attack_keypress_s" in o), default=None)
    direct = min((o["attack_direct_s"] for o in ours if "attack_direct_s" in o), default=None)
    note = "" if all(o["ready"] for o in ours) else "startup workers still running at redraw"
    figures = [
        Figure("tui first frame", first, first_ref, "bare textual app", clock="wall"),
        Figure("tui first frame (absolute)", first, unit="s", target=1.0, clock="wall"),
        Figure("tui full redraw 160×50", redraw, redraw_ref, "bare textual app", unit="ms"),
        Figure("tui full redraw (absolute)", redraw, unit="ms", target=20.0, note=note),
        Figure("tui redraw, new content", new_content, redraw_ref, "bare textual app", unit="ms"),
        Figure("tui `a` → PGD-10 on screen", keypress, direct, "run_attack direct", clock="wall"),
    ]
    return figures, {
        "first_frame_s": first,
        "redraw_ms": redraw,
        "redraw_new_content_ms": new_content,
        "attack_keypress_s": keypress,
    }
