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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from advtui import registry
from advtui.settings import eps_text

if TYPE_CHECKING:
    from advtui.eval.rows import Row

SUFFIX = "+adaptive"


def adaptive_variant(mode: str) -> str:
    return mode + SUFFIX


def task_rows(rows: Sequence[Row], mode: str, key: str) -> tuple[list[Row], np.ndarray]:
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


def run_adaptive(
    cfg, model, store, items, skipped, explainer, done, total, progress, stop, *, tools
):
    """Append the ``MODE+adaptive`` rows that are missing; returns the updated ``done``.

    ``tools`` carries the loop's row helpers (``base_row``, ``pred_fields``, ``tick``,
    ``attack_seed``, ``row_extras``, ``row_id``), so this module never imports the loop (no
    cycle). Rows, skips and groups are keyed by the loop's row id (the escaped name), never the
    raw file name, so a name with control characters or undecodable bytes matches its rows."""
    from advtui.attacks import make_attack, select_targets
    from advtui.detect.features import sorted_features
    from advtui.detect.saved import fit_detector
    from advtui.eval.dataset import view_image
    from advtui.eval.report import detector_folds

    _base_row, _pred_fields, _tick = tools.base_row, tools.pred_fields, tools.tick
    attack_seed, row_extras, row_id = tools.attack_seed, tools.row_extras, tools.row_id
    from advtui.images import load_image, to_tensor

    eps, key = cfg.primary_eps, eps_text(cfg.primary_eps)
    by_group: dict[str, list] = {}
    for it in items:
        if row_id(it.image) not in skipped:  # rows store escaped names and groups
            by_group.setdefault(row_id(it.group), []).append(it)
    from advtui.attacks import NearestTargets

    comparing = any(registry.TARGET_MODES[t].needs_embeddings for t in cfg.targets)
    emb = model.class_embeddings() if comparing else None
    nearest = None if emb is None else NearestTargets(emb)  # once per run, not per image
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
                if (row_id(it.image), variant, key) not in store.done
            ]
            if not todo:
                continue
            det = fit_detector(X[train], y[train], params={"fold": k})
            attack = make_attack(
                registry.detector_attack(),
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
                x = to_tensor(view_image(load_image(it.path), it.view, model.load_size))[None]
                clean_logits = model.logits(x)
                probs = clean_logits.softmax(1)
                label = int(clean_logits.argmax(1))
                target = select_targets(
                    mode, clean_logits, model.class_names, seed=[seed], embeddings=nearest
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
                _tick(progress, done, total, f"{row_id(it.image)} {variant} ε={key}")
                del res
                torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return done
