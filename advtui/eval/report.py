"""Turn an ``advtui eval`` results store into metrics, summary.json, detector.json and tables.

For each ε and target mode (and all modes pooled) the data set is: negatives = clean rows,
positives = successful adversarial rows. ``corrected`` uses every clean row and
cross-validates with folds that never split a photo; ``seed`` (as the original) uses only the
clean rows of images whose attack succeeded and one 90/10 split by image position.
Each gets logistic regression and random forest on the sorted-SHAP features and a
confidence-only baseline (logistic regression on the top-1 logit and log-odds).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from advtui.detect.cv import cross_validate, index_split
from advtui.detect.features import confidence_features
from advtui.detect.saved import fit_detector
from advtui.eval.rows import Row
from advtui.images import atomic_write_bytes
from advtui.names import json_safe
from advtui.registry import DEFAULT_DETECTORS
from advtui.settings import eps_text

POOLED = "pooled"
#: The least a test fold (or the seed protocol's test split) should hold of each class, in
#: photos, for its accuracy and AUC to mean anything: with one photo a class's accuracy in
#: that fold can only be 0 or 1 (views of a photo are not independent). Below it, or when the
#: requested --folds cannot be honoured, the summary carries a warning.
MIN_PHOTOS_PER_FOLD = 2


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else None


def _evaluate(
    neg: list[Row], adv: list[Row], attempted: list[Row], store, cfg
) -> tuple[dict, dict]:
    n_ok = sum(1 for r in attempted if r.get("success"))
    entry: dict = {
        "n": len(attempted),
        "n_clean": len(neg),
        "n_adversarial": len(adv),
        "attack_success_rate": n_ok / len(attempted) if attempted else None,
    }
    moved = [r for r in attempted if r.get("transfer_success") is not None]
    if moved:
        ok_src = [r for r in moved if r.get("success")]
        entry["transfer"] = {
            "model": moved[0].get("transfer_model"),
            "success_rate": sum(r["transfer_success"] for r in moved) / len(moved),
            "success_rate_of_successful": (
                sum(r["transfer_success"] for r in ok_src) / len(ok_src) if ok_src else None
            ),
        }
    clean_by_image = {r["image"]: r for r in neg}
    pairs = [(clean_by_image[r["image"]], r) for r in adv if r["image"] in clean_by_image]
    entry["mean_shap"] = {
        "clean": _mean(r["evidence"]["mean_shap"] for r in neg),
        "adversarial": _mean(r["evidence"]["mean_shap"] for r in adv),
        "adv_below_clean": (
            sum(a["evidence"]["mean_shap"] < c["evidence"]["mean_shap"] for c, a in pairs)
            / len(pairs)
            if pairs
            else None
        ),
    }
    entry["confidence"] = {
        "clean": _mean(r["confidence"] for r in neg),
        "adversarial": _mean(r["confidence"] for r in adv),
    }
    rows = neg + adv
    y = np.asarray([0] * len(neg) + [1] * len(adv))
    if not neg or not adv:
        note = "no successful adversarial rows" if not adv else "no clean rows"
        for k in ("lr", "rf", "confidence_baseline"):
            entry[k] = {"accuracy": None, "roc_auc": None, "note": note}
        entry["detectors"] = {
            n: {"accuracy": None, "roc_auc": None, "tpr_at_5fpr": None, "note": note}
            for n in (getattr(cfg, "detectors", None) or DEFAULT_DETECTORS)
        }
        entry["warning"] = f"{note}: nothing to detect, no accuracy or AUC"
        return entry, {}
    X = store.features([r["f"] for r in rows])
    C = confidence_features([r["confidence"] for r in rows], [r["logit"] for r in rows])
    if cfg.protocol == "seed":
        pos = [r["position"] for r in rows]
        res = {
            "lr": index_split(X, y, pos, kind="lr", seed=cfg.seed),
            "rf": index_split(X, y, pos, kind="rf", seed=cfg.seed),
            "confidence_baseline": index_split(C, y, pos, kind="lr", seed=cfg.seed),
        }
    else:
        groups = [r["group"] for r in rows]
        res = {
            "lr": cross_validate(X, y, groups, kind="lr", folds=cfg.folds, seed=cfg.seed),
            "rf": cross_validate(X, y, groups, kind="rf", folds=cfg.folds, seed=cfg.seed),
            "confidence_baseline": cross_validate(
                C, y, groups, kind="lr", folds=cfg.folds, seed=cfg.seed
            ),
        }
    for k, r in res.items():
        entry[k] = r.summary()
    warning = _data_warning(rows, y, res["lr"], cfg)
    if warning:
        entry["warning"] = warning
    oof: dict[str, Any] = {
        "y": y,
        "lr": res["lr"].oof,
        "confidence_baseline": res["confidence_baseline"].oof,
    }
    bench = run_detectors(rows, y, store, cfg)
    entry["detectors"] = {name: b.summary() for name, b in bench.items()}
    oof["detectors"] = {name: b.cv.oof for name, b in bench.items()}
    return entry, oof


def detector_data(rows: Sequence[Row], y: np.ndarray, store):
    """The :class:`~advtui.detect.base.DetectorData` of ``rows`` (all with features)."""
    from advtui.detect.base import DetectorData

    f = [r["f"] for r in rows]
    return DetectorData(
        y=np.asarray(y).astype(int),
        group=np.asarray([str(r["group"]) for r in rows]),
        label=np.asarray([int(r.get("label", -1)) for r in rows]),
        shap=store.features(f),
        confidence=confidence_features([r["confidence"] for r in rows], [r["logit"] for r in rows]),
        squeeze=np.asarray(
            [np.nan if r.get("squeeze") is None else r["squeeze"] for r in rows], dtype=np.float64
        ),
        penultimate=store.penultimate(f) if getattr(store, "n_penultimate", 0) else None,
    )


def detector_folds(rows: Sequence[Row], y: np.ndarray, cfg) -> tuple[list, str]:
    """The folds every detector is evaluated on (the SHAP-LR's: same seed, same splitter)."""
    from advtui.detect.cv import group_folds

    y = np.asarray(y).astype(int)
    if cfg.protocol == "seed":
        order = np.asarray([r["position"] for r in rows])
        positions = np.unique(order)
        if len(positions) < 2:
            return [], "index-90/10"
        cut = positions[int(math.floor(0.9 * len(positions)))]
        train, test = np.flatnonzero(order < cut), np.flatnonzero(order >= cut)
        ok = len(np.unique(y[train])) == 2 and len(test)
        return ([(train, test)] if ok else []), "index-90/10"
    groups = np.asarray([str(r["group"]) for r in rows])
    k = min(cfg.folds, *[len(set(groups[y == c])) for c in (0, 1)])
    if k < 2:
        return [], "group-kfold"
    return list(group_folds(y, groups, k, cfg.seed)), f"stratified-group-{k}-fold"


def run_detectors(rows: Sequence[Row], y: np.ndarray, store, cfg, extra_rows: Sequence[Row] = ()):
    """Every ``cfg.detectors`` detector on ``rows`` with :func:`detector_folds`; ``extra_rows``
    (adaptive examples) are scored by the fold model whose test part holds their photo."""
    from advtui.detect.base import benchmark

    names = list(getattr(cfg, "detectors", None) or DEFAULT_DETECTORS)
    all_rows = list(rows) + list(extra_rows)
    data = detector_data(all_rows, np.concatenate([y, np.ones(len(extra_rows), int)]), store)
    folds, scheme = detector_folds(rows, y, cfg)
    extra = np.arange(len(rows), len(all_rows))
    return benchmark(
        names, data, np.arange(len(rows)), folds, extra=extra, seed=cfg.seed, scheme=scheme
    )


def _data_warning(rows: Sequence[Row], y: np.ndarray, res, cfg) -> str | None:
    """One line when the photos cannot support the evaluation asked for, else None.

    Counted in photos (groups), not rows: views of a photo share its fold. Checks the
    requested ``--folds`` against the photos of the rarer class, at least
    :data:`MIN_PHOTOS_PER_FOLD` photos of each class per test fold (or in the seed protocol's
    test split), and folds that had to be skipped or held a single class.
    """
    groups = np.asarray([r["group"] for r in rows])
    per_class = [len(set(groups[y == c])) for c in (0, 1)]
    photos = min(per_class)
    which = f"photo{'' if photos == 1 else 's'}" + (
        " with a successful attack" if per_class[1] < per_class[0] else ""
    )
    if cfg.protocol == "seed":
        tested = np.isfinite(res.oof)
        n_test = min(len(set(groups[tested & (y == c)])) for c in (0, 1))
        if res.note:
            return f"{photos} {which}: {res.note}; no accuracy or AUC"
        if n_test < MIN_PHOTOS_PER_FOLD:
            return (
                f"{photos} {which}: the 90/10 split tests {n_test} of them (fewer than "
                f"{MIN_PHOTOS_PER_FOLD} per class): its accuracy and AUC are noise"
            )
        return None
    if photos < 2:
        return (
            f"{photos} {which}: too few to cross-validate (need at least 2 photos with clean rows "
            "and 2 with a successful attack); no accuracy or AUC"
        )
    k = min(cfg.folds, photos)
    parts = []
    if k < cfg.folds:
        parts.append(f"{k}-fold CV instead of {cfg.folds}-fold")
    if photos < MIN_PHOTOS_PER_FOLD * k:
        lo, hi = photos // k, -(-photos // k)
        parts.append(
            f"{lo if lo == hi else f'{lo}–{hi}'} of them per test fold (fewer than "
            f"{MIN_PHOTOS_PER_FOLD}): fold accuracy and AUC are noise"
        )
    if res.folds < k:
        parts.append(f"{k - res.folds} of {k} folds skipped (one class missing from training)")
    single = sum(a is None for a in res.roc_auc)
    if single:
        parts.append(f"{single} of {res.folds} test folds held one class (no AUC there)")
    if not parts:
        return None
    return f"{photos} {which} for {cfg.folds}-fold CV: " + "; ".join(parts)


def _warnings(sweep: dict) -> list[str]:
    """The variants' warnings, one line per distinct warning naming the variants it hits."""
    hits: dict[str, list[str]] = {}
    for eps, block in sweep.items():
        for variant, entry in block.items():
            if entry.get("warning"):
                where = variant if len(sweep) == 1 else f"{variant} ε={eps}"
                hits.setdefault(entry["warning"], []).append(where)
    return [f"{w} ({', '.join(v)})" for w, v in hits.items()]


def summarize(rows: Sequence[Row], store, cfg, params: dict) -> tuple[dict, dict]:
    """(summary dict, out-of-fold scores of the primary ε by variant, for the ROC plot)."""

    modes = list(cfg.targets)
    neg_all = [r for r in rows if r["variant"] == "clean" and r.get("f") is not None]
    sweep, oof_primary = {}, {}
    primary = eps_text(cfg.primary_eps)
    for eps in cfg.eps:
        key = eps_text(eps)
        block = {}
        for variant in modes + [POOLED]:
            wanted = modes if variant == POOLED else [variant]
            attempted = [r for r in rows if r["variant"] in wanted and r.get("eps_255") == key]
            adv = [r for r in attempted if r.get("status") == "ok" and r.get("f") is not None]
            if cfg.protocol == "seed":
                hit = {r["image"] for r in adv}
                neg = [r for r in neg_all if r["image"] in hit]
            else:
                neg = neg_all
            block[variant], oof = _evaluate(neg, adv, attempted, store, cfg)
            if key == primary and oof:
                oof_primary[variant] = oof
        sweep[key] = block
    flat = dict(params["fixed"]) | {k: v for k, v in params.items() if k != "fixed"}
    clean_rows = [r for r in rows if r["variant"] == "clean"]
    summary = {
        "params": flat,
        "images": {
            "evaluated": len(neg_all),
            "misclassified": sum(r.get("status") == "misclassified" for r in clean_rows),
            "unreadable": sum(r.get("status") == "unreadable" for r in clean_rows),
            "photos": len({r["group"] for r in neg_all}),
        },
        "variants": sweep.get(primary, {}),
        "sweep": sweep,
        "warnings": _warnings(sweep),
    }

    return summary, oof_primary


def write_outputs(run, *, plots: bool = True) -> dict[str, Path]:
    """summary.json, detector.json (pooled rows at the primary ε) and the two plots, as one
    set (:func:`advtui.outputs.save_set`): a kill or a failed write leaves the previous set."""
    from advtui.outputs import save_set

    out = Path(run.config.out)
    fitted = _fit_final_detector(run)
    written: dict[str, Path] = {}

    def write(staging: Path) -> dict[str, Path]:
        _write_final(run, staging, fitted, written, plots)
        return written

    # a run that fits no detector removes an earlier one with the swap (and one without plots
    # keeps the earlier plots, as before)
    owned = {"summary.json", "detector.json"}
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
        "path": str(Path(cfg.out) / "detector.json"),
        "n_clean": len(neg),
        "n_adversarial": len(adv),
    }
    return det


def _write_final(run, staging: Path, det, written: dict[str, Path], plots: bool) -> None:
    cfg, store, summary = run.config, run.store, run.summary
    if det is not None:
        written["detector"] = det.save(staging)
    path = staging / "summary.json"
    atomic_write_bytes(
        path, (json.dumps(json_safe(_clean_json(summary)), indent=2) + "\n").encode()
    )
    written["summary"] = path
    if plots:
        from advtui.eval.plots import histogram_png, roc_png

        written["histogram"] = histogram_png(store.rows, cfg, staging / "histogram.png")
        written["roc"] = roc_png(run.oof, staging / "roc.png")


def _clean_json(obj):
    """NaN/inf → None so summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ----------------------------------------------------------------------------- tables


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
