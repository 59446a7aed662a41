"""What the worker threads do: plain functions over the core, reporting through ``post``.

Each function takes what it needs explicitly (no App), a ``post`` callable that delivers a
message to the App (``App.post_message`` is thread-safe) and a ``stop`` event (the worker's
``cancelled_event``) that the core checks between attack steps and SHAP chunks. Torch, shap
and the core are imported here, inside the threads, never at module import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from advtui.tui import messages as msg
from advtui.tui.state import EXPLAIN_BATCH, Entry, Job, TuiConfig, one_line

Post = Callable[[Any], Any]


class Listing:
    """Files found by the walk and not yet shown: the walk thread adds, the App takes.

    The walk posts a collapsing :class:`~advtui.tui.messages.ListGrew` at most every
    ``INTERVAL`` seconds; the App drains up to ``BATCH`` entries per message (and asks for
    another if more are waiting), so a 50,000-file folder never blocks a key press.
    """

    INTERVAL = 0.05
    BATCH = 2000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: list[Entry] = []
        self._skipped: list[str] = []
        self.done = False
        self.error: str | None = None

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._found.append(entry)

    def skip(self, why: str) -> None:
        with self._lock:
            self._skipped.append(why)

    def take(self) -> tuple[list[Entry], list[str], bool]:
        """(entries, skipped notes, more waiting)."""
        with self._lock:
            found, self._found = self._found[: self.BATCH], self._found[self.BATCH :]
            skipped, self._skipped = self._skipped, []
            return found, skipped, bool(self._found)


def list_images(config: TuiConfig, listing: Listing, post: Post, stop: threading.Event) -> None:
    """Walk the folder (or read ``--list``) into ``listing``, posting ListGrew as it goes.

    A big walk runs in a child process (:mod:`advtui.walk`) so that it never competes with
    the UI thread for the GIL; a small folder (:func:`small_folder`) is walked here, at once,
    without the child's start-up, as is any folder where no child can be started. Metadata
    only: nothing is opened or decoded (see :func:`load_near`).
    """
    import time

    from advtui import walk
    from advtui.images import is_wnid

    last = [0.0]

    def found(path: str, rel: str, folder: str) -> None:
        listing.add(Entry(path, rel, folder, folder if is_wnid(folder) else ""))

    def batch_done() -> None:
        now = time.monotonic()
        if now - last[0] >= listing.INTERVAL:
            last[0] = now
            post(msg.ListGrew())

    try:
        if config.list_file is None and small_folder(config.folder, config.recursive):
            _walk_here(config, found, listing.skip, batch_done, stop)
        else:
            try:
                listing.error = walk.walk_in_process(
                    None if config.list_file else config.folder,
                    config.list_file,
                    config.recursive,
                    found,
                    listing.skip,
                    batch_done,
                    stop,
                )
            except walk.ChildUnavailable:  # nothing reported yet (a frozen app): walk here
                _walk_here(config, found, listing.skip, batch_done, stop)
    except Exception as exc:  # noqa: BLE001 - a folder that cannot be listed is a message
        listing.error = one_line(exc)
    listing.done = not stop.is_set()
    post(msg.ListGrew())


#: A folder with at most this many entries and no sub-folder to walk is listed in the thread:
#: a walk that short costs less than starting the child (~50–120 ms before the first row).
SMALL_FOLDER = 2000


def small_folder(folder, recursive: bool) -> bool:
    """Whether ``folder`` holds at most :data:`SMALL_FOLDER` entries and (when walking
    recursively) no sub-folder: one ``scandir``, stopped at the limit."""
    import os

    try:
        with os.scandir(folder) as it:
            for n, e in enumerate(it):
                if n >= SMALL_FOLDER or (recursive and e.is_dir() and not e.name.startswith(".")):
                    return False
    except OSError:
        return True  # the walk reports why it cannot list it, at once
    return True


def _walk_here(
    config: TuiConfig,
    found: Callable[[str, str, str], None],
    skipped: Callable[[str], None],
    batch_done: Callable[[], None],
    stop: threading.Event,
) -> None:
    from advtui.images import Found, Skipped, read_list, walk_images

    items: Iterator[Found | Skipped]
    if config.list_file is not None:
        items = read_list(config.list_file, stop)
    else:
        items = walk_images(config.folder, recursive=config.recursive, stop=stop)
    for f in items:
        if isinstance(f, Found):
            found(f.path, f.rel, f.folder)
        else:
            skipped(str(f))
        batch_done()  # posts at most every Listing.INTERVAL


IDLE = 0.3


def load_near(
    entries: list[Entry],
    wanted: Callable[[], tuple[int | None, list[int]]],
    busy: Callable[[], bool],
    wake: threading.Event,
    size: int,
    post: Post,
    stop: threading.Event,
) -> None:
    """Decode the images the user is looking at, and only those: the current one first, then
    (when no attack or SHAP job runs) its neighbours and the rows on screen, for their marks.

    ``wanted()`` gives (current index, indices on screen); ``wake`` is set when they change.
    Returns after ``IDLE`` seconds without a wake (so ``workers.wait_for_complete`` ends).
    Each result is posted as ImageScanned; the App keeps the crops in an LRU. Never walks the
    whole folder, so it never competes with a running attack.
    """
    from advtui.images import load_image, resize_center_crop
    from advtui.tui.state import PREFETCH

    def load(i: int) -> None:
        try:
            image = resize_center_crop(load_image(entries[i].path), size)
            post(msg.ImageScanned(i, image=image))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line reason
            post(msg.ImageScanned(i, error=one_line(exc)))

    tried: set[int] = set()  # loaded since the last wake (results may not be filed yet)
    while not stop.is_set():
        if not wake.wait(IDLE):
            return  # nothing asked for a while: the App starts a loader again when it asks
        wake.clear()
        tried.clear()
        while not stop.is_set() and not wake.is_set():
            cur, visible = wanted()
            n = len(entries)
            todo: list[int] = []
            if cur is not None and 0 <= cur < n:
                todo.append(cur)
                if not busy():
                    for d in range(1, PREFETCH + 1):
                        todo += [cur + d, cur - d]
            if not busy():
                todo += visible
            pick = None
            for i in todo:
                if 0 <= i < n and i not in tried:
                    e = entries[i]
                    near = i == cur or abs(i - (cur or 0)) <= PREFETCH
                    if e.error is None and (e.image is None if near else not e.checked):
                        pick = i
                        break
            if pick is None:
                break
            tried.add(pick)
            load(pick)


class ExplainerCache:
    """The CLI's explainer per (image, method), built by :func:`advtui.explain.make_explainer`:
    SHAP's background from ``--background`` or the folder, leaving the explained photo out (as
    ``advtui attack --explain`` and ``advtui eval`` do); IG/saliency/SmoothGrad need none. The
    flags of other methods are ignored (``x`` cycles methods under one set of flags). Keeps
    the last few; safe to call from several threads."""

    SIZE = 4

    def __init__(self, config: TuiConfig, note: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.note = note  # hears which background files were skipped (one line)
        self._lock = threading.Lock()
        self._cache: dict[tuple, Any] = {}

    def get(self, model: Any, image: Path | None, seed: int, name: str | None = None) -> Any:
        from advtui.explain import background_for_image, background_from_folder, make_explainer

        name = name or self.config.explainer
        key = (model.name, None if image is None else str(image), seed, name)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        c = self.config

        def background():
            if image is not None:
                return background_for_image(image, model.load_size, c.background, note=self.note)
            # no image yet (warming up): the folder's images
            return background_from_folder(c.background or c.folder, model.load_size, note=self.note)

        explainer = make_explainer(
            name,
            model,
            background,
            strict=False,
            seed=seed,
            batch_size=EXPLAIN_BATCH.get(model.device.type),
            layer=c.layer,
            local_smoothing=c.local_smoothing,
            baseline=c.baseline,
            noise_std=c.noise_std,
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


def attack_once(
    path: Path,
    settings: Any,
    *,
    model: Any,
    detector: Any,
    explainers: ExplainerCache,
    nsamples: int,
    progress: Callable[[int, int], Any] | None,
    stop: threading.Event,
) -> Any:
    """One attack of ``path`` with ``settings`` through :func:`advtui.pipeline.run_attack`
    (the CLI's), the detector and SHAP background handed to the attacks whose spec needs
    them (the adaptive attack): an :class:`~advtui.pipeline.Outcome`. Runs on the torch
    thread (:mod:`advtui.tui.torchwork`)."""
    from advtui.tui import torchwork

    return torchwork.run(
        _attack_once, path, settings, model, detector, explainers, nsamples, progress, stop
    )


def _attack_once(path, settings, model, detector, explainers, nsamples, progress, stop):
    from advtui import registry
    from advtui.errors import AttackError
    from advtui.images import load_tensor
    from advtui.pipeline import run_attack

    x = load_tensor(path, model.load_size)
    kwargs = None
    spec = registry.attack_spec(settings.method)
    if spec.needs_detector:  # attacks the loaded detector through SHAP
        if detector is None:
            raise AttackError(f"the {spec.name} attack needs --detector DIR")
        bg = explainers.get(model, path, settings.seed).background
        kwargs = {"detector": detector, "background": bg, "nsamples": nsamples}
    return run_attack(
        model,
        x,
        settings,
        image=str(path),
        progress=progress,
        stop=stop,
        attack_kwargs=kwargs,
    )


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
    explainer: str | None = None,
) -> None:
    """Attack ``path`` (unless ``cached`` holds the outcome), then explain it if asked.

    Posts JobProgress while running, JobDone(final=False) between attack and SHAP (so the
    attack shows while SHAP runs), then JobDone or JobFailed; sets ``job.finished`` last.
    ``explainer`` is the method's registry name (default: the config's ``--explainer``).
    """
    from advtui import registry
    from advtui.errors import Cancelled, ExplainError

    explainer = explainer or explainers.config.explainer
    label = registry.explainer_spec(explainer).label

    def progress(label: str):
        return lambda done, total: post(msg.JobProgress(job.id, label, done, total))

    try:
        from advtui.pipeline import explain_outcome

        outcome = cached
        if outcome is None:
            progress("attack")(0, max(1, settings.steps))
            outcome = attack_once(
                path,
                settings,
                model=model,
                detector=detector,
                explainers=explainers,
                nsamples=nsamples,
                progress=progress("attack"),
                stop=stop,
            )
            if explain:
                post(msg.JobDone(job.id, job.key, outcome, final=False))
        verdicts: dict[str, float] = {}
        if explain:
            progress(f"preparing {label}")(0, 1)
            while not explainer_ready.wait(0.1):
                if stop.is_set():
                    raise Cancelled(f"cancelled while preparing {label}")
            if explainer_error() is not None:
                raise ExplainError(explainer_error() or f"{label} is unavailable")
            outcome = replace(outcome, evidence={}, maps={}, attributions={}, explainer=None)

            def explain_it(outcome=outcome) -> dict[str, float]:
                explain_outcome(
                    explainers.get(model, path, settings.seed, explainer),
                    outcome,
                    nsamples=nsamples,
                    progress=progress(label),
                    stop=stop,
                )
                return detector_scores(detector, outcome, post)

            from advtui.tui import torchwork

            verdicts = torchwork.run(explain_it)  # the torch thread, as the attack
        post(msg.JobDone(job.id, job.key, outcome, verdicts))
    except Cancelled:
        post(msg.JobFailed(job.id, "cancelled", cancelled=True))
    except Exception as exc:  # noqa: BLE001
        post(msg.JobFailed(job.id, one_line(exc)))
    finally:
        from advtui.tui.resultcache import give_back_memory

        give_back_memory()  # the job's freed tensors go back to the OS, not to an arena
        job.finished.set()
