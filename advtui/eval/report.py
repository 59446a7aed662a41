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
    """detector.json (pooled rows at the primary ε), oof_scores.npz, the two plots and
    summary.json (last: with ``phases``, :class:`advtui.eval.phases.Phases`, it records each
    phase's seconds), as one set (:func:`advtui.outputs.save_set`): a kill or a failed write
    leaves the previous set."""
    from advtui.outputs import save_set

    def enter(name: str, what: str) -> None:
        if phases is not None:
            phases.enter(name, what)

    out = Path(run.config.out)
    enter("detector", f"fitting {DETECTOR_FILE}")
    fitted = _fit_final_detector(run)
    written: dict[str, Path] = {}

    def write(staging: Path) -> dict[str, Path]:
        _write_final(run, staging, fitted, written, plots, enter)
        if phases is not None:
            run.summary["phases"] = phases.seconds()
        _write_summary(run.summary, staging, written)
        return written

    # a run that fits no detector (or scores nothing) removes an earlier file with the swap,
    # and one without plots keeps the earlier plots, as before
    owned = {"summary.json", "detector.json", "oof_scores.npz"}
    return save_set(out, write, owned=owned)


def _fit_final_detector(run):
    """The detector of all clean + successful adversarial rows at the primary ε (or None)."""
    cfg, store, summary = run.config, run.store, run.summary
    primary = eps_text(cfg.primary_eps)
    adv = [
        r
        for r in store.rows
        if r["variant"] in cfg.targets  # plain attacks only (not MODE+adaptive rows)
        and r.get("eps_255") == primary
        and r.get("f") is not None
    ]
    neg = [r for r in store.rows if r["variant"] == "clean" and r.get("f") is not None]
    if not (adv and neg):
        summary["detector"] = {"path": None, "note": "needs clean and successful adversarial rows"}
        return None
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
    summary["detector"] = {
        "path": str(Path(cfg.out) / DETECTOR_FILE),
        "n_clean": len(neg),
        "n_adversarial": len(adv),
    }
    return det


def _write_final(run, staging: Path, det, written: dict[str, Path], plots: bool, enter) -> None:
    cfg, store, summary = run.config, run.store, run.summary
    if det is not None:
        written["detector"] = det.save(staging)
    if getattr(run, "sweep_oof", None):
        from advtui.eval.scores import write_scores

        written["scores"] = write_scores(staging, run.sweep_oof, store.line_of)
    if plots:
        from advtui.eval.plots import histogram_png, roc_png

        enter("plots", "writing histogram.png and roc.png")
        written["histogram"] = histogram_png(store.rows, cfg, staging / "histogram.png", summary)
        written["roc"] = roc_png(run.oof, staging / "roc.png")
    enter("summary", "writing summary.json")


def _write_summary(summary: dict, staging: Path, written: dict[str, Path]) -> None:
    path = staging / "summary.json"
    atomic_write_bytes(
        path, (json.dumps(json_safe(_clean_json(summary)), indent=2) + "\n").encode()
    )
    written["summary"] = path


def _clean_json(obj):
    """NaN/inf → None so summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
