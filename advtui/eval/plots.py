"""Figures of ``advtui eval``: mean-SHAP histograms (PNG and terminal) and ROC curves.

matplotlib runs with the Agg backend (no display needed) and figures are written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from advtui.images import atomic_write_bytes
from advtui.settings import eps_text

if TYPE_CHECKING:
    from advtui.eval.rows import Row

CLEAN_COLOR = "#1f77b4"
ADV_COLOR = "#d62728"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())
    return path


def shap_groups(
    rows: Sequence[Row], cfg, pooled: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per target mode at the primary ε: (clean, adversarial) mean SHAP of the top class;
    ``pooled`` adds every mode's adversarial rows together under ``pooled`` when there are
    several modes (the blog's figure over all photos)."""

    primary = eps_text(cfg.primary_eps)
    clean = np.asarray(
        [r["evidence"]["mean_shap"] for r in rows if r["variant"] == "clean" and r.get("evidence")]
    )
    out = {}
    for mode in cfg.targets:
        adv = np.asarray(
            [
                r["evidence"]["mean_shap"]
                for r in rows
                if r["variant"] == mode and r.get("eps_255") == primary and r.get("evidence")
            ]
        )
        out[mode] = (clean, adv)
    if pooled and len(out) > 1:
        out["pooled"] = (clean, np.concatenate([a for _, a in out.values()]))
    return out


def below_text(summary: dict | None, variant: str) -> str:
    """``adv < clean 12% [8%, 17%] of 480 pairs`` from the summary ('' without one)."""
    v = ((summary or {}).get("variants") or {}).get(variant) or {}
    shap = v.get("mean_shap") or {}
    share = shap.get("adv_below_clean")
    if share is None:
        return ""
    iv = shap.get("adv_below_clean_interval") or {}
    text = f"adv < clean {share:.0%}"
    if iv.get("low") is not None and iv.get("high") is not None:
        text += f" [{iv['low']:.0%}, {iv['high']:.0%}]"
    return text


def bin_edges(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The ``n + 1`` bin edges both histograms share (histogram.png, the terminal's)."""
    both = np.concatenate([a, b]) if len(a) + len(b) else np.zeros(1)
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:
        hi = lo + 1e-12
    return np.linspace(lo, hi, n + 1)


def _label(cfg) -> str:
    """The explainer's display name (``SHAP``, ``IG`` …) for titles."""
    from advtui import registry

    return registry.explainer_spec(getattr(cfg, "explainer", "shap")).label


def histogram_png(rows: Sequence[Row], cfg, path: str | Path, summary: dict | None = None) -> Path:
    """The blog's figure: mean SHAP of the top prediction, clean vs adversarial, per mode and
    (with several modes) all modes pooled; each panel names the share of images whose
    adversarial top class has less mean SHAP than the clean one, with its bootstrap interval
    over photos when ``summary`` has one."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    groups = shap_groups(rows, cfg, pooled=True)
    cols = min(3, len(groups))
    nrows = -(-len(groups) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.4 * cols, 3.6 * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[len(groups) :]:
        ax.set_visible(False)
    for ax, (mode, (clean, adv)) in zip(flat, groups.items(), strict=False):
        bins = bin_edges(clean, adv, 30 if len(clean) + len(adv) > 200 else 20)
        # pooled: every mode's adversarial rows against one set of clean rows, so shares
        share = mode == "pooled"
        for values, color, what in ((clean, CLEAN_COLOR, "clean"), (adv, ADV_COLOR, "adversarial")):
            weights = np.full(len(values), 1.0 / len(values)) if share and len(values) else None
            ax.hist(
                values, bins=bins, weights=weights, alpha=0.6, color=color,
                label=f"{what} (n={len(values)})",
            )  # fmt: skip
        if share:
            ax.set_ylabel("share of images")
        below = below_text(summary, mode)
        ax.set_title(mode + (f"\n{below}" if below else ""), fontsize=10)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        ax.locator_params(axis="x", nbins=5)
        ax.set_xlabel(f"mean {_label(cfg)} of the top class")
        if not share:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 ticks
        ax.legend(fontsize=8)
    for row in axes:
        if not row[0].get_ylabel():
            row[0].set_ylabel("images")
    fig.tight_layout()
    try:
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def roc_png(oof: dict, path: str | Path) -> Path:
    """Out-of-fold ROC curves, one panel per variant: every detector of the run (its legend
    gives the pooled AUC and the TPR at 5 % FPR); runs without ``detectors`` show SHAP LR
    (solid) vs confidence only (dashed)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    from advtui.detect.base import tpr_at_fpr

    plt = _pyplot()
    n = max(1, len(oof))
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.6), squeeze=False)
    for ax, (variant, d) in zip(axes[0], oof.items(), strict=False):
        curves = d.get("detectors") or {
            "SHAP LR": d.get("lr"),
            "conf": d.get("confidence_baseline"),
        }
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
        ax.axvline(0.05, color="grey", lw=0.6, ls="--")
        for i, (tag, s) in enumerate(curves.items()):
            if s is None:
                continue
            m = np.isfinite(s)
            y = d["y"][m]
            if m.sum() < 2 or len(np.unique(y)) < 2:
                continue
            fpr, tpr, _ = roc_curve(y, s[m])
            ax.plot(
                fpr,
                tpr,
                color=f"C{i}",
                label=f"{tag} (AUC {roc_auc_score(y, s[m]):.2f}, TPR@5% {tpr_at_fpr(y, s[m]):.2f})",
            )
        ax.set_title(variant, fontsize=10)
        ax.set_xlabel("false positive rate (clean flagged)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("true positive rate (adversarial caught)")
    # the summary table's AUC is the mean over folds; these curves pool all folds' scores
    fig.suptitle("out-of-fold ROC, folds pooled (dashed line: 5 % FPR)", fontsize=10)
    fig.tight_layout()
    try:
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def terminal_histogram(
    rows: Sequence[Row], cfg, bins: int = 10, width: int = 24, summary: dict | None = None
) -> str:
    """The histogram as text: one line per bin, clean ``█`` and adversarial ``▓`` bars; the
    head line of each mode gives ``adv < clean`` with its interval when ``summary`` has it."""
    lines = []
    for mode, (clean, adv) in shap_groups(rows, cfg).items():
        below = below_text(summary, mode)
        lines.append(
            f"mean {_label(cfg)} of the top class — {mode}   clean █ (n={len(clean)})   adversarial ▓ (n={len(adv)})"
            + (f"   {below}" if below else "")
        )
        if not len(clean) and not len(adv):
            lines.append("  (no rows)")
            continue
        edges = bin_edges(clean, adv, bins)
        hc, _ = np.histogram(clean, edges)
        ha, _ = np.histogram(adv, edges)
        top = max(1, hc.max(initial=0), ha.max(initial=0))
        for j in range(bins):
            bc = "█" * round(width * hc[j] / top)
            ba = "▓" * round(width * ha[j] / top)
            lines.append(
                f"  {edges[j]:>+10.2e} │{bc:<{width}} {hc[j]:>3} │{ba:<{width}} {ha[j]:>3}"
            )
    return "\n".join(lines)
