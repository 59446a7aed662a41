"""The headless ``advtui eval`` loop: images → attacks → SHAP → results store → summary.

Per image (and per *view* — crops and scales of a photo, for offline variety): the clean
prediction, one adversarial example per (ε, target mode), the SHAP attribution of the top
class of the clean and of each successful adversarial image, its Evidence record and the
detector features (:func:`advtui.detect.sorted_features`). Rows go to a
:class:`~advtui.eval.store.ResultsStore` as soon as they exist, so a kill loses at most the row
being computed and ``--resume`` picks up where the run stopped.

Two protocols:

* ``corrected`` (default): the engine's attacks (projected steps from the previous iterate,
  8-bit output), pixel-level SHAP (``--layer`` optional), detectors cross-validated with
  folds that never split a photo's versions.
* ``seed``: the original repository's choices — its BIM update (:class:`advtui.attacks.seed_bim.SeedBIM`),
  GradientExplainer on a layer input, nsamples 200, local_smoothing 0.2, one 90/10 split by
  image position, and only the clean images whose attack succeeded as negatives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import torch

from advtui.attacks import NearestTargets, make_attack, select_targets
from advtui.attacks.base import Attack
from advtui.errors import Cancelled, ImageError
from advtui.eval.config import EvalConfig
from advtui.eval.dataset import EvalError, Item, collect_items, view_image
from advtui.eval.phases import Phases, finishing
from advtui.eval.rowparts import (
    Explainers,
    attack_seed,
    attribution_shape,
    base_row,
    clean_row,
    penultimate_dim,
    pred_fields,
    rid,
    row_extras,
    row_id,
    transfer_fields,
)
from advtui.eval.rows import (
    Row,
    RowKey,
    RowOut,
)
from advtui.eval.store import FEATURES_NPZ, ResultsStore, row_key
from advtui.labels import LabelReport
from advtui.settings import eps_text
from advtui.signals import deferred

SKIP_STATUSES = ("unreadable", "misclassified")

#: ``progress(done_rows, total_rows, what)``.
EvalProgress = Callable[[int, int, str], None]


# ----------------------------------------------------------------------------- the loop


@dataclass
class EvalRun:
    """What :func:`run_eval` returns: the store, the resolved config and the summary."""

    config: EvalConfig
    store: ResultsStore
    summary: dict
    oof: dict = field(default_factory=dict)
    dropped_partial: bool = False
    written: dict = field(default_factory=dict)
    attribution_shape: list[int] | None = None
    #: every ε's out-of-fold scores ({eps: {variant: oof}}), written to oof_scores.npz
    sweep_oof: dict = field(default_factory=dict)


#: --adaptive with --engine ray: refused, with the way to get both
ADAPTIVE_NOT_ON_RAY = (
    "--adaptive runs in-process only (it attacks the detectors fitted on the whole run): "
    "make the plain rows with --engine ray, then add the adaptive ones with --resume "
    "--adaptive and no --engine"
)


def run_eval(config: EvalConfig, model=None, **kwargs) -> EvalRun:
    """Run (or resume) an evaluation as :func:`_run_eval` does, holding the lock on
    ``config.out`` (:mod:`advtui.eval.lock`: one writer per folder; a second run is refused)
    and first finishing a set of final files a kill interrupted (:func:`advtui.outputs.recover`)."""
    from advtui.eval.lock import holding
    from advtui.outputs import recover

    with holding(config.out):
        if Path(config.out).is_dir():
            recover(config.out)
        return _run_eval(config, model, **kwargs)


def _run_eval(
    config: EvalConfig,
    model=None,
    *,
    device: str = "auto",
    progress: EvalProgress | None = None,
    stop: threading.Event | None = None,
    note: Callable[[str], None] | None = None,
    engine=None,
    status: Callable[[dict], None] | None = None,
    transfer_model=None,
) -> EvalRun:
    """Run (or resume) an evaluation; rows are durable as they are written. ``note`` hears
    one line per distinct problem worth telling that does not stop the run (files skipped
    in a SHAP background).

    ``engine`` computes the rows of the images not yet done (default :class:`InProcess`;
    :class:`advtui.eval.ray_engine.RayEngine` spreads them over Ray actors); whatever it is,
    this function is the one writer: it appends each row to the store as it arrives, counts
    progress and writes ``progress.json``. ``status`` receives that progress snapshot
    (rows, images, rates, ETA, workers) whenever it changes.
    """
    from advtui.eval.progress import Tracker

    if model is None:
        from advtui.models import load_model

        model = load_model(device=device)
    cfg = config.resolved(model)
    if engine is not None and cfg.adaptive:
        raise EvalError(ADAPTIVE_NOT_ON_RAY)
    if cfg.transfer_to and transfer_model is None and engine is None:  # Ray: each worker
        from advtui.models import load_model

        transfer_model = load_model(cfg.transfer_to, device=model.device)
    engine = engine or InProcess(note, transfer_model)
    unusable: list[str] = []
    labelling = LabelReport()
    items = collect_items(
        cfg.folder,
        model.class_names,
        labels_file=cfg.labels,
        n=cfg.n,
        views=cfg.views,
        skipped=unusable,
        report=labelling,
    )
    for line in labelling.lines("not evaluated"):  # photos the file does not name, and so on
        if note is not None:
            note(line)
    if unusable and note is not None:  # symlink loops, unreadable folders: left out, said once
        shown = "; ".join(unusable[:3]) + (
            f" and {len(unusable) - 3} more" if len(unusable) > 3 else ""
        )
        note(
            f"left out {len(unusable)} unusable entr{'y' if len(unusable) == 1 else 'ies'}: {shown}"
        )
    params = cfg.params(model)
    recorded = dict(params)  # run.json: also the thread count the rows were computed with
    if isinstance(engine, InProcess):  # rows depend on it (float rounding): --resume reuses it
        from advtui import threads

        recorded["threads"] = threads.configured() or torch.get_num_threads()
    store = ResultsStore(
        cfg.out, cfg.n_quantiles, recorded, resume=cfg.resume, n_penultimate=penultimate_dim(model)
    )
    modes = list(cfg.targets)
    skipped = {
        r["image"]
        for r in store.rows
        if r["variant"] == "clean" and r.get("status") in SKIP_STATUSES
    }
    # what each image still lacks; an image is finished when its set is empty
    left = {
        rid(it): set()
        if rid(it) in skipped
        else {k for k in _keys(it, cfg.eps_values, modes) if k not in store.done}
        for it in items
    }
    total = sum(len(_keys(it, cfg.eps_values, modes)) for it in items)
    done = total - sum(len(v) for v in left.values())
    todo = [it for it in items if left[rid(it)]]
    tracker = Tracker(
        cfg.out,
        rows=(done, total),
        images=(len(items) - len(todo), len(items)),
        engine=getattr(engine, "name", type(engine).__name__),
        progress=progress,
        status=status,
    )
    tracker.tick("resumed" if done else "starting")
    phases = Phases(tracker)  # rows, then each phase after them, timed for summary.json
    phases.enter("rows", "resumed" if done else "starting")
    produced = engine.rows(model, cfg, todo, store.done, stop, tracker)
    try:
        for row, features, penultimate in produced:
            row = store.append(row, features, penultimate)
            key = row_key(row)
            missing = left.get(row["image"])
            if missing is None:
                continue
            if row["variant"] == "clean" and row.get("status") in SKIP_STATUSES:
                n = len(missing)  # a skipped image finishes all its rows at once
                missing.clear()
            else:
                n = int(key in missing)
                missing.discard(key)
            tracker.rows(n, finished=not missing and n > 0, what=_what(row))
        if cfg.adaptive:  # a second pass: attack the SHAP detector fitted on the plain rows
            # the images this run found unusable too (misclassified, unreadable), not only
            # those stored before it: one run and plain-then-resume give the same rows
            skipped = {
                r["image"]
                for r in store.rows
                if r["variant"] == "clean" and r.get("status") in SKIP_STATUSES
            }
            from advtui.eval.adaptive import adaptive_variant, run_adaptive

            phases.enter("adaptive", "adaptive attacks")
            at = eps_text(cfg.primary_value)
            tracker.plan_more(
                sum(
                    (rid(it), adaptive_variant(mode), at) not in store.done
                    for it in items
                    if rid(it) not in skipped
                    for mode in modes
                ),
                "adaptive attacks",
            )
            tools = SimpleNamespace(
                base_row=base_row,
                pred_fields=pred_fields,
                tick=lambda _progress, _done, _total, what: tracker.rows(1, what=what),
                attack_seed=attack_seed,
                row_extras=row_extras,
                row_id=row_id,
            )
            run_adaptive(
                cfg,
                model,
                store,
                items,
                skipped,
                Explainers(model, cfg, note),
                done,
                total,
                progress,
                stop,
                tools=tools,
            )
        phases.enter("features", f"writing {FEATURES_NPZ}")
    except BaseException as exc:
        tracker.finish(_end_state(exc))
        raise
    finally:
        getattr(produced, "close", lambda: None)()  # now, not when the traceback is freed
        try:
            with deferred():  # a SIGTERM/Ctrl-C now waits until features.npz is written
                store.write_npz()
        except KeyboardInterrupt:
            tracker.finish("interrupted")
            raise
    from advtui.eval.report import summarize, write_outputs

    with finishing(tracker):  # progress.json says `done` once summary.json is written
        # the summary and the detector see the rows in plan order, whatever order the engine
        # delivered them in (a resumed or distributed run gives the uninterrupted run's numbers)
        store.rows.sort(key=_plan_order(items, cfg))
        from advtui.eval.similarity import fill_missing

        fill_missing(store.rows, model.class_embeddings())  # rows stored before the field
        phases.enter("detectors", "cross-validating the detectors")
        sweep_oof: dict = {}
        summary, oof = summarize(store.rows, store, cfg, params, sweep_oof, phases=phases)
        summary["labels"] = labelling.summary()
        if any(r["variant"].endswith("+adaptive") for r in store.rows):
            from advtui.eval.adaptive_report import summarize_adaptive

            phases.enter("adaptive-report", "the detectors on the adaptive rows")
            summary["adaptive"] = summarize_adaptive(store.rows, store, cfg)
        run = EvalRun(cfg, store, summary, oof, store.dropped_partial, sweep_oof=sweep_oof)
        run.attribution_shape = attribution_shape(model, cfg.layer)
        run.written = write_outputs(run, plots=cfg.plots, phases=phases)
    return run


def _end_state(exc: BaseException) -> str:
    """progress.json's state for a run ended by ``exc``: interrupted (Ctrl-C, SIGTERM,
    SIGHUP, a stop) or failed."""
    return "interrupted" if isinstance(exc, (KeyboardInterrupt, Cancelled)) else "failed"


class InProcess:
    """The default engine: this process's model computes every row, batch after batch."""

    name = "inprocess"

    def __init__(self, note: Callable[[str], None] | None = None, transfer=None) -> None:
        self.note, self.transfer = note, transfer

    def rows(
        self, model, cfg: EvalConfig, items: list[Item], done, stop, tracker
    ) -> Iterator[RowOut]:
        import os

        from advtui import threads

        tracker.workers(
            [
                {
                    "id": 0,
                    "pid": os.getpid(),
                    "device": str(model.device),
                    "threads": threads.configured() or torch.get_num_threads(),
                    "state": "working",
                }
            ]
        )
        rows = ImageRows(model, cfg, self.note, transfer=self.transfer)
        for row, features, penultimate in rows.rows(items, done, stop):
            yield row, features, penultimate
            tracker.worker(0, rows=1, last=_what(row))
        tracker.worker(0, state="done")


class ImageRows:
    """The rows of images, computed by one model: the unit of work of every engine.

    :meth:`rows` yields ``(row, features, penultimate)`` for each planned row of the given items that is
    not in ``done`` — the clean row, then one per (ε, target mode) — batching the items by
    ``cfg.batch_size``. Every random choice is seeded per image (``attack_seed``), so the
    rows do not depend on which items share a batch or a worker: an engine may hand out any
    subsets of items in any order. Rows are yielded as they exist; the caller writes them.
    """

    def __init__(
        self, model, cfg: EvalConfig, note: Callable[[str], None] | None = None, transfer=None
    ) -> None:
        self.model, self.cfg, self.transfer = model, cfg, transfer
        # the final layer's class rows, normalised once per run (not per row): the nearest
        # target, and every target's similarity to its clean class
        emb = model.class_embeddings()
        self.emb = None if emb is None else NearestTargets(emb)
        self.explainer = Explainers(model, cfg, note)

    def rows(
        self,
        items: Sequence[Item],
        done: set[RowKey] | frozenset[RowKey] = frozenset(),
        stop: threading.Event | None = None,
    ) -> Iterator[RowOut]:
        from advtui.detect.features import sorted_features
        from advtui.eval.similarity import target_similarities
        from advtui.images import load_image, to_tensor

        model, cfg, emb, explainer = self.model, self.cfg, self.emb, self.explainer
        modes = list(cfg.targets)
        planned = {rid(it): _keys(it, cfg.eps_values, modes) for it in items}
        items = list(items)
        for start in range(0, len(items), cfg.batch_size):
            batch = items[start : start + cfg.batch_size]
            batch = [it for it in batch if any(k not in done for k in planned[rid(it)])]
            if not batch:
                continue
            loaded, xs = [], []
            for it in batch:
                try:
                    xs.append(to_tensor(view_image(load_image(it.path), it.view, model.load_size)))
                    loaded.append(it)
                except ImageError as exc:
                    if (rid(it), "clean", None) in done:
                        raise  # it loaded before; do not silently change the data set
                    row: Row = {
                        **base_row(it, cfg.seed),
                        "variant": "clean",
                        "eps": None,
                        "eps_255": None,
                        "status": "unreadable",
                        "error": str(exc),
                    }
                    yield row, None, None
            if not loaded:
                continue
            x = torch.stack(xs)
            clean_logits = model.logits(x, batch_size=cfg.batch_size)
            probs = clean_logits.softmax(1)
            preds = clean_logits.argmax(1).tolist()
            keep = []
            for i, it in enumerate(loaded):
                label = it.label if it.label is not None else preds[i]
                if preds[i] != label:
                    if (rid(it), "clean", None) not in done:
                        row = clean_row(
                            model, it, cfg.seed, preds[i], probs[i], clean_logits[i], label
                        )
                        yield row | {"status": "misclassified"}, None, None
                    continue
                keep.append(i)
            if not keep:
                continue
            loaded = [loaded[i] for i in keep]
            x, clean_logits, probs = x[keep], clean_logits[keep], probs[keep]
            preds = [preds[i] for i in keep]
            # clean rows
            todo = [i for i, it in enumerate(loaded) if (rid(it), "clean", None) not in done]
            if todo:
                expl = explainer.explain(
                    x[todo], [preds[i] for i in todo], [loaded[i] for i in todo], stop
                )
                extras = row_extras(model, x[todo])
                for j, i in enumerate(todo):
                    it = loaded[i]
                    yield (
                        clean_row(
                            model, it, cfg.seed, preds[i], probs[i], clean_logits[i], preds[i]
                        )
                        | {"status": "ok", "evidence": expl.evidence[j].to_dict()}
                        | extras.fields(j),
                        sorted_features(expl.attributions[j], cfg.n_quantiles),
                        extras.penultimate(j),
                    )
                del expl
            for eps in cfg.eps_values:
                attack = _make_attack(cfg, model, eps)
                for mode in modes:
                    key = eps_text(eps)
                    todo = [i for i, it in enumerate(loaded) if (rid(it), mode, key) not in done]
                    if not todo:
                        continue
                    sub_logits = clean_logits[todo]
                    # per-image seeds: random targets, PGD's random start (and SHAP) do not
                    # depend on the batch, so a resumed run recomputes exactly the rows it
                    # lacks, and `advtui attack --seed attack_seed` reproduces a row
                    seeds = [attack_seed(cfg.seed, loaded[i].image) for i in todo]
                    targets = select_targets(
                        mode, sub_logits, model.class_names, seed=seeds, embeddings=emb
                    )
                    sims = target_similarities(emb, [preds[i] for i in todo], targets)
                    res = attack(x[todo], targets, stop=stop, seeds=seeds)
                    adv_probs = res.adv_logits.softmax(1)
                    adv_pred = res.adv_pred.tolist()
                    moved = transfer_fields(self.transfer, x[todo], res.x_adv, targets)
                    ok = [j for j in range(len(todo)) if bool(res.success[j])]
                    expl = None
                    if ok:
                        expl = explainer.explain(
                            res.x_adv[ok],
                            [adv_pred[j] for j in ok],
                            [loaded[todo[j]] for j in ok],
                            stop,
                        )
                        extras = row_extras(model, res.x_adv[ok])
                    for j, i in enumerate(todo):
                        it = loaded[i]
                        tgt = None if targets is None else int(targets[j])
                        row = {
                            **base_row(it, cfg.seed),
                            **pred_fields(model, adv_pred[j], adv_probs[j], res.adv_logits[j]),
                            "variant": mode,
                            "eps": eps,
                            "eps_255": key,
                            "label": preds[i],
                            "target": tgt,
                            "target_label": None if tgt is None else model.label(tgt),
                            "target_similarity": sims[j],
                            "success": bool(res.success[j]),
                            "linf": float(res.linf[j]),
                            "l2": float(res.l2[j]),
                            "l0": int(res.l0[j]),
                            "steps_run": res.steps_run,
                            "rounding_undid": bool(res.rounding_undid[j]),
                            "clean_confidence": float(probs[i, preds[i]]),
                        }
                        if moved:
                            row |= moved[j]
                        if j in ok:
                            k = ok.index(j)
                            row |= {"status": "ok", "evidence": expl.evidence[k].to_dict()}
                            yield (
                                row | extras.fields(k),
                                sorted_features(expl.attributions[k], cfg.n_quantiles),
                                extras.penultimate(k),
                            )
                        else:
                            yield row | {"status": "attack-failed"}, None, None
                    del res, expl


def _what(row: Row) -> str:
    """A row as the progress line names it: ``photo.jpg#c80 untargeted ε=8/255``."""
    status = row.get("status")
    if row["variant"] == "clean":
        return f"{row['image']} {status if status in SKIP_STATUSES else 'clean'}"
    return f"{row['image']} {row['variant']} ε={row.get('eps_255')}"


def _plan_order(items: Sequence[Item], cfg: EvalConfig):
    """Sort key putting rows in the order an uninterrupted in-process run writes them:
    batch by batch; in a batch the unreadable, the misclassified, then each planned key
    (clean, then ε × mode) over the batch's images. Rows outside the plan (a resumed run
    with other --n or --targets) go last, in stored order."""
    plan: dict[RowKey, tuple[int, int, int]] = {}
    for idx, it in enumerate(items):
        for j, planned in enumerate(_keys(it, cfg.eps_values, cfg.targets)):
            plan[planned] = (idx // cfg.batch_size, j, idx)
    rank = {"unreadable": 0, "misclassified": 1}

    def order(row: Row) -> tuple[int, int, int, int, int]:
        where = plan.get(row_key(row))
        if where is None:
            return (1, 0, 0, 0, 0)
        batch, j, idx = where
        return (0, batch, rank.get(str(row.get("status")), 2), j, idx)

    return order


def _keys(it: Item, eps: Sequence[float], modes: Sequence[str]) -> list[RowKey]:
    return [(rid(it), "clean", None)] + [(rid(it), m, eps_text(e)) for e in eps for m in modes]


def _make_attack(cfg: EvalConfig, model, eps: float) -> Attack:
    assert cfg.method is not None  # resolved: the protocol's default
    return make_attack(
        cfg.method,
        model,
        eps=eps,
        alpha=cfg.alpha,
        steps=cfg.steps,
        early_stop=cfg.early_stop,
        seed=cfg.seed,
        attack_args=tuple(cfg.attack_args),
    )
