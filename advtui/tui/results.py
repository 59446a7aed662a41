"""An eval run's rows in the explorer: ``advtui OUT`` (or ``r`` with ``--detector OUT``).

:class:`ResultsScreen` shows :class:`RunTable`, a virtual table (only the rows on screen are
drawn, each read from its byte offset in results.jsonl when first shown), over a
:class:`advtui.eval.browse.RunIndex` that a thread worker indexes in batches: the first rows
are on screen after the first 64 kB, whatever the run's size. Keys sort and filter (target
mode, ε, the focused detector, missed only / false alarms only); Enter reproduces the row
in the explorer (:mod:`advtui.tui.evalrow`); ``h`` and ``c`` open the plots
(:class:`advtui.tui.plotdata.PlotScreen`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from advtui.eval.browse import VERDICTS, RunIndex, view_order
from advtui.names import safe_name
from advtui.tui.runtable import RunTable


class RunScanned(Message):
    """The worker indexed more of results.jsonl (collapses: a burst is one repaint)."""

    def __init__(self, done: int, total: int, final: bool = False) -> None:
        super().__init__()
        self.done, self.total, self.final = done, total, final

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunScanned) and not message.final


#: What ``s`` cycles through: (sort key, label, descending by default).
def sort_keys(detector: str | None) -> list[tuple[str, str, bool]]:
    keys = [("row", "file order", False)]
    if detector is not None:
        keys.append(("score", f"{detector} score", True))
    keys += [
        ("photo", "photo", False),
        ("variant", "mode", False),
        ("eps", "ε", False),
        ("success", "success", True),
        ("clean_conf", "clean confidence", True),
        ("conf", "confidence", True),
        ("mean_shap", "mean SHAP", False),
    ]
    return keys


class ResultsScreen(Screen[None]):
    """An eval run: its rows, sorted and filtered; Enter opens one in the explorer."""

    DEFAULT_CSS = """
    ResultsScreen #results-head { height: 2; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    BINDINGS = [
        Binding("s", "sort", "sort"),
        Binding("o", "reverse", "order"),
        Binding("m", "mode", "mode"),
        Binding("e", "eps", "ε", show=False),
        Binding("d", "detector", "det"),
        Binding("f", "verdict", "filter"),
        Binding("h", "histogram", "hist"),
        Binding("c", "roc", "ROC"),
        Binding("u", "reload", "reload", show=False),
        Binding("escape,r", "close", "back", key_display="esc"),
        Binding("q", "quit", "quit"),
    ]

    async def action_quit(self) -> None:
        await self.app.action_quit()

    def __init__(self, run: RunIndex, class_name: Callable[[int], str]) -> None:
        super().__init__()
        self.run = run
        self.class_name = class_name
        self.mode: str | None = None  # None: every mode (pooled scores)
        self.eps: str | None = None
        self.det = 0
        self.verdict = VERDICTS[0]
        self.sort = "row"
        self.descending = False
        self.scan_done = 0
        self.said = 0  # run.problems already told
        self.painted = threading.Event()  # the first indexed rows are on screen
        self.scan_total = 0
        self._scores: tuple[np.ndarray, np.ndarray] | None = None
        self._scored_for: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="results-head")
        yield RunTable(self.run, self.class_name, id="results-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for why in self.run.problems:
            say(self.app, why, title="eval run", severity="warning", timeout=8)
        self.said = len(self.run.problems)
        if self.run.state != "finished":
            say(
                self.app,
                "the run is still running: rows so far, no detector scores until its summary"
                if self.run.state == "running"
                else "no summary yet (the run stopped before it): rows without detector scores",
                title="eval run",
                severity="warning",
                timeout=8,
            )
        self.query_one(RunTable).focus()
        self.refresh_rows()
        if not self.run.complete:
            self.scan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="run-scan")
    def scan(self) -> None:
        stop = get_current_worker().cancelled_event

        def progress(done: int, total: int) -> None:
            self.post_message(RunScanned(done, total))
            if not self.painted.is_set():  # the first rows: let the UI paint them first
                self.painted.wait(0.5)

        try:
            self.run.scan(stop, progress)
        except Exception as exc:  # noqa: BLE001 - one line, the screen stays
            from advtui.tui.state import one_line

            self.app.call_from_thread(
                say, self.app, one_line(exc), title="eval run", severity="error"
            )
        self.post_message(RunScanned(self.run.scanned_bytes, self.run.scanned_bytes, final=True))

    def on_run_scanned(self, message: RunScanned) -> None:
        self.scan_done, self.scan_total = message.done, message.total
        self.call_after_refresh(self.painted.set)
        for why in self.run.problems[self.said :]:  # a damaged oof_scores.npz, once read
            say(self.app, why, title="eval run", severity="warning", timeout=8)
        self.said = len(self.run.problems)
        if message.final and self.run.bad_lines:
            bad = self.run.bad_lines
            say(
                self.app,
                f"results.jsonl: {len(bad)} line{'s' if len(bad) > 1 else ''} not a result row "
                f"(first: line {bad[0] + 1}); shown as unreadable",
                title="eval run",
                severity="warning",
                timeout=8,
            )
        self.refresh_rows()

    # ------------------------------------------------------------------ state → table
    @property
    def detector(self) -> str | None:
        dets = self.run.detectors
        return dets[self.det] if 0 <= self.det < len(dets) else None

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        key = (len(self.run), self.run.scores_loaded, self.mode, self.eps)
        if self._scores is None or self._scored_for != key:
            self._scores, self._scored_for = self.run.scores(self.mode, self.eps), key
        return self._scores

    def refresh_rows(self) -> None:
        score, caught = self.scores()
        sort = f"score:{self.det}" if self.sort == "score" else self.sort
        order = view_order(
            self.run,
            score,
            caught,
            mode=self.mode,
            eps=self.eps,
            detector=self.det,
            verdict=self.verdict,
            sort=sort,
            descending=self.descending,
        )
        self.query_one(RunTable).set_rows(order, score, caught, self.det)
        self.query_one("#results-head", Static).update(self.head(len(order)))

    def head(self, shown: int) -> Text:
        fixed = self.run.fixed
        label = dict((k, lab) for k, lab, _ in sort_keys(self.detector))[self.sort]
        state = (
            self.run.state
            if self.run.complete
            else (f"indexing {100 * self.scan_done // max(1, self.scan_total)} %")
        )
        line1 = Text.assemble(
            ("eval run ", Style(bold=True)),
            safe_name(str(self.run.folder)),
            f" · {fixed.get('model', '?')} {fixed.get('method', '?')} · "
            f"{len(self.run):,} rows ({state}) · {shown:,} shown",
        )
        line2 = Text(
            f"mode {self.mode or 'all'} · ε {self.eps or 'all'} · detector "
            f"{self.detector or '– (no scores)'} · {self.verdict} · sort {label} "
            f"{'↓' if self.descending else '↑'} · ● = flagged at 5 % FPR · e: ε · u: reload",
            Style(dim=True),
        )
        head = Text("\n").join([line1, line2])
        head.no_wrap, head.overflow = True, "ellipsis"  # each line cut, never wrapped
        return head

    # ------------------------------------------------------------------ actions
    def action_sort(self) -> None:
        keys = sort_keys(self.detector)
        names = [k for k, _, _ in keys]
        i = names.index(self.sort) if self.sort in names else 0
        self.sort, _, self.descending = keys[(i + 1) % len(keys)]
        self.refresh_rows()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.refresh_rows()

    def action_mode(self) -> None:
        self.mode = _next([None, *self.run.modes], self.mode)
        self.refresh_rows()

    def action_eps(self) -> None:
        self.eps = _next([None, *self.run.eps_list], self.eps)
        self.refresh_rows()

    def action_detector(self) -> None:
        n = len(self.run.detectors)
        if n:
            self.det = (self.det + 1) % n
            self.refresh_rows()

    def action_verdict(self) -> None:
        if not self.run.detectors:
            say(self.app, "no detector scores in this run (no summary yet)", timeout=4)
            return
        self.verdict = _next(list(VERDICTS), self.verdict)
        self.refresh_rows()

    def action_histogram(self) -> None:
        from advtui.tui.plotdata import PlotScreen

        self.app.push_screen(PlotScreen(self.run, "histogram", self.eps))

    def action_roc(self) -> None:
        from advtui.tui.plotdata import PlotScreen

        self.app.push_screen(PlotScreen(self.run, "roc", self.eps))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        """A run still running: index the rows added since; once its summary exists, open
        the run anew (with its scores)."""
        from advtui.eval.browse import SUMMARY

        if self.run.summary is None and (self.run.folder / SUMMARY).is_file():
            self.dismiss(None)
            app: Any = self.app  # the explorer (AdvtuiApp) keeps the open run
            app.results_screen = None
            app.call_later(show_results, app)
            return
        self.scan()

    def on_run_table_opened(self, message: RunTable.Opened) -> None:
        from advtui.tui.evalrow import open_row

        self.dismiss(None)
        self.app.call_later(open_row, self.app, self.run, message.index)


def say(app: Any, text: str, **kw: Any) -> None:
    """A notification through the explorer's ``say`` (names escaped, never markup)."""
    app.say(text, **kw)


def _next(values: Sequence, current):
    i = values.index(current) if current in values else -1
    return values[(i + 1) % len(values)]


def run_folder(app: Any) -> Path | None:
    """The eval run the explorer knows: ``advtui OUT``, else ``--detector OUT`` when OUT is a
    run folder (detector.json beside results.jsonl)."""
    from advtui.eval.browse import is_run_folder

    if app.config.run is not None:
        return Path(app.config.run)
    det = app.config.detector
    if det and is_run_folder(det):
        return Path(det)
    return None


def class_namer(app: Any, run: RunIndex):
    """Class index → name: as the run's rows name it, else the loaded model's names, the
    built-in ImageNet names for a built-in model, else ``class N``."""
    from advtui.settings import MODEL_NAMES

    def name(i: int) -> str:
        if i in run.class_names:
            return run.class_names[i]
        names = app.state.model.class_names if app.state.model is not None else None
        if names is None and run.fixed.get("model") in MODEL_NAMES:
            from advtui.imagenet import imagenet_classes

            names = imagenet_classes()
        return str(names[i]) if names is not None and 0 <= i < len(names) else f"class {i}"

    return name


def show_results(app: Any) -> None:
    """Open (or return to) the results view of the run the explorer knows; one line if none
    or if it cannot be read."""
    from advtui.eval.browse import RunError, open_run

    folder = run_folder(app)
    if folder is None:
        app.say(
            "no eval run: start `advtui OUT` or `advtui --detector OUT` on an eval output folder",
            title="results",
            severity="warning",
        )
        return
    screen = app.results_screen
    if screen is None or screen.run.folder != folder:
        try:
            run = open_run(folder)
        except RunError as exc:
            app.say(str(exc), title="eval run", severity="error", timeout=10)
            return
        if app.config.run is not None and Path(app.config.folder) == folder:
            where = safe_name(str(run.params.get("folder") or "?"))
            app.say(
                f"the run's photos ({where}) are not found from here: Enter cannot show rows",
                title="eval run",
                severity="warning",
                timeout=8,
            )
        if app.is_screen_installed(RESULTS_SCREEN):
            app.uninstall_screen(RESULTS_SCREEN)
        screen = app.results_screen = ResultsScreen(run, class_namer(app, run))
        app.install_screen(screen, RESULTS_SCREEN)  # kept when closed: sort, filters, cursor
    if screen not in app.screen_stack:
        app.push_screen(RESULTS_SCREEN)


RESULTS_SCREEN = "eval-results"
