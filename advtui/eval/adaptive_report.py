"""The before/after summary and table of ``advtui eval --adaptive`` (see advtui.eval.adaptive)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from advtui.eval.adaptive import adaptive_variant, task_rows
from advtui.registry import PAPER_DETECTOR
from advtui.settings import eps_text

if TYPE_CHECKING:
    from advtui.eval.rows import Row


def _verdict(mode: str, before: dict, after: dict, success: float | None) -> str:
    """One honest sentence: does the SHAP detector hold against the adaptive attack?"""
    b, a = before.get(PAPER_DETECTOR) or {}, after.get(PAPER_DETECTOR) or {}
    tb, ta, ab, aa = b.get("tpr_at_5fpr"), a.get("tpr_at_5fpr"), b.get("roc_auc"), a.get("roc_auc")
    if success is None or ta is None or tb is None or aa is None:
        return f"{mode}: not enough rows to judge the SHAP detector against the adaptive attack."
    rate = f"{success:.0%} of adaptive attacks succeeded"
    if ab is None or ab <= 0.6 or tb == 0:
        ab_s = "–" if ab is None else f"{ab:.2f}"
        return (
            f"{mode}: nothing to defeat — the SHAP detector did not detect even the plain attack "
            f"(AUC {ab_s}, TPR@5%FPR {tb:.2f}); after the adaptive attack AUC {aa:.2f}, "
            f"TPR@5%FPR {ta:.2f} ({rate})."
        )
    falls = aa <= 0.6 or ta < 0.5 * tb
    verb = "falls" if falls else "holds"
    others = [
        f"{n} {after[n]['tpr_at_5fpr']:.2f}"
        for n in after
        if n != PAPER_DETECTOR and after[n].get("tpr_at_5fpr") is not None
    ]
    tail = f"; on the same examples TPR@5%FPR of {', '.join(others)}" if others else ""
    ab_s = "–" if ab is None else f"{ab:.2f}"
    return (
        f"{mode}: the SHAP detector {verb} — TPR@5%FPR {tb:.2f} → {ta:.2f}, AUC "
        f"{ab_s} → {aa:.2f} ({rate}){tail}."
    )


def summarize_adaptive(rows: Sequence[Row], store, cfg) -> dict:
    """Per target mode: attack success (plain, adaptive), each detector's AUC and TPR at 5 %
    FPR before (plain adversarial rows) and after (adaptive rows), the same clean rows and fold
    models, and a verdict sentence."""
    from advtui.detect.base import tpr_at_fpr
    from advtui.detect.cv import _auc
    from advtui.eval.bootstrap import detection_intervals
    from advtui.eval.metrics import _resampler
    from advtui.eval.report import run_detectors

    key = eps_text(cfg.primary_eps)
    out = {}
    for mode in cfg.targets:
        variant = adaptive_variant(mode)
        attempted = [r for r in rows if r["variant"] == variant and r.get("eps_255") == key]
        if not attempted:
            continue
        plain = [r for r in rows if r["variant"] == mode and r.get("eps_255") == key]
        ok = [r for r in attempted if r.get("status") == "ok" and r.get("f") is not None]
        task, y = task_rows(rows, mode, key)
        entry: dict[str, Any] = {
            "n": len(attempted),
            "n_adversarial": len(ok),
            "attack_success_rate": sum(bool(r.get("success")) for r in attempted) / len(attempted),
            "plain_attack_success_rate": (
                sum(bool(r.get("success")) for r in plain) / len(plain) if plain else None
            ),
            "detector_p": {
                "adaptive": _mean(r.get("detector_p") for r in ok),
            },
            "params": {"adaptive_weight": cfg.adaptive_weight, "eot": cfg.eot},
        }
        before: dict[str, dict[str, Any]] = {}
        after: dict[str, dict[str, Any]] = {}
        if task and (y == 0).any() and (y == 1).any():
            bench = run_detectors(task, y, store, cfg, extra_rows=ok)
            groups = np.asarray([str(r["group"]) for r in task])
            g_after = np.concatenate([groups[y == 0], [str(r["group"]) for r in ok]])
            res = _resampler([*task, *ok], cfg)
            for name, b in bench.items():
                before[name] = {"roc_auc": _auc(y, b.cv.oof), "tpr_at_5fpr": b.tpr}
                clean = b.cv.oof[y == 0]
                s = np.concatenate([clean, b.extra_scores])
                ya = np.concatenate([np.zeros(len(clean), int), np.ones(len(b.extra_scores), int)])
                m = np.isfinite(s)
                after[name] = {
                    "roc_auc": _auc(ya[m], s[m]) if m.any() else None,
                    "tpr_at_5fpr": tpr_at_fpr(ya[m], s[m]) if m.any() else None,
                    "flagged": float(b.extra_flags.mean()) if len(ok) else None,
                }
                if res is not None:  # intervals over photos, as the main table's
                    before[name]["intervals"] = detection_intervals(res, y, groups, b.cv.oof, None)
                    after[name]["intervals"] = detection_intervals(res, ya, g_after, s, None)
        entry["before"], entry["after"] = before, after
        entry["verdict"] = _verdict(mode, before, after, entry["attack_success_rate"])
        out[mode] = entry
    return out


def _mean(values):
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def adaptive_table(summary: dict):
    """Before → after per target mode and detector (AUC, TPR at 5 % FPR)."""
    from advtui.eval.report import detector_columns, detector_frame

    block = summary.get("adaptive") or {}
    names = detector_columns(e["before"] for e in block.values())
    t = detector_frame(
        "adaptive attack on the SHAP detector — per detector AUC (upper line) and TPR at "
        "5 % FPR (lower line), plain → adaptive",
        "AUC and TPR of the pooled out-of-fold scores (the detector table's AUC is a mean "
        "over folds); same clean rows and fold models before and after; each photo attacked "
        "against the SHAP-LR fitted without it",
        "atk ok",
        names,
    )

    def f(v):
        return "–" if v is None else f"{v:.2f}"

    for mode, e in block.items():
        ps, s = e.get("plain_attack_success_rate"), e.get("attack_success_rate")
        cells = []
        for n in names:
            b, a = e["before"].get(n, {}), e["after"].get(n, {})
            # two lines per cell: one line per cell made five detectors 150 columns wide, so
            # a log (132 columns) showed "0.47→0…"
            cells.append(
                f"{f(b.get('roc_auc'))}→{f(a.get('roc_auc'))}\n"
                f"{f(b.get('tpr_at_5fpr'))}→{f(a.get('tpr_at_5fpr'))}"
            )
        t.add_row(
            mode,
            f"{'–' if ps is None else f'{ps:.0%}'}→{'–' if s is None else f'{s:.0%}'}",
            *cells,
            end_section=True,
        )
    return t
