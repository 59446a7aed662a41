"""The Rich tables ``advtui eval`` prints from a summary (summary.json's dict)."""

from __future__ import annotations

from collections.abc import Sequence

from advtui.eval.metrics import POOLED
from advtui.eval.paper import PAPER, paper_label
from advtui.registry import DEFAULT_EXPLAINER, PAPER_DETECTOR


def ci(block: dict | None, pct: bool = False) -> str:
    """``0.87 [0.82, 0.91]`` (``pct``: ``12% [8%, 17%]``) of an ``{"estimate", "low", "high"}``
    block; the estimate alone without an interval, ``–`` without an estimate."""
    if not block or block.get("estimate") is None:
        return "–"

    def f(v: float) -> str:
        return f"{v:.0%}" if pct else f"{v:.2f}"

    text = f(block["estimate"])
    if block.get("low") is not None and block.get("high") is not None:
        text += f" [{f(block['low'])}, {f(block['high'])}]"
    return text


def _below(v: dict) -> str:
    """The ``adv < clean`` cell: the share, with its interval when there is one."""
    shap = v.get("mean_shap") or {}
    if shap.get("adv_below_clean") is None:
        return "–"
    return ci(
        shap.get("adv_below_clean_interval") or {"estimate": shap["adv_below_clean"]}, pct=True
    )


def _intervals_caption(summary: dict) -> str:
    b = summary.get("bootstrap") or {}
    return (  # the caption is Rich markup: "\\[" keeps the bracket
        f"\\[low, high]: 95 % bootstrap interval over photos ({b.get('resamples')} resamples of "
        f"the photos with replacement, seed {b.get('seed')}; all rows of a photo move together)"
    )


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
        + (
            f" explainer={p['explainer']}"
            if p.get("explainer", DEFAULT_EXPLAINER) != DEFAULT_EXPLAINER
            else ""
        ),
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
            _below(v),
        )
    if (summary.get("bootstrap") or {}).get("resamples"):
        t.caption = f"{t.caption}; adv < clean {_intervals_caption(summary)}"
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
        sr = v.get("attack_success_rate")
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
            _below(v),
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


def _paper_rows() -> list[tuple[str, float]]:
    return [(f"{r['variant']} (paper)", r["accuracy"]) for r in PAPER["rows"]]


def _threshold_note(names: Sequence[str]) -> str:
    """The caption's clause on the threshold detectors among ``names`` (the registry's
    untrained ones: "squeeze and mahalanobis flag above …; "), empty when there are none."""
    from advtui.registry import DETECTORS

    few = [n for n in names if n in DETECTORS and not DETECTORS[n].trained]
    if not few:
        return ""
    listed = few[0] if len(few) == 1 else f"{', '.join(few[:-1])} and {few[-1]}"
    verb = "flags" if len(few) == 1 else "flag"
    return f"{listed} {verb} above the 95th percentile of clean training scores; "


def detector_table(summary: dict):
    """Every selected detector on the same rows and folds: acc / AUC / TPR at 5 % FPR, with
    the paper's figures as rows of their own. With bootstrap intervals in the summary, one
    row per (variant, detector) with the pooled out-of-fold values and their intervals."""
    if any(
        "intervals" in d
        for v in summary["variants"].values()
        for d in (v.get("detectors") or {}).values()
    ):
        return detector_interval_table(summary)
    names = detector_columns(v.get("detectors") for v in summary["variants"].values())
    t = detector_frame(
        "detectors on the same rows and folds — acc / AUC / TPR at 5 % FPR",
        "acc, AUC: mean over folds; TPR at 5 % FPR: pooled out-of-fold scores (with "
        "fewer than 20 clean rows, 5 % FPR means no clean row flagged); "
        f"{_threshold_note(names)}(paper): {paper_label()}, accuracy of its "
        f"{PAPER['detector']} (the paper reports no AUC or TPR)",
        "clean/adv",
        names,
    )
    variants = list(summary["variants"].items())
    for k, (name, v) in enumerate(variants):
        dets = v.get("detectors") or {}
        t.add_row(
            name,
            f"{v['n_clean']}/{v['n_adversarial']}",
            *[_cell(dets.get(n)) for n in names],
            end_section=k == len(variants) - 1,
        )
    for label, acc in _paper_rows():
        cells = [f"{acc:.4f} / – / –" if n == PAPER_DETECTOR else "" for n in names]
        t.add_row(label, "–", *cells)
    return t


def detector_interval_table(summary: dict):
    """One row per (variant, detector): accuracy, ROC-AUC and TPR at 5 % FPR of the pooled
    out-of-fold scores, each with its bootstrap interval; the paper's rows last."""
    from rich import box
    from rich.table import Table

    t = Table(
        box=box.SIMPLE_HEAD,
        title="detectors on the same rows and folds — pooled out-of-fold acc / AUC / TPR at "
        "5 % FPR with 95 % intervals",
        title_justify="left",
        caption=_intervals_caption(summary)
        + "; values pool every fold's out-of-fold scores (summary.json also keeps the fold "
        "means ± std); (paper): "
        f"{paper_label()}, accuracy of its {PAPER['detector']}; it reports no AUC, TPR or "
        "interval",
        caption_justify="left",
    )
    for col in ("variant", "clean/adv", "detector", "accuracy", "ROC-AUC", "TPR@5%FPR"):
        t.add_column(
            col, justify="left" if col in ("variant", "detector") else "right", no_wrap=True
        )
    for name, v in summary["variants"].items():
        dets = list((v.get("detectors") or {}).items())
        for j, (det, d) in enumerate(dets):
            iv = d.get("intervals") or {}
            t.add_row(
                name if j == 0 else "",
                f"{v['n_clean']}/{v['n_adversarial']}" if j == 0 else "",
                det,
                ci(iv.get("accuracy")),
                ci(iv.get("roc_auc")),
                ci(iv.get("tpr_at_5fpr")),
                end_section=j == len(dets) - 1,
            )
        if not dets:
            t.add_row(name, f"{v['n_clean']}/{v['n_adversarial']}", "–", "–", "–", "–")
    for label, acc in _paper_rows():
        t.add_row(label, "–", "sorted SHAP", f"{acc:.4f}", "–", "–")
    return t


def similarity_table(summary: dict):
    """Detection against the target's similarity to the clean class (random and nearest
    targets, equal-count bins): per bin and detector, the share of the bin's adversarial rows
    flagged, and AUC / TPR at 5 % FPR against all clean rows, with intervals."""
    from rich import box
    from rich.table import Table

    block = summary.get("target_similarity") or {}
    t = Table(
        box=box.SIMPLE_HEAD,
        title="detection against target similarity (cosine of final-layer class rows; "
        f"{'+'.join(block.get('modes') or []) or 'no random/nearest'} targets, pooled detectors)",
        title_justify="left",
        caption="detected: share of the bin's adversarial rows the detector flags; AUC and TPR "
        "at 5 % FPR: the bin's adversarial rows against all clean rows"
        + (
            "; " + _intervals_caption(summary)
            if (summary.get("bootstrap") or {}).get("resamples")
            else ""
        )
        + (f"; {block['note']}" if block.get("note") else ""),
        caption_justify="left",
    )
    for col in ("similarity", "adv (photos)", "detector", "detected", "ROC-AUC", "TPR@5%FPR"):
        t.add_column(
            col, justify="left" if col in ("similarity", "detector") else "right", no_wrap=True
        )
    for b in block.get("bins") or []:
        if not b["n_adversarial"]:
            continue  # an empty bin (tied similarities): summary.json keeps it
        dets = list(b["detectors"].items())
        for j, (det, d) in enumerate(dets):
            t.add_row(
                f"{b['low']:.2f}–{b['high']:.2f}" if j == 0 else "",
                f"{b['n_adversarial']} ({b['photos']})" if j == 0 else "",
                det,
                ci(d.get("detected")),
                ci(d.get("roc_auc")),
                ci(d.get("tpr_at_5fpr")),
                end_section=j == len(dets) - 1,
            )
    return t
