"""What the worker threads do: plain functions over the core, reporting through ``post``.

Each function takes what it needs explicitly (no App), a ``post`` callable that delivers a
message to the App (``App.post_message`` is thread-safe) and a ``stop`` event (the worker's
``cancelled_event``) that the core checks between attack steps and SHAP chunks. Torch, shap
and the core are imported here, inside the threads, never at module import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from advtui.tui import messages as msg
from advtui.tui.state import Job, TuiConfig, one_line

Post = Callable[[Any], Any]


def scan_folder(
    paths: list[Path],
    size: int,
    current: Callable[[], int | None],
    post: Post,
    stop: threading.Event,
) -> None:
    """Load every file once, the currently selected one first: a display crop or a reason."""
    from advtui.images import load_image, resize_center_crop

    pending = set(range(len(paths)))
    while pending and not stop.is_set():
        cur = current()
        i = cur if cur in pending else min(pending)
        pending.discard(i)
        try:
            post(msg.ImageScanned(i, image=resize_center_crop(load_image(paths[i]), size)))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line reason
            post(msg.ImageScanned(i, error=one_line(exc)))


class ExplainerCache:
    """The CLI's explainer per image: background from ``--background`` or the folder, leaving
    the explained photo out (as ``advtui attack --explain`` and ``advtui eval`` do). Keeps the
    last few; safe to call from several threads."""

    SIZE = 4

    def __init__(self, config: TuiConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._cache: dict[tuple, Any] = {}

    def get(self, model: Any, image: Path | None, seed: int) -> Any:
        from advtui.explain import Explainer, background_for_image, background_from_folder

        key = (model.name, None if image is None else str(image), seed)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        c = self.config
        if image is not None:
            bg = background_for_image(image, model.input_size, c.background)
        else:  # no image yet (warming up): the folder's images
            bg = background_from_folder(c.background or c.folder, model.input_size)
        explainer = Explainer(
            model, bg, layer=c.layer, local_smoothing=c.local_smoothing, seed=seed
        )
        with self._lock:
            if len(self._cache) >= self.SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = explainer
        return explainer


def load_detector(path: str) -> tuple[Any, str]:
    """(detector, "") or (None, why not) — the detector module is optional."""
    try:
        from advtui.detect.saved import load_detector as load
    except ImportError:
        return None, "detector support is not installed in this version"
    try:
        return load(path), ""
    except Exception as exc:  # noqa: BLE001
        return None, f"detector: {one_line(exc)}"


def detector_scores(detector: Any, outcome: Any, post: Post) -> dict[str, float]:
    """P(adversarial) per variant from the detector, {} without one (or if it fails)."""
    if detector is None:
        return {}
    try:
        return {k: float(detector.score(a)) for k, a in outcome.attributions.items()}
    except Exception as exc:  # noqa: BLE001
        post(msg.Notice(one_line(exc), title="detector"))
        return {}


def attack_and_explain(
    job: Job,
    path: Path,
    settings: Any,
    *,
    model: Any,
    cached: Any,
    explain: bool,
    explainer_ready: threading.Event,
    explainer_error: Callable[[], str | None],
    explainers: ExplainerCache,
    nsamples: int,
    detector: Any,
    post: Post,
    stop: threading.Event,
) -> None:
    """Attack ``path`` (unless ``cached`` holds the outcome), then explain it if asked.

    Posts JobProgress while running, JobDone(final=False) between attack and SHAP (so the
    attack shows while SHAP runs), then JobDone or JobFailed; sets ``job.finished`` last.
    """
    from advtui.errors import Cancelled, ExplainError

    def progress(label: str):
        return lambda done, total: post(msg.JobProgress(job.id, label, done, total))

    try:
        from advtui.images import load_tensor
        from advtui.pipeline import explain_outcome, run_attack

        outcome = cached
        if outcome is None:
            progress("attack")(0, max(1, settings.steps))
            x = load_tensor(path, model.input_size)
            kwargs = None
            if settings.method == "adaptive":  # attacks the loaded detector through SHAP
                from advtui.errors import AttackError

                if detector is None:
                    raise AttackError("the adaptive attack needs --detector DIR")
                bg = explainers.get(model, path, settings.seed).background
                kwargs = {"detector": detector, "background": bg, "nsamples": nsamples}
            outcome = run_attack(
                model,
                x,
                settings,
                image=str(path),
                progress=progress("attack"),
                stop=stop,
                attack_kwargs=kwargs,
            )
            if explain:
                post(msg.JobDone(job.id, job.key, outcome, final=False))
        verdicts: dict[str, float] = {}
        if explain:
            progress("preparing SHAP")(0, 1)
            while not explainer_ready.wait(0.1):
                if stop.is_set():
                    raise Cancelled("cancelled while preparing SHAP")
            if explainer_error() is not None:
                raise ExplainError(explainer_error() or "SHAP is unavailable")
            outcome = replace(outcome, evidence={}, maps={}, attributions={})
            explain_outcome(
                explainers.get(model, path, settings.seed),
                outcome,
                nsamples=nsamples,
                progress=progress("SHAP"),
                stop=stop,
            )
            verdicts = detector_scores(detector, outcome, post)
        post(msg.JobDone(job.id, job.key, outcome, verdicts))
    except Cancelled:
        post(msg.JobFailed(job.id, "cancelled", cancelled=True))
    except Exception as exc:  # noqa: BLE001
        post(msg.JobFailed(job.id, one_line(exc)))
    finally:
        job.finished.set()
