"""``advtui eval --adaptive``: attack again, knowing the SHAP detector, and score every detector.

After the plain rows exist, for each target mode at the primary ε: the rows of that mode's
detection task (every clean row + the mode's successful adversarial rows) are split into the
same folds the summary's detectors use (:func:`advtui.eval.report.detector_folds`); in each
fold the SHAP-LR detector is fitted on the training rows, and every photo of the test part is
attacked adaptively against *that* detector (:class:`advtui.attacks.adaptive.Adaptive`): the
detector that later scores an adaptive example is the one it was attacked against, and it never
saw the photo. Rows are the variant ``MODE+adaptive`` (same fields as plain rows, plus ``fold``
and ``detector_p``, the attacked detector's P(adversarial) on the row's own SHAP), stored,
resumable and explained like any other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from advtui.settings import eps_text

SUFFIX = "+adaptive"


def adaptive_variant(mode: str) -> str:
    return mode + SUFFIX


def task_rows(rows: list[dict], mode: str, key: str) -> tuple[list[dict], np.ndarray]:
    """The rows of ``mode``'s detection task at ε ``key`` as the summary builds them: every
    explained clean row, then the mode's successful (explained) adversarial rows."""
    neg = [r for r in rows if r["variant"] == "clean" and r.get("f") is not None]
    adv = [
        r
        for r in rows
        if r["variant"] == mode
        and r.get("eps_255") == key
        and r.get("status") == "ok"
        and r.get("f") is not None
    ]
    return neg + adv, np.asarray([0] * len(neg) + [1] * len(adv))


def run_adaptive(cfg, model, store, items, skipped, explainer, done, total, progress, stop):
    """Append the ``MODE+adaptive`` rows that are missing; returns the updated ``done``."""
    from advtui.attacks import make_attack, select_targets
    from advtui.detect.features import sorted_features
    from advtui.detect.saved import fit_detector
    from advtui.eval.dataset import view_image
    from advtui.eval.loop import (
        _base_row,
        _pred_fields,
        _tick,
        attack_seed,
        row_extras,
    )
    from advtui.eval.report import detector_folds
    from advtui.images import load_image, to_tensor

    eps, key = cfg.primary_eps, eps_text(cfg.primary_eps)
    by_group: dict[str, list] = {}
    for it in items:
        if it.image not in skipped:
            by_group.setdefault(str(it.group), []).append(it)
    emb = model.class_embeddings() if "nearest" in cfg.targets else None
    for mode in cfg.targets:
        variant = adaptive_variant(mode)
        rows, y = task_rows(store.rows, mode, key)
        folds, _scheme = detector_folds(rows, y, cfg)
        groups = np.asarray([str(r["group"]) for r in rows])
        X = store.features([r["f"] for r in rows]) if rows else None
        for k, (train, test) in enumerate(folds):
            todo = [
                it
                for g in dict.fromkeys(groups[test])
                for it in by_group.get(g, [])
                if (it.image, variant, key) not in store.done
            ]
            if not todo:
                continue
            det = fit_detector(X[train], y[train], params={"fold": k})
            attack = make_attack(
                "adaptive",
                model,
                eps=eps,
                alpha=cfg.alpha,
                steps=cfg.steps,
                early_stop=cfg.early_stop,
                seed=cfg.seed,
                detector=det,
                background=None,
                weight=cfg.adaptive_weight,
                eot=cfg.eot,
                nsamples=cfg.nsamples,
            )
            for it in todo:
                seed = attack_seed(cfg.seed, it.image)
                x = to_tensor(view_image(load_image(it.path), it.view, model.input_size))[None]
                clean_logits = model.logits(x)
                probs = clean_logits.softmax(1)
                label = int(clean_logits.argmax(1))
                target = select_targets(
                    mode, clean_logits, model.class_names, seed=[seed], embeddings=emb
                )
                attack.background = explainer.background(Path(it.path))
                attack.seed = seed
                res = attack(x, target, stop=stop, seeds=[seed], clean_logits=clean_logits)
                pred = int(res.adv_pred[0])
                tgt = None if target is None else int(target[0])
                row = (
                    _base_row(it, cfg.seed)
                    | _pred_fields(model, pred, res.adv_logits.softmax(1)[0], res.adv_logits[0])
                    | {
                        "variant": variant,
                        "eps": eps,
                        "eps_255": key,
                        "label": label,
                        "target": tgt,
                        "target_label": None if tgt is None else model.label(tgt),
                        "success": bool(res.success[0]),
                        "linf": float(res.linf[0]),
                        "steps_run": res.steps_run,
                        "rounding_undid": bool(res.rounding_undid[0]),
                        "clean_confidence": float(probs[0, label]),
                        "fold": k,
                        "adaptive_weight": cfg.adaptive_weight,
                        "eot": cfg.eot,
                        "detector_logit_trace": [z[0] for z in attack.trace],
                    }
                )
                if bool(res.success[0]):
                    expl = explainer.explain(res.x_adv, [pred], [it], stop)
                    feats = sorted_features(expl.attributions[0], cfg.n_quantiles)
                    extras = row_extras(model, res.x_adv)
                    row |= {
                        "status": "ok",
                        "evidence": expl.evidence[0].to_dict(),
                        "detector_p": float(det.score_features(feats)),
                    } | extras.fields(0)
                    store.append(row, feats, extras.penultimate(0))
                else:
                    store.append(row | {"status": "attack-failed"})
                done += 1
                _tick(progress, done, total, f"{it.image} {variant} ε={key}")
                del res
                torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return done


# ----------------------------------------------------------------------------- summary


def _verdict(mode: str, before: dict, after: dict, success: float | None) -> str:
    """One honest sentence: does the SHAP detector hold against the adaptive attack?"""
    b, a = before.get("shap-lr") or {}, after.get("shap-lr") or {}
    tb, ta, ab, aa = b.get("tpr_at_5fpr"), a.get("tpr_at_5fpr"), b.get("roc_auc"), a.get("roc_auc")
    if success is None or ta is None or tb is None or aa is None:
        return f"{mode}: not enough rows to judge the SHAP detector against the adaptive attack."
    rate = f"{success:.0%} of adaptive attacks succeeded"
    falls = aa <= 0.6 or ta < 0.5 * tb
    verb = "falls" if falls else "holds"
    others = [
        f"{n} {after[n]['tpr_at_5fpr']:.2f}"
        for n in after
        if n != "shap-lr" and after[n].get("tpr_at_5fpr") is not None
    ]
    tail = f"; on the same examples TPR@5%FPR of {', '.join(others)}" if others else ""
    ab_s = "–" if ab is None else f"{ab:.2f}"
    return (
        f"{mode}: the SHAP detector {verb} — TPR@5%FPR {tb:.2f} → {ta:.2f}, AUC "
        f"{ab_s} → {aa:.2f} ({rate}){tail}."
    )


def summarize_adaptive(rows: list[dict], store, cfg) -> dict:
    """Per target mode: attack success (plain, adaptive), each detector's AUC and TPR at 5 %
    FPR before (plain adversarial rows) and after (adaptive rows), the same clean rows and fold
    models, and a verdict sentence."""
    from advtui.detect.base import tpr_at_fpr
    from advtui.detect.cv import _auc
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
        entry = {
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
        before, after = {}, {}
        if task and (y == 0).any() and (y == 1).any():
            bench = run_detectors(task, y, store, cfg, extra_rows=ok)
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
        entry["before"], entry["after"] = before, after
        entry["verdict"] = _verdict(mode, before, after, entry["attack_success_rate"])
        out[mode] = entry
    return out


def _mean(values):
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def adaptive_table(summary: dict):
    """Before → after per target mode and detector (AUC, TPR at 5 % FPR)."""
    from rich import box
    from rich.table import Table

    block = summary.get("adaptive") or {}
    names: list[str] = []
    for e in block.values():
        for n in e["before"]:
            if n not in names:
                names.append(n)
    t = Table(
        box=box.SIMPLE_HEAD,
        title="adaptive attack on the SHAP detector — AUC / TPR at 5 % FPR, plain → adaptive",
        title_justify="left",
        caption="same clean rows and fold models before and after; each photo attacked against "
        "the SHAP-LR fitted without it",
        caption_justify="left",
    )
    t.add_column("variant", no_wrap=True)
    t.add_column("atk ok", justify="right", no_wrap=True)
    for n in names:
        t.add_column(n, justify="right", no_wrap=True)

    def f(v):
        return "–" if v is None else f"{v:.2f}"

    for mode, e in block.items():
        ps, s = e.get("plain_attack_success_rate"), e.get("attack_success_rate")
        cells = []
        for n in names:
            b, a = e["before"].get(n, {}), e["after"].get(n, {})
            cells.append(
                f"{f(b.get('roc_auc'))}→{f(a.get('roc_auc'))} / "
                f"{f(b.get('tpr_at_5fpr'))}→{f(a.get('tpr_at_5fpr'))}"
            )
        t.add_row(
            mode,
            f"{'–' if ps is None else f'{ps:.0%}'}→{'–' if s is None else f'{s:.0%}'}",
            *cells,
        )
    return t
