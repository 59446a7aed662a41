"""The Rich tables ``advtui eval`` prints from a summary (summary.json's dict)."""

from __future__ import annotations

from collections.abc import Sequence

from advtui.eval.metrics import POOLED


def _pm(d: dict, key: str, spread: bool = True) -> str:
    v = d.get(key)
    if v is None:
        return "–"
    s = d.get(f"{key}_std") if spread else None
    return f"{v:.2f}" + (f"±{s:.2f}".replace("0.", ".", 1) if s else "")


def summary_table(summary: dict, spread: bool = True):
    """A Rich table of the primary ε: detection by LR / RF vs the confidence baseline."""
    from rich import box
    from rich.table import Table

    p = summary["params"]
    t = Table(
        box=box.SIMPLE_HEAD,
        title=f"advtui eval — {p['model']} {p['method']} ε={p['primary_eps']} steps={p['steps']} "
        f"nsamples={p['nsamples']} protocol={p['protocol']}"
        + (f" explainer={p['explainer']}" if p.get("explainer", "shap") != "shap" else ""),
        title_justify="left",
        caption=(
            "acc/AUC: one 90/10 split by image position (the original's; test = last 10 % of images)"
            if p["protocol"] == "seed"
            else "acc/AUC: mean"
            + ("±std" if spread else "")
            + " over folds that never split a photo"
        )
        + "; conf = top-1 confidence only; adv < clean = share of images whose adversarial top "
        "class has less mean SHAP; roc.png's legend AUC pools all folds' scores instead, so it "
        "differs slightly",
        caption_justify="left",
    )
    for col in (
        "variant",
        "clean/adv",
        "atk ok",
        "LR acc",
        "LR AUC",
        "RF acc",
        "RF AUC",
        "conf acc",
        "conf AUC",
        "adv < clean",
    ):
        t.add_column(
            col,  # headers wrap; numbers never do
            justify="left" if col == "variant" else "right",
            no_wrap=col in ("variant", "clean/adv"),
            min_width={"variant": 10, "clean/adv": 6}.get(col, 4 if not spread else 8),
        )
    for name, v in summary["variants"].items():
        sr = v.get("attack_success_rate")
        below = v["mean_shap"]["adv_below_clean"]
        t.add_row(
            name,
            f"{v['n_clean']}/{v['n_adversarial']}",
            "–" if sr is None else f"{sr:.0%}",
            _pm(v["lr"], "accuracy", spread),
            _pm(v["lr"], "roc_auc", spread),
            _pm(v["rf"], "accuracy", spread),
            _pm(v["rf"], "roc_auc", spread),
            _pm(v["confidence_baseline"], "accuracy", spread),
            _pm(v["confidence_baseline"], "roc_auc", spread),
            "–" if below is None else f"{below:.0%}",
        )
    return t


def sweep_table(summary: dict, spread: bool = True):
    """Detection accuracy against attack strength (one row per ε, pooled over modes)."""
    from rich import box
    from rich.table import Table

    t = Table(
        box=box.SIMPLE_HEAD,
        title="detection vs attack strength (pooled over target modes)",
        title_justify="left",
    )
    for col in (
        "ε",
        "atk ok",
        "clean/adv",
        "LR acc",
        "LR AUC",
        "RF acc",
        "conf acc",
        "conf AUC",
        "adv conf",
        "adv < clean",
    ):
        t.add_column(col, justify="right", min_width=4 if not spread else 8)
    for eps, block in summary["sweep"].items():
        v = block[POOLED]
        sr, below = v.get("attack_success_rate"), v["mean_shap"]["adv_below_clean"]
        conf = v["confidence"]["adversarial"]
        t.add_row(
            eps,
            "–" if sr is None else f"{sr:.0%}",
            f"{v['n_clean']}/{v['n_adversarial']}",
            _pm(v["lr"], "accuracy", spread),
            _pm(v["lr"], "roc_auc", spread),
            _pm(v["rf"], "accuracy", spread),
            _pm(v["confidence_baseline"], "accuracy", spread),
            _pm(v["confidence_baseline"], "roc_auc", spread),
            "–" if conf is None else f"{conf:.2f}",
            "–" if below is None else f"{below:.0%}",
        )
    return t


def _cell(d: dict | None) -> str:
    """``acc / AUC / TPR@5%`` of one detector summary, ``–`` where missing."""
    if not d:
        return "–"

    def f(v):
        return "–" if v is None else f"{v:.2f}"

    return f"{f(d.get('accuracy'))} / {f(d.get('roc_auc'))} / {f(d.get('tpr_at_5fpr'))}"


def detector_columns(blocks) -> list[str]:
    """The detector names of ``blocks`` (dicts keyed by detector), in first-seen order."""
    names: list[str] = []
    for block in blocks:
        for n in block or {}:
            if n not in names:
                names.append(n)
    return names


def detector_frame(title: str, caption: str, second: str, names: Sequence[str]):
    """An empty per-variant table with a ``variant`` column, a ``second`` column and one
    column per detector (the detector table and the adaptive before → after table)."""
    from rich import box
    from rich.table import Table

    t = Table(
        box=box.SIMPLE_HEAD,
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    t.add_column("variant", no_wrap=True)
    t.add_column(second, justify="right", no_wrap=True)
    for n in names:
        t.add_column(n, justify="right", no_wrap=True)
    return t


def detector_table(summary: dict):
    """Every selected detector on the same rows and folds: acc / AUC / TPR at 5 % FPR."""
    names = detector_columns(v.get("detectors") for v in summary["variants"].values())
    t = detector_frame(
        "detectors on the same rows and folds — acc / AUC / TPR at 5 % FPR",
        "acc, AUC: mean over folds; TPR at 5 % FPR: pooled out-of-fold scores (with "
        "fewer than 20 clean rows, 5 % FPR means no clean row flagged); squeeze and "
        "mahalanobis flag above the 95th percentile of clean training scores",
        "clean/adv",
        names,
    )
    for name, v in summary["variants"].items():
        dets = v.get("detectors") or {}
        t.add_row(
            name, f"{v['n_clean']}/{v['n_adversarial']}", *[_cell(dets.get(n)) for n in names]
        )
    return t
