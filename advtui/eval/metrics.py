"""Detection metrics of an ``advtui eval`` results store (summary.json's numbers).

For each ε and target mode (and all modes pooled) the data set is: negatives = clean rows,
positives = successful adversarial rows. ``corrected`` uses every clean row and
cross-validates with folds that never split a photo; ``seed`` (as the original) uses only the
clean rows of images whose attack succeeded and one 90/10 split by image position.
Each gets every ``--detectors`` detector on the same folds; the registry detectors with a
``summary_key`` (logistic regression and random forest on the sorted-SHAP features, the
confidence-only baseline) run whatever ``--detectors`` says, and their results also fill
summary.json's older keys ``lr``, ``rf`` and ``confidence_baseline``. The pooled out-of-fold
scores get bootstrap intervals over photos (:mod:`advtui.eval.bootstrap`). The Rich tables are in
:mod:`advtui.eval.tables`, the files in :mod:`advtui.eval.report`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from advtui.detect.features import confidence_features
from advtui.eval import bootstrap
from advtui.eval.rows import Row
from advtui.registry import DEFAULT_DETECTORS, DETECTORS
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


def requested_detectors(cfg) -> list[str]:
    """``cfg.detectors``, or the registry's defaults when it names none."""
    return list(getattr(cfg, "detectors", None) or DEFAULT_DETECTORS)


def summary_detectors(cfg) -> list[str]:
    """The detectors a variant's summary runs: ``cfg.detectors`` (its ``detectors`` entry) and
    then every registry detector with a ``summary_key`` not among them (summary.json's older
    ``lr`` / ``rf`` / ``confidence_baseline`` entries are those detectors' results, so they are
    there whatever ``--detectors`` says)."""
    wanted = requested_detectors(cfg)
    return wanted + [n for n, s in DETECTORS.items() if s.summary_key and n not in wanted]


def _evaluate(
    neg: list[Row], adv: list[Row], attempted: list[Row], store, cfg, progress=None
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
    res_b = _resampler(neg + adv, cfg)
    if pairs and res_b is not None:
        entry["mean_shap"]["adv_below_clean_interval"] = bootstrap.share_interval(
            res_b,
            [a["group"] for _, a in pairs],
            [a["evidence"]["mean_shap"] < c["evidence"]["mean_shap"] for c, a in pairs],
        )
    entry["confidence"] = {
        "clean": _mean(r["confidence"] for r in neg),
        "adversarial": _mean(r["confidence"] for r in adv),
    }
    rows = neg + adv
    y = np.asarray([0] * len(neg) + [1] * len(adv))
    if not neg or not adv:
        note = "no successful adversarial rows" if not adv else "no clean rows"
        for spec in DETECTORS.values():
            if spec.summary_key:
                entry[spec.summary_key] = {"accuracy": None, "roc_auc": None, "note": note}
        entry["detectors"] = {
            n: {"accuracy": None, "roc_auc": None, "tpr_at_5fpr": None, "note": note}
            for n in requested_detectors(cfg)
        }
        entry["warning"] = f"{note}: nothing to detect, no accuracy or AUC"
        return entry, {}
    X = store.features([r["f"] for r in rows])  # read once: the detectors reuse it
    names = summary_detectors(cfg)
    bench = run_detectors(rows, y, store, cfg, features=X, progress=progress, names=names)
    legacy = {s.summary_key: s.name for s in DETECTORS.values() if s.summary_key}
    for key, name in legacy.items():  # the same results under summary.json's older keys
        entry[key] = bench[name].cv.summary()
    # the data warning from the first of them (the registry's first: the paper's detector)
    warning = _data_warning(rows, y, bench[next(iter(legacy.values()))].cv, cfg)
    if warning:
        entry["warning"] = warning
    oof: dict[str, Any] = {
        "y": y,
        "keys": [(r["image"], r["variant"], r.get("eps_255")) for r in rows],  # oof_scores.npz
        **{key: bench[name].cv.oof for key, name in legacy.items()},
    }
    bench = {n: bench[n] for n in requested_detectors(cfg)}
    entry["detectors"] = {name: b.summary() for name, b in bench.items()}
    groups_all = [r["group"] for r in rows]
    if res_b is not None:
        for name, b in bench.items():
            entry["detectors"][name]["intervals"] = bootstrap.detection_intervals(
                res_b, y, groups_all, b.cv.oof, b.cv.oof_flags
            )
    oof["detectors"] = {name: b.cv.oof for name, b in bench.items()}
    oof["flags"] = {name: b.cv.oof_flags for name, b in bench.items()}
    oof["groups"], oof["rows"] = groups_all, rows
    return entry, oof


def _resampler(rows: Sequence[Row], cfg) -> bootstrap.Resampler | None:
    """The photo resamples of ``rows`` (``--bootstrap`` of them, seeded by ``--seed``), or
    None with ``--bootstrap 0``."""
    n = int(getattr(cfg, "bootstrap", bootstrap.DEFAULT_RESAMPLES) or 0)
    if n <= 0 or not rows:
        return None
    return bootstrap.Resampler.make([r["group"] for r in rows], n, int(cfg.seed))


def detector_data(rows: Sequence[Row], y: np.ndarray, store, features=None):
    """The :class:`~advtui.detect.base.DetectorData` of ``rows`` (all with features);
    ``features``: their SHAP feature rows if already read."""
    from advtui.detect.base import DetectorData

    f = [r["f"] for r in rows]
    return DetectorData(
        y=np.asarray(y).astype(int),
        group=np.asarray([str(r["group"]) for r in rows]),
        label=np.asarray([int(r.get("label", -1)) for r in rows]),
        shap=store.features(f) if features is None else features,
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


def run_detectors(
    rows: Sequence[Row],
    y: np.ndarray,
    store,
    cfg,
    extra_rows: Sequence[Row] = (),
    *,
    features=None,
    progress=None,
    names: Sequence[str] | None = None,
):
    """Every ``cfg.detectors`` detector (or ``names``) on ``rows`` with :func:`detector_folds`;
    ``extra_rows`` (adaptive examples) are scored by the fold model whose test part holds their
    photo. ``features``: the SHAP features of ``rows`` if already read (used without extra
    rows); ``progress(name, k, fold, folds)`` hears each fold
    (:func:`advtui.detect.base.benchmark`). Without a single fold every result says why in its
    ``note``."""
    from advtui.detect.base import benchmark

    if names is None:
        names = requested_detectors(cfg)
    all_rows = list(rows) + list(extra_rows)
    data = detector_data(
        all_rows,
        np.concatenate([y, np.ones(len(extra_rows), int)]),
        store,
        features if not extra_rows else None,
    )
    folds, scheme = detector_folds(rows, y, cfg)
    extra = np.arange(len(rows), len(all_rows))
    out = benchmark(
        names,
        data,
        np.arange(len(rows)),
        folds,
        extra=extra,
        seed=cfg.seed,
        scheme=scheme,
        progress=progress,
    )
    if not folds:
        for b in out.values():
            b.cv.note = b.cv.note or _no_folds_note(rows, y, cfg)
    return out


def _no_folds_note(rows: Sequence[Row], y: np.ndarray, cfg) -> str:
    """Why :func:`detector_folds` found no fold, in one line."""
    if cfg.protocol == "seed":
        if len({r["position"] for r in rows}) < 2:
            return "too few images for a 90/10 split"
        return "the 90/10 split left one class out of training or an empty test set"
    groups = np.asarray([str(r["group"]) for r in rows])
    per_class = [len(set(groups[np.asarray(y) == c])) for c in (0, 1)]
    return (
        f"too few images to cross-validate (clean groups {per_class[0]}, adversarial groups "
        f"{per_class[1]})"
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


def summarize(
    rows: Sequence[Row],
    store,
    cfg,
    params: dict,
    sweep_oof: dict | None = None,
    phases=None,
) -> tuple[dict, dict]:
    """(summary dict, out-of-fold scores of the primary ε by variant, for the ROC plot);
    ``sweep_oof`` (if given) receives those of every ε, ``{eps: {variant: oof}}``, for
    ``oof_scores.npz``; ``phases`` (:class:`advtui.eval.phases.Phases`) hears each variant,
    detector and fold."""

    modes = list(cfg.targets)
    neg_all = [r for r in rows if r["variant"] == "clean" and r.get("f") is not None]
    sweep, oof_primary = {}, {}
    primary = eps_text(cfg.primary_eps)
    n_sets, n_det = len(cfg.eps) * (len(modes) + 1), len(summary_detectors(cfg))
    done_sets = 0
    for eps in cfg.eps:
        key = eps_text(eps)
        block = {}
        for variant in modes + [POOLED]:
            done_sets += 1
            where = f"{variant}{'' if len(cfg.eps) == 1 else f' ε={key}'} ({done_sets} of {n_sets})"
            fold_progress = None if phases is None else phases.fold_progress(where, n_det)
            wanted = modes if variant == POOLED else [variant]
            attempted = [r for r in rows if r["variant"] in wanted and r.get("eps_255") == key]
            adv = [r for r in attempted if r.get("status") == "ok" and r.get("f") is not None]
            if cfg.protocol == "seed":
                hit = {r["image"] for r in adv}
                neg = [r for r in neg_all if r["image"] in hit]
            else:
                neg = neg_all
            block[variant], oof = _evaluate(neg, adv, attempted, store, cfg, fold_progress)
            if oof and sweep_oof is not None:
                sweep_oof.setdefault(key, {})[variant] = oof
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
    summary |= _study_blocks(oof_primary.get(POOLED), cfg)

    return summary, oof_primary


def _study_blocks(pooled_oof: dict | None, cfg) -> dict:
    """summary.json's ``bootstrap`` (how the intervals were made), ``paper`` (the figures
    the paper reports, for the tables to print beside ours) and ``target_similarity``."""
    from advtui.eval.paper import PAPER
    from advtui.eval.similarity import similarity_summary

    res = None
    if pooled_oof and pooled_oof.get("rows"):
        res = _resampler(pooled_oof["rows"], cfg)
    n = int(getattr(cfg, "bootstrap", bootstrap.DEFAULT_RESAMPLES) or 0)
    meta: dict[str, Any] = {"resamples": n}
    if n:
        meta |= {"seed": int(cfg.seed), "level": bootstrap.LEVEL, "unit": "photo"}
    return {
        "bootstrap": meta,
        "paper": PAPER,
        "target_similarity": similarity_summary(pooled_oof, list(cfg.targets), res),
    }
