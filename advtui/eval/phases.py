"""What an ``advtui eval`` run is doing, phase by phase, and how long each phase took.

After its rows a run still has work to do — ``features.npz``, every detector cross-validated
per ε and target mode, the adaptive table, the saved detector, the plots, ``summary.json`` —
and none of it may be silent: :class:`Phases` tells the run's
:class:`~advtui.eval.progress.Tracker` which phase it is in and what it does there
("detector 5 of 5 mahalanobis, fold 3 of 5"), so the terminal display and ``progress.json``
(``phase``, ``last``) show it, and it times each phase for ``summary.json`` (``phases``:
seconds per phase, in the order they ran). ``progress.json``'s ``state`` stays ``running``
until ``summary.json`` is written (:func:`finishing`). Torch-free.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

#: The phases of a run, in the order they happen (``adaptive`` and ``adaptive-report`` only
#: with adaptive rows, ``plots`` only with plots).
PHASES = (
    "rows",
    "adaptive",
    "features",
    "detectors",
    "adaptive-report",
    "detector",
    "plots",
    "summary",
)


class Phases:
    """Enters phases on ``tracker`` (anything with ``enter_phase(name, what, finished)`` and
    ``tick(what)``) and
    times them; ``clock`` is injectable for tests."""

    def __init__(self, tracker, clock: Callable[[], float] = time.monotonic) -> None:
        self.tracker, self.clock = tracker, clock
        self.times: dict[str, float] = {}  # finished phases, seconds
        self.name: str | None = None
        self.since = clock()

    def enter(self, name: str, what: str = "") -> None:
        """End the current phase (adding its time) and start ``name``."""
        now = self.clock()
        if self.name is not None:
            self.times[self.name] = self.times.get(self.name, 0.0) + now - self.since
        self.name, self.since = name, now
        self.tracker.enter_phase(
            name, what or name, {k: round(v, 3) for k, v in self.times.items()}
        )

    def step(self, what: str) -> None:
        """Say what the current phase is doing now (the display's line, progress.json's
        ``last``)."""
        self.tracker.tick(what)

    def seconds(self) -> dict[str, float]:
        """Seconds per phase so far, the current one up to now (rounded to ms)."""
        out = dict(self.times)
        if self.name is not None:
            out[self.name] = out.get(self.name, 0.0) + self.clock() - self.since
        return {k: round(v, 3) for k, v in out.items()}

    def fold_progress(self, where: str, names: int) -> Callable[[str, int, int, int], None]:
        """A :func:`advtui.detect.base.benchmark` ``progress`` callback that steps with
        ``where`` (the variant) and the detector and fold it is fitting."""

        def progress(name: str, k: int, fold: int, folds: int) -> None:
            self.step(f"{where}: detector {k} of {names} {name}, fold {fold} of {folds}")

        return progress


@contextlib.contextmanager
def finishing(tracker) -> Iterator[None]:
    """Finish ``tracker`` as ``done`` when the block (the phases after the rows, the summary
    last) completes, ``interrupted`` on Ctrl-C or a cancel, ``failed`` on an error."""
    from advtui.errors import Cancelled

    try:
        yield
    except BaseException as exc:
        tracker.finish(
            "interrupted" if isinstance(exc, (KeyboardInterrupt, Cancelled)) else "failed"
        )
        raise
    tracker.finish("done")
