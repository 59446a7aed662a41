"""Progress of an ``advtui eval`` run: counts, rates, ETA, workers — and ``OUT/progress.json``.

:class:`Tracker` is fed by the one writer (:func:`advtui.eval.loop.run_eval`) as rows are
stored and by the engine as its workers change state. It calls the ``progress(done, total,
what)`` callback of ``run_eval`` for every stored row, hands a :meth:`Tracker.snapshot` to the
``status`` callback (the terminal display), and rewrites ``progress.json`` atomically (temp +
rename, at most once a second and at the end), so a second terminal can follow a run::

    watch -n 5 'python -m json.tool OUT/progress.json'

After the rows, :class:`advtui.eval.phases.Phases` moves ``phase`` on (features, detectors,
…, summary; progress.json is rewritten as each starts) and ``state`` stays ``running`` until
summary.json is written.

Rates count only this run's rows: rows a ``--resume`` loaded add to ``done``, never to the
rate, and no ETA is given before a row has been timed. Torch-free.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

PROGRESS_JSON = "progress.json"
#: progress.json is rewritten at most this often (seconds), plus at the start and the end.
WRITE_EVERY = 1.0


def read_progress(out: str | os.PathLike[str]) -> dict | None:
    """The ``progress.json`` of results folder ``out`` (None if absent or being replaced)."""
    try:
        return json.loads((Path(out) / PROGRESS_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class Tracker:
    """Counts rows and images, times them, tracks workers and publishes the state."""

    def __init__(
        self,
        out: str | os.PathLike[str] | None,
        *,
        rows: tuple[int, int],
        images: tuple[int, int],
        engine: str = "inprocess",
        progress: Callable[[int, int, str], None] | None = None,
        status: Callable[[dict], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = None if out is None else Path(out) / PROGRESS_JSON
        self.done, self.total = rows
        self.images_done, self.images_total = images
        self.engine = engine
        self.progress, self.status = progress, status
        self.clock, self.wall = clock, wall
        self.t0 = clock()
        self.started = wall()
        self.base = (self.done, self.images_done)  # what the run started with (resume)
        self.state = "running"
        self.what = ""
        self.phase = "rows"  # what the run does now (advtui.eval.phases.PHASES)
        self.phase_seconds: dict[str, float] = {}  # finished phases
        self._phase_t0 = self.t0
        self._workers: dict[int, dict] = {}
        self._lock = threading.Lock()
        self._written: float | None = None
        self._published_phase: str | None = None

    # ------------------------------------------------------------------ feeding
    def tick(self, what: str) -> None:
        """Report the current counts with ``what`` (the row just stored, or a phase)."""
        with self._lock:
            self.what = what
            done, total = min(self.done, self.total), self.total
        if self.progress is not None:
            self.progress(done, total, what)
        self._publish()

    def rows(self, n: int, *, finished: bool = False, what: str = "") -> None:
        """``n`` planned rows were stored (``finished``: their image has all its rows)."""
        with self._lock:
            self.done += n
            self.images_done += int(finished)
        self.tick(what)

    def enter_phase(self, phase: str, what: str, seconds: dict[str, float]) -> None:
        """The run moved on to ``phase`` (``seconds``: the time each finished phase took);
        progress.json is rewritten at once, so a reader sees every phase."""
        with self._lock:
            self.phase, self.phase_seconds, self.what = phase, dict(seconds), what
            self._phase_t0 = self.clock()
        self.tick(what)

    def plan_more(self, n: int, what: str = "") -> None:
        """``n`` more rows are planned (a second pass, e.g. the adaptive attacks)."""
        with self._lock:
            self.total += n
        self.tick(what)

    def workers(self, workers: list[dict]) -> None:
        """Replace the worker list (each a dict with at least ``id`` and ``state``)."""
        with self._lock:
            self._workers = {int(w["id"]): dict(w) for w in workers}
        self._publish()

    def worker(self, wid: int, *, rows: int = 0, **fields) -> None:
        """Update one worker: add ``rows`` to its count, set ``fields`` (state, last, …)."""
        with self._lock:
            w = self._workers.setdefault(wid, {"id": wid, "state": "working", "rows": 0})
            w["rows"] = w.get("rows", 0) + rows
            w.update(fields)
            w["updated"] = self.wall()

    def finish(self, state: str) -> None:
        """End the run as ``state`` (done, interrupted, failed) and write progress.json."""
        with self._lock:
            self.state = state
            for w in self._workers.values():
                if w.get("state") not in ("failed",):
                    w["state"] = "done" if state == "done" else "stopped"
        self._publish(force=True)

    # ------------------------------------------------------------------ reading
    def rates(self, now: float | None = None) -> tuple[float | None, float | None, float | None]:
        """(rows/min, images/min, ETA seconds) of this run, None where nothing is timed yet."""
        now = self.clock() if now is None else now
        with self._lock:
            rows = self.done - self.base[0]
            images = self.images_done - self.base[1]
            left = max(0, self.total - self.done)
        minutes = (now - self.t0) / 60
        if minutes <= 0 or rows <= 0:
            return None, None, None
        row_rate = rows / minutes
        return row_rate, images / minutes, left / row_rate * 60

    def snapshot(self) -> dict:
        """Everything progress.json holds (JSON-ready)."""
        now = self.clock()
        row_rate, image_rate, eta = self.rates(now)
        with self._lock:
            workers = [dict(self._workers[k]) for k in sorted(self._workers)]
            return {
                "state": self.state,
                "engine": self.engine,
                "rows": {"done": min(self.done, self.total), "total": self.total},
                "images": {"done": self.images_done, "total": self.images_total},
                "resumed_rows": self.base[0],
                "rows_per_min": _round(row_rate),
                "images_per_min": _round(image_rate),
                "eta_seconds": None if eta is None else round(eta, 1),
                "elapsed_seconds": round(now - self.t0, 1),
                "phase": self.phase,
                "phase_elapsed_seconds": round(now - self._phase_t0, 1),
                "phase_seconds": dict(self.phase_seconds),
                "last": self.what,
                "workers": workers,
                "pid": os.getpid(),
                "started": _iso(self.started),
                "updated": _iso(self.wall()),
            }

    # ------------------------------------------------------------------ publishing
    def _publish(self, force: bool = False) -> None:
        now = self.clock()
        due = (
            force
            or self._written is None
            or now - self._written >= WRITE_EVERY
            or self._published_phase != self.phase  # every phase reaches the file
        )
        if self.status is None and (self.path is None or not due):
            return
        snap = self.snapshot()
        if self.status is not None:
            self.status(snap)
        if self.path is not None and due:
            from advtui.images import atomic_write_bytes

            self._written, self._published_phase = now, snap["phase"]
            try:
                atomic_write_bytes(self.path, (json.dumps(snap, indent=1) + "\n").encode())
            except OSError:
                pass  # a full disk must not stop the run; results.jsonl reports its own errors


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))
