"""Turn an ``advtui eval`` results store into summary.json, detector.json and the plots.

The metrics are computed in :mod:`advtui.eval.metrics` and printed by :mod:`advtui.eval.tables`;
their public names are re-exported here, where callers have always found them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from advtui.detect.saved import DETECTOR_FILE, fit_detector
from advtui.eval.metrics import (  # noqa: F401  (re-exported)
    MIN_PHOTOS_PER_FOLD,
    POOLED,
    _data_warning,
    _warnings,
    detector_data,
    detector_folds,
    run_detectors,
    summarize,
)
from advtui.eval.tables import (  # noqa: F401  (re-exported)
    detector_columns,
    detector_frame,
    detector_table,
    summary_table,
    sweep_table,
)
from advtui.images import atomic_write_bytes
from advtui.names import json_safe
from advtui.settings import eps_text


def write_outputs(run, *, plots: bool = True, phases=None) -> dict[str, Path]:
    """detector.json (pooled rows at the primary ε), the two plots, then summary.json (last:
    with ``phases``, :class:`advtui.eval.phases.Phases`, it records each phase's seconds)."""

    def enter(name: str, what: str) -> None:
        if phases is not None:
            phases.enter(name, what)

    cfg, store, summary = run.config, run.store, run.summary
    out = Path(cfg.out)
    written: dict[str, Path] = {}
    primary = eps_text(cfg.primary_eps)
    adv = [
        r
        for r in store.rows
        if r["variant"] in cfg.targets  # plain attacks only (not MODE+adaptive rows)
        and r.get("eps_255") == primary
        and r.get("f") is not None
    ]
    neg = [r for r in store.rows if r["variant"] == "clean" and r.get("f") is not None]
    enter("detector", f"fitting {DETECTOR_FILE}")
    if adv and neg:
        rows = neg + adv
        det = fit_detector(
            store.features([r["f"] for r in rows]),
            np.asarray([0] * len(neg) + [1] * len(adv)),
            params=summary["params"]
            | {"attribution_shape": getattr(run, "attribution_shape", None)}
            | {
                "fit_on": f"all clean + all successful adversarial rows at eps {primary}",
                "n_clean": len(neg),
                "n_adversarial": len(adv),
            },
        )
        written["detector"] = det.save(out)
        summary["detector"] = {
            "path": str(written["detector"]),
            "n_clean": len(neg),
            "n_adversarial": len(adv),
        }
    else:
        (out / "detector.json").unlink(missing_ok=True)
        summary["detector"] = {"path": None, "note": "needs clean and successful adversarial rows"}
    if getattr(run, "sweep_oof", None):
        from advtui.eval.scores import write_scores

        written["scores"] = write_scores(out, run.sweep_oof, store.line_of)
    if plots:
        from advtui.eval.plots import histogram_png, roc_png

        enter("plots", "writing histogram.png and roc.png")
        written["histogram"] = histogram_png(store.rows, cfg, out / "histogram.png", summary)
        written["roc"] = roc_png(run.oof, out / "roc.png")
    enter("summary", "writing summary.json")
    if phases is not None:
        summary["phases"] = phases.seconds()
    path = out / "summary.json"
    atomic_write_bytes(
        path, (json.dumps(json_safe(_clean_json(summary)), indent=2) + "\n").encode()
    )
    written["summary"] = path
    return written


def _clean_json(obj):
    """NaN/inf → None so summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
