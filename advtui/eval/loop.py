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
import zlib
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
from advtui.eval.rows import (
    ExplainedFields,
    ItemFields,
    PredFields,
    Row,
    RowKey,
    RowOut,
    TransferFields,
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


#: Per-image seeds lie in [0, ATTACK_SEEDS).
ATTACK_SEEDS = 40_000


def attack_seed(seed: int, image: str | bytes) -> int:
    """The seed of one row's image (its relative path as on disk, plus ``#view``, e.g.
    ``photo.jpg#c80``): random target, PGD's random start and SHAP draws. Rows store it as
    ``attack_seed``, so ``advtui attack IMG --seed D …`` reproduces a row (docs/eval.md,
    "Reproduce a row").

    Hashes the name's raw bytes (:func:`advtui.names.name_bytes`), so any name a filesystem
    allows has a stable seed, undecodable bytes included; for a UTF-8 name those bytes are its
    UTF-8 encoding, the seed earlier versions gave."""
    from advtui.names import name_bytes

    # below 40 000: SHAP draws chunk c with numpy seed D·100003 + c, which must stay < 2³²
    return zlib.crc32(f"{seed}:".encode() + name_bytes(image)) % ATTACK_SEEDS


def row_id(image: str) -> str:
    """The ``image`` field of a row for the item id ``image``: the name escaped
    (:func:`advtui.names.safe_name`), so results.jsonl is valid UTF-8 and safe to print.
    A backslash is doubled first, so the id stays one-to-one: a file named ``a<ESC>.jpg``
    (``a\\x1b.jpg``) and one literally named ``a\\x1b.jpg`` (``a\\\\x1b.jpg``) are two rows."""
    from advtui.names import safe_name

    return safe_name(image.replace("\\", "\\\\"))


def _rid(it: Item) -> str:
    return row_id(it.image)


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
        _rid(it): set()
        if _rid(it) in skipped
        else {k for k in _keys(it, cfg.eps_values, modes) if k not in store.done}
        for it in items
    }
    total = sum(len(_keys(it, cfg.eps_values, modes)) for it in items)
    done = total - sum(len(v) for v in left.values())
    todo = [it for it in items if left[_rid(it)]]
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
                    (_rid(it), adaptive_variant(mode), at) not in store.done
                    for it in items
                    if _rid(it) not in skipped
                    for mode in modes
                ),
                "adaptive attacks",
            )
            tools = SimpleNamespace(
                base_row=_base_row,
                pred_fields=_pred_fields,
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
                _Explainers(model, cfg, note),
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
        self.explainer = _Explainers(model, cfg, note)

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
        planned = {_rid(it): _keys(it, cfg.eps_values, modes) for it in items}
        items = list(items)
        for start in range(0, len(items), cfg.batch_size):
            batch = items[start : start + cfg.batch_size]
            batch = [it for it in batch if any(k not in done for k in planned[_rid(it)])]
            if not batch:
                continue
            loaded, xs = [], []
            for it in batch:
                try:
                    xs.append(to_tensor(view_image(load_image(it.path), it.view, model.input_size)))
                    loaded.append(it)
                except ImageError as exc:
                    if (_rid(it), "clean", None) in done:
                        raise  # it loaded before; do not silently change the data set
                    row: Row = {
                        **_base_row(it, cfg.seed),
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
                    if (_rid(it), "clean", None) not in done:
                        row = _clean_row(
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
            todo = [i for i, it in enumerate(loaded) if (_rid(it), "clean", None) not in done]
            if todo:
                expl = explainer.explain(
                    x[todo], [preds[i] for i in todo], [loaded[i] for i in todo], stop
                )
                extras = row_extras(model, x[todo])
                for j, i in enumerate(todo):
                    it = loaded[i]
                    yield (
                        _clean_row(
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
                    todo = [i for i, it in enumerate(loaded) if (_rid(it), mode, key) not in done]
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
                            **_base_row(it, cfg.seed),
                            **_pred_fields(model, adv_pred[j], adv_probs[j], res.adv_logits[j]),
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


def transfer_fields(transfer, x, x_adv, targets) -> list[TransferFields] | None:
    """Per image, what ``transfer`` (another classifier) says of the clean and the adversarial
    image: ``transfer_success`` = its adversarial prediction is the target (targeted) or differs
    from its own clean prediction (untargeted). None without a transfer model."""
    if transfer is None:
        return None
    clean = transfer.logits(x).argmax(1).tolist()
    adv = transfer.logits(x_adv).argmax(1).tolist()
    out: list[TransferFields] = []
    for j, (c, a) in enumerate(zip(clean, adv, strict=True)):
        ok = a == int(targets[j]) if targets is not None else a != c
        out.append(
            {
                "transfer_model": transfer.name,
                "transfer_clean_pred": c,
                "transfer_pred": a,
                "transfer_pred_label": transfer.label(a),
                "transfer_success": bool(ok),
            }
        )
    return out


def penultimate_dim(model) -> int:
    """Width of the model's penultimate features (0 when it has no final linear layer)."""
    fc = model.final_linear() if hasattr(model, "final_linear") else None
    return int(fc.in_features) if fc is not None else 0


@dataclass
class RowExtras:
    """The per-row detector inputs beside SHAP of a batch: squeezing distances (N, 2) and
    penultimate features (N, D) or None."""

    squeeze: list[list[float]]
    features: torch.Tensor | None

    def fields(self, j: int) -> ExplainedFields:
        parts = self.squeeze[j]
        return {"squeeze": max(parts), "squeeze_parts": parts}

    def penultimate(self, j: int):
        return None if self.features is None else self.features[j].cpu().numpy()


def row_extras(model, x: torch.Tensor) -> RowExtras:
    """Squeezing scores and penultimate features of images ``x`` (one forward each for x and
    its two squeezed versions)."""
    from advtui.detect.squeeze import squeeze_scores

    logits, feats = (
        model.logits_and_features(x) if hasattr(model, "logits_and_features") else (None, None)
    )
    probs = None if logits is None else logits.softmax(1)
    parts = squeeze_scores(model, x.to(model.device), probs)
    return RowExtras([[float(v) for v in row] for row in parts], feats)


class _Explainers:
    """SHAP for each image exactly as ``advtui attack IMG --explain``/``explain`` and the
    explorer compute it: the background is :func:`advtui.explain.background_from_folder` over
    ``--background DIR`` or else the photo's own folder, up to 8 images spread over it, the
    explained photo left out; the seed is the row's ``attack_seed`` (what ``--seed`` gives
    those commands). So a row's evidence is what the explorer's ``--detector`` verdict sees.

    Leaving the photo out matters: expected gradients integrate from background images to
    the input; with the clean photo in the background its clean attribution would lose the
    (zero) path from itself while its adversarial twin would not — a difference a detector
    could learn that has nothing to do with the attack. Backgrounds of the last
    ``batch_size`` photos are kept (one load per photo and batch).
    """

    def __init__(self, model, cfg: EvalConfig, note: Callable[[str], None] | None = None) -> None:
        self.model, self.cfg = model, cfg
        self._backgrounds: dict[Path, torch.Tensor] = {}
        self._keep = max(8, cfg.batch_size)
        self._note = note
        self._noted: set[str] = set()

    def _tell(self, line: str) -> None:
        """Pass a note on once (every photo of a folder shares its unreadable neighbours)."""
        if self._note is not None and line not in self._noted:
            self._noted.add(line)
            self._note(line)

    def background(self, photo: Path) -> torch.Tensor:
        from advtui.explain import background_for_image

        photo = Path(photo)
        bg = self._backgrounds.pop(photo, None)
        if bg is None:
            bg = background_for_image(
                photo, self.model.input_size, self.cfg.background, note=self._tell
            )
        self._backgrounds[photo] = bg  # most recent last
        while len(self._backgrounds) > self._keep:
            self._backgrounds.pop(next(iter(self._backgrounds)))
        return bg

    def explainer(self, it: Item):
        """The explainer of item ``it`` (``--explainer``, built by
        :func:`advtui.explain.make_explainer`): its photo's background (SHAP only), its row's
        seed."""
        from advtui.explain import make_explainer

        return make_explainer(
            self.cfg.explainer,
            self.model,
            lambda: self.background(it.path),
            seed=attack_seed(self.cfg.seed, it.image),
            **self.cfg.explainer_params(),
        )

    def explain(self, x: torch.Tensor, classes: list[int], items: list[Item], stop):
        """Attributions and evidence for ``x`` in order, item ``items[i]`` for ``x[i]``."""
        attributions, evidence = [None] * len(x), [None] * len(x)
        for i, it in enumerate(items):
            e = self.explainer(it).explain(
                x[i : i + 1], [classes[i]], nsamples=self.cfg.nsamples, stop=stop
            )
            attributions[i], evidence[i] = e.attributions[0], e.evidence[0]
        return SimpleNamespace(attributions=attributions, evidence=evidence)


def attribution_shape(model, layer: str | None) -> list[int]:
    """The (C, h, w) shape of one attribution: the image, or the input of ``layer``."""
    size = model.input_size
    if not layer:
        return [3, size, size]
    seen: list[list[int]] = []
    hook = model.get_layer(layer).register_forward_pre_hook(
        lambda _m, inp: seen.append(list(inp[0].shape[1:]))
    )
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        hook.remove()
    return seen[0] if seen else []


def _keys(it: Item, eps: Sequence[float], modes: Sequence[str]) -> list[RowKey]:
    return [(_rid(it), "clean", None)] + [(_rid(it), m, eps_text(e)) for e in eps for m in modes]


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


def _base_row(it: Item, seed: int) -> ItemFields:
    """The fields that say which image a row is about (every row has them)."""
    return {
        "image": _rid(it),
        "attack_seed": attack_seed(seed, it.image),
        "source": row_id(str(it.path)),
        "view": it.view,
        "group": row_id(it.group),
        "position": it.position,
        "label_source": it.label_source,
    }


def _clean_row(
    model, it: Item, seed: int, pred: int, probs: torch.Tensor, logits: torch.Tensor, label: int
) -> Row:
    """The fields every clean row has (``status`` and, if explained, ``evidence`` are added)."""
    return {
        **_base_row(it, seed),
        **_pred_fields(model, pred, probs, logits),
        "variant": "clean",
        "eps": None,
        "eps_255": None,
        "label": int(label),
    }


def _pred_fields(model, pred: int, probs: torch.Tensor, logits: torch.Tensor) -> PredFields:
    return {
        "pred": int(pred),
        "pred_label": model.label(int(pred)),
        "confidence": float(probs[pred]),
        "logit": float(logits[pred]),
    }
