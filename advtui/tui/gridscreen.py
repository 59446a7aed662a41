"""The ε grid screen (key ``b``): the current image attacked at a row of budgets, each
adversarial picture with its prediction and confidence, the first budget that succeeds marked.

The attacks run in a thread worker of this screen (:func:`advtui.tui.epsgrid.run_grid` over
:func:`advtui.tui.jobs.attack_once`, i.e. the CLI's :func:`advtui.pipeline.run_attack`); each
result is handed to the App's result cache (``file_result``) under the key ``a`` would use at
that ε, and budgets already in the cache are shown at once, not attacked again. Esc cancels a
running grid (the attack stops at its next step, no later result is shown) and, once nothing
runs, closes the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from advtui.names import safe_name
from advtui.tui.epsgrid import eps_label, first_success, run_grid
from advtui.tui.pixels import PixelView
from advtui.tui.widgets import progress_text


@dataclass
class GridProgress(Message):
    """A budget's attack advanced (a burst collapses into the newest)."""

    run: int
    index: int
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GridProgress) and message.run == self.run


@dataclass
class GridResult(Message):
    run: int
    index: int
    outcome: Any


@dataclass
class GridOver(Message):
    """The worker ended: all budgets done, cancelled, or failed (``error``)."""

    run: int
    cancelled: bool = False
    error: str = ""


#: lines under each picture: the mark, the confidence and the (wrapped) class name
CAPTION_LINES = 2


class GridCell(Vertical):
    """One budget: its adversarial picture (border title: the budget) and a caption."""

    def __init__(self, picture: PixelView, title: str, **kwargs) -> None:
        super().__init__(classes="grid-cell", **kwargs)
        self.picture = picture
        self.border_title = title
        self.caption = Static("", classes="grid-caption")

    def compose(self) -> ComposeResult:
        yield self.picture
        yield self.caption

    @property
    def caption_text(self) -> str:
        return str(self.caption.render())


class EpsGridScreen(Screen[None]):
    """The grid for one image and one set of settings (``settings[i]`` at budget ``i``)."""

    BINDINGS = [
        Binding("escape", "cancel_or_close", "cancel / close", key_display="esc"),
        Binding("b", "close", "close"),
        Binding("ctrl+c", "app.quit", "quit", show=False, priority=True),
    ]

    def __init__(
        self,
        *,
        path: Path,
        settings: Sequence[Any],
        cached: Sequence[Any | None],
        attack: Callable[..., Any],
        file_result: Callable[[int, Any], None],
        picture: Callable[[str], PixelView],
        title: str,
    ) -> None:
        super().__init__()
        self.path = path
        self.settings = list(settings)
        self.norm = self.settings[0].norm
        #: the outcome per budget (``None``: not attacked yet)
        self.outcomes: list[Any | None] = list(cached)
        self.attack = attack
        self.file_result = file_result
        self.title_text = title
        self.cells = [
            GridCell(picture(f"grid-pic-{i}"), eps_label(s.eps, self.norm), id=f"grid-cell-{i}")
            for i, s in enumerate(self.settings)
        ]
        #: budgets attacked since this screen opened (cached ones are not)
        self.computed = 0
        self.running = False
        self.cancelled = False
        self.status = ""
        self._run = 0
        #: (budget index, steps done, steps) of the running attack, as last reported
        self.progress: tuple[int, int, int] | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title_text), id="grid-title")
        with Grid(id="grid-cells"):
            yield from self.cells
        yield Static(id="grid-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        grid = self.query_one("#grid-cells", Grid)
        n = len(self.cells)
        cols = n if n <= 6 else -(-n // 2)
        grid.styles.grid_size_columns = cols
        grid.styles.grid_size_rows = -(-n // cols)
        self._fit()
        for i, o in enumerate(self.outcomes):
            if o is not None:
                self._show(i, o)
        self._mark_first()
        todo = [i for i, o in enumerate(self.outcomes) if o is None]
        if todo:
            self._start(todo)
        else:
            self._say_done()

    def on_resize(self) -> None:
        self._fit()
        self._mark_first()

    def _fit(self) -> None:
        """Pictures as tall as a square picture of the cell's width needs (two pixels per
        row), or as the screen allows: no empty band above and below them."""
        n = len(self.cells)
        cols = n if n <= 6 else -(-n // 2)
        rows = -(-n // cols)
        width, height = self.size
        if width <= 0 or height <= 0:
            return
        inner = max(1, width // cols - 2)  # inside the cell's border
        room = max(1, (height - 3) // rows - 2 - CAPTION_LINES)  # title, status, footer
        for cell in self.cells:
            cell.picture.styles.height = max(1, min(room, -(-inner // 2)))

    # ------------------------------------------------------------------ worker

    def _start(self, todo: list[int]) -> None:
        self._run += 1
        self.running, self.cancelled = True, False
        run = self._run
        self._set_status(f"attacking {len(todo)} of {len(self.cells)} budgets…")
        self.run_worker(
            lambda: self._work(run, todo),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="grid",
        )

    def _work(self, run: int, todo: list[int]) -> None:
        from advtui.errors import Cancelled
        from advtui.tui.state import one_line

        stop = get_current_worker().cancelled_event
        try:
            run_grid(
                self.path,
                self.settings,
                todo,
                attack=self.attack,
                on_progress=lambda i, d, t: self.post_message(GridProgress(run, i, d, t)),
                on_result=lambda i, o: self.post_message(GridResult(run, i, o)),
                stop=stop,
            )
        except Cancelled:
            self.post_message(GridOver(run, cancelled=True))
        except Exception as exc:  # noqa: BLE001 - a failure is a status line, never a traceback
            self.post_message(GridOver(run, error=one_line(exc)))
        else:
            self.post_message(GridOver(run))

    @on(GridProgress)
    def _on_progress(self, message: GridProgress) -> None:
        if message.run != self._run or not self.running:
            return
        self.progress = (message.index, message.done, message.total)
        left = sum(o is None for o in self.outcomes)
        label = f"{eps_label(self.settings[message.index].eps, self.norm)} ({left} left)"
        self.query_one("#grid-status", Static).update(
            progress_text(label, message.done, message.total)
        )
        self.cells[message.index].caption.update("attacking…")

    @on(GridResult)
    def _on_result(self, message: GridResult) -> None:
        if message.run != self._run or not self.running:
            return  # cancelled: a result that was on its way is not shown
        self.outcomes[message.index] = message.outcome
        self.computed += 1
        self.file_result(message.index, message.outcome)
        self._show(message.index, message.outcome)
        self._mark_first()

    @on(GridOver)
    def _on_over(self, message: GridOver) -> None:
        if message.run != self._run or not self.running:
            return
        self.running = False
        if message.cancelled:
            self._say_cancelled()
        elif message.error:
            self._set_status(f"failed: {message.error}")
            for i, o in enumerate(self.outcomes):
                if o is None:
                    self.cells[i].caption.update("—")
        else:
            self._say_done()

    # ------------------------------------------------------------------ drawing

    def _show(self, i: int, outcome: Any) -> None:
        from advtui.images import to_pil

        top = outcome.adv_top5[0]
        cell = self.cells[i]
        cell.picture.show(to_pil(outcome.x_adv))
        mark = ("✓", "green") if outcome.success else ("✗", "red")
        pct = percent(float(top["prob"]))
        cell.caption.update(Text.assemble(mark, f" {pct} ", safe_name(str(top["label"]))))
        cell.set_class(outcome.success, "-success")

    @property
    def first(self) -> int | None:
        """The smallest budget that succeeded (once every smaller one is done)."""
        return first_success(self.outcomes)

    def _mark_first(self) -> None:
        first = self.first
        cols = self.query_one("#grid-cells", Grid).styles.grid_size_columns or 1
        room = self.size.width // cols - 6  # "╰─ " + subtitle + " ─╯"
        mark = "first success" if room >= len("first success") else "first"
        for i, cell in enumerate(self.cells):
            cell.set_class(i == first, "-first")
            cell.border_subtitle = mark if i == first else ""

    def _set_status(self, text: str) -> None:
        self.status = text
        self.query_one("#grid-status", Static).update(Text(text))

    def _say_done(self) -> None:
        first = self.first
        if first is None:
            biggest = eps_label(self.settings[-1].eps, self.norm)
            self._set_status(f"no budget up to {biggest} succeeded · esc closes")
        else:
            at = eps_label(self.settings[first].eps, self.norm)
            self._set_status(f"first success at {at} · esc closes")

    def _say_cancelled(self) -> None:
        done = sum(o is not None for o in self.outcomes)
        self._set_status(f"cancelled ({done} of {len(self.cells)} budgets done) · esc closes")
        for i, o in enumerate(self.outcomes):
            if o is None:
                self.cells[i].caption.update("cancelled")

    # ------------------------------------------------------------------ actions

    def action_cancel_or_close(self) -> None:
        if self.running:
            self._cancel()
        else:
            self.dismiss(None)

    def _cancel(self) -> None:
        self.running, self.cancelled = False, True
        self.workers.cancel_group(self, "grid")
        self._say_cancelled()

    def action_close(self) -> None:
        if self.running:
            self._cancel()
        self.dismiss(None)


__all__ = ["EpsGridScreen", "GridCell", "open_grid"]


def open_grid(app: Any) -> None:
    """Open the ε grid of the explorer's current image and settings (the App's ``b``).

    Budgets: ``--eps-grid`` or the default row of the method's norm; an attack that sizes its
    own perturbation, or a budget out of range, is a notification instead."""
    from functools import partial

    from advtui.errors import AttackError
    from advtui.tui import jobs
    from advtui.tui.epsgrid import budgets_for

    entry = app.state.current_entry
    if entry is None or app.state.model is None or app.state.job is not None:
        return
    if entry.error is not None:
        app.say(f"cannot attack {entry.error}", title="ε grid", severity="warning", timeout=6)
        return
    try:
        budgets = budgets_for(app.state.settings, app.config.eps_grid)
    except AttackError as exc:
        app.say(str(exc), title="ε grid", severity="warning", timeout=8)
        return
    settings = [app.state.settings.with_(eps=e) for e in budgets]
    keys = [app.state.key_for(entry, s) for s in settings]
    index = app.state.current

    def file_result(i: int, outcome: Any) -> None:
        app.state.outcomes[keys[i]] = outcome  # the cache `a` reads: the same key at that ε
        if index is not None:
            app._update_mark(index)

    attack = partial(
        jobs.attack_once,
        model=app.state.model,
        detector=app.state.detector,
        explainers=app.explainers,
        nsamples=app.config.nsamples,
    )
    s = app.state.settings
    steps = "" if s.single_step else f" · {s.steps} steps"
    title = (
        f"ε grid · {safe_name(entry.rel)} · {app.state.model.name} · "
        f"{registry_label(s.method)}{steps} · {safe_name(s.target)}"
    )
    clean = app.state.predictions.get((str(entry.path), app.state.model.name))
    if clean:
        title += f" · clean: {percent(float(clean[0]['prob']))} {safe_name(str(clean[0]['label']))}"

    def closed(_: None) -> None:
        app.refresh_view()

    app.push_screen(
        EpsGridScreen(
            path=entry.path,
            settings=settings,
            cached=[app.state.outcomes.get(k) for k in keys],
            attack=attack,
            file_result=file_result,
            picture=lambda wid: app._picture(wid),
            title=title,
        ),
        closed,
    )


def percent(p: float) -> str:
    """``93%``, ``4.2%`` or ``<0.1%``: a confidence in as few digits as tell it apart."""
    return f"{p:.0%}" if p >= 0.095 else f"{p:.1%}" if p >= 0.001 else "<0.1%"


def registry_label(method: str) -> str:
    from advtui import registry

    return registry.attack_spec(method).label
