"""The ε grid: the current image attacked at a row of budgets (key ``b``, ``--eps-grid``).

Plain Python (no Textual; torch only inside :func:`run_grid`, in the worker thread). Each
budget is the explorer's current settings with ``eps`` replaced, attacked through the same
:func:`advtui.tui.jobs.attack_once` (and so :func:`advtui.pipeline.run_attack`) as ``a``, so a
grid cell and the result of ``a`` at that ε are one and the same result, filed under the same
cache key: a budget already attacked (by ``a`` or an earlier grid) is shown, not recomputed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from advtui.errors import AttackError, FlagError

#: Budgets of an L∞ attack (pixel units): 1, 2, 4, 8 and 16/255.
LINF_GRID: tuple[float, ...] = tuple(n / 255 for n in (1, 2, 4, 8, 16))
#: Budgets of an L2 attack (a radius over all 3·H·W values in [0, 1]): PGD-L2's usual 0.5 on
#: ImageNet in the middle, halved and doubled twice.
L2_GRID: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0)
#: More budgets than this do not fit a row of readable pictures.
MAX_BUDGETS = 12


def parse_eps_grid(text: str) -> tuple[float, ...]:
    """``--eps-grid 1/255,2/255,4/255`` (or ``0.25,0.5,1`` for an L2 attack) → the budgets,
    ascending and without repeats. Raises :class:`~advtui.errors.FlagError` (one line)."""
    from advtui.names import safe_name

    values: list[float] = []
    for part in str(text).split(","):
        item = part.strip()
        if not item:
            continue
        try:
            v = float(Fraction(item)) if "/" in item else float(item)
        except (ValueError, ZeroDivisionError):
            raise FlagError(
                f"--eps-grid {safe_name(item)!r}: expected numbers like 1/255,2/255,4/255"
            ) from None
        if not math.isfinite(v) or v <= 0:
            raise FlagError(f"--eps-grid {safe_name(item)!r}: every budget must be > 0")
        values.append(v)
    out = tuple(sorted(set(values)))
    if not out:
        raise FlagError("--eps-grid: give at least one budget, e.g. 1/255,2/255,4/255")
    if len(out) > MAX_BUDGETS:
        raise FlagError(f"--eps-grid: at most {MAX_BUDGETS} budgets ({len(out)} given)")
    return out


def budgets_for(settings: Any, grid: Sequence[float] | None = None) -> tuple[float, ...]:
    """The budgets to attack at: ``grid`` (``--eps-grid``) or the default row of the attack's
    norm (:data:`LINF_GRID`, :data:`L2_GRID`). Raises :class:`~advtui.errors.AttackError` for
    an attack that sizes its own perturbation (ε does not apply) and for an L∞ budget > 1."""
    if not settings.bounded:
        raise AttackError(
            f"{settings.method} sizes its own perturbation: ε does not apply, so there is no "
            "ε grid for it"
        )
    norm = settings.norm
    if grid is None:
        return L2_GRID if norm == "L2" else LINF_GRID
    if norm != "L2" and max(grid) > 1:
        raise AttackError(
            f"--eps-grid: {max(grid):g} is over 1, the largest L∞ budget "
            f"({settings.method} bounds L∞; write 8/255, not 8)"
        )
    return tuple(grid)


def eps_label(eps: float, norm: str) -> str:
    """``ε 4/255`` (L∞) or ``ε₂ 0.5`` (L2), as the status line writes ε."""
    from advtui.settings import eps_text

    return f"ε₂ {eps:.3g}" if norm == "L2" else f"ε {eps_text(eps)}"


def first_success(outcomes: Sequence[Any | None]) -> int | None:
    """Index of the smallest budget whose attack succeeded, of those done so far. A budget
    not done yet before it (``None``) leaves the answer open: ``None``."""
    for i, o in enumerate(outcomes):
        if o is None:
            return None
        if o.success:
            return i
    return None


def run_grid(
    path: Path,
    settings: Sequence[Any],
    todo: Sequence[int],
    *,
    attack: Callable[..., Any],
    on_progress: Callable[[int, int, int], Any],
    on_result: Callable[[int, Any], Any],
    stop: threading.Event,
) -> int:
    """Attack ``path`` with ``settings[i]`` for each ``i`` in ``todo``, smallest budget first,
    calling ``on_result(i, outcome)`` after each and ``on_progress(i, done, total)`` per attack
    step. ``attack(path, settings, progress=..., stop=...)`` is
    :func:`advtui.tui.jobs.attack_once` with the model bound. Stops between budgets (and the
    attack between its steps) once ``stop`` is set; raises
    :class:`~advtui.errors.Cancelled` then. Returns the number of budgets attacked."""
    from advtui.errors import Cancelled

    done = 0
    for i in todo:
        if stop.is_set():
            raise Cancelled("cancelled")
        s = settings[i]
        on_progress(i, 0, max(1, s.steps_used))

        def progress(step: int, total: int, i: int = i) -> None:
            on_progress(i, step, total)

        outcome = attack(path, s, progress=progress, stop=stop)
        if stop.is_set():
            raise Cancelled("cancelled")  # a result that lands after Esc is not shown
        on_result(i, outcome)
        done += 1
    return done


__all__ = [
    "L2_GRID",
    "LINF_GRID",
    "budgets_for",
    "eps_label",
    "first_success",
    "parse_eps_grid",
    "run_grid",
]
