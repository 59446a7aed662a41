"""An eval run's rows in the explorer: ``advtui OUT`` (or ``r`` with ``--detector OUT``).

:class:`ResultsScreen` shows :class:`RunTable`, a virtual table (only the rows on screen are
drawn, each read from its byte offset in results.jsonl when first shown), over a
:class:`advtui.eval.browse.RunIndex` that a thread worker indexes in batches: the first rows
are on screen after the first 64 kB, whatever the run's size. Keys sort and filter (target
mode, ε, the focused detector, missed only / false alarms only); Enter reproduces the row
in the explorer (:mod:`advtui.tui.evalrow`); ``h`` and ``c`` open the plots
(:class:`PlotScreen`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from advtui.eval.browse import VERDICTS, RunIndex, view_order
from advtui.names import safe_name

MISS = "#d70000"  # a wrong verdict: a missed attack or a false alarm (xterm 160)
HIT = "#00af00"  # a caught attack (xterm 34)


class RunScanned(Message):
    """The worker indexed more of results.jsonl (collapses: a burst is one repaint)."""

    def __init__(self, done: int, total: int, final: bool = False) -> None:
        super().__init__()
        self.done, self.total, self.final = done, total, final

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunScanned) and not message.final


@dataclass
class Col:
    key: str
    header: str
    width: int
    priority: int  # lower = kept first when the terminal is narrow
    right: bool = False


def _pct(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(f) else f"{100 * f:.1f}%"


def _cls(name: Any, conf: Any, width: int) -> str:
    if name is None:
        return "–"
    c = _pct(conf)
    name = safe_name(str(name))
    room = max(1, width - len(c) - 1)
    return (name if len(name) <= room else name[: room - 1] + "…") + " " + c


class RunTable(ScrollView, can_focus=True):
    """The rows of ``order`` (indices into the run), one line each, a header on top."""

    DEFAULT_CSS = """
    RunTable { height: 1fr; }
    """

    class Opened(Message):
        """Enter on a row: ``index`` is its line of results.jsonl."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, run: RunIndex, class_name: Callable[[int], str], **kw: Any) -> None:
        super().__init__(**kw)
        self.run = run
        self.class_name = class_name
        self.order = np.zeros(0, dtype=np.int64)
        self.score = np.zeros((0, 0))
        self.caught = np.zeros((0, 0), dtype=np.int8)
        self.det = 0
        self.cursor = 0
        self._cols: list[Col] = []

    # ------------------------------------------------------------------ data
    def set_rows(
        self, order: np.ndarray, score: np.ndarray, caught: np.ndarray, focus: int
    ) -> None:
        keep = int(self.order[self.cursor]) if 0 <= self.cursor < len(self.order) else None
        self.order, self.score, self.caught, self.det = order, score, caught, focus
        if keep is not None:
            where = np.flatnonzero(order == keep)
            self.cursor = int(where[0]) if len(where) else min(self.cursor, max(0, len(order) - 1))
        self.cursor = min(self.cursor, max(0, len(order) - 1))
        self.virtual_size = Size(self.size.width, len(order) + 1)
        self._fit_columns()
        self.refresh()

    @property
    def current(self) -> int | None:
        """The line of results.jsonl under the cursor."""
        return int(self.order[self.cursor]) if 0 <= self.cursor < len(self.order) else None

    def _all_columns(self) -> list[Col]:
        cols = [
            Col("photo", "photo", 18, 0),
            Col("view", "view", 4, 6),
            Col("mode", "mode", 10, 1),
            Col("eps", "ε", 6, 2),
            Col("ok", "ok", 2, 3),
            Col("clean", "clean class", 18, 5),
            Col("adv", "adversarial class", 18, 2),
            Col("shap", "mean SHAP", 9, 4, right=True),
        ]
        for j, d in enumerate(self.run.detectors):
            cols.append(Col(f"det:{j}", d[:9], 9, 3 if j == self.det else 7 + j, right=True))
        return cols

    def _fit_columns(self) -> None:
        width = max(20, self.size.width or 80)
        cols = self._all_columns()
        chosen, used = set(), 0
        for c in sorted(cols, key=lambda c: c.priority):
            if used + c.width + 1 <= width:
                chosen.add(c.key)
                used += c.width + 1
        self._cols = [c for c in cols if c.key in chosen]

    def on_resize(self) -> None:
        self._fit_columns()
        self.virtual_size = Size(self.size.width, len(self.order) + 1)

    # ------------------------------------------------------------------ drawing
    def _cells(self, i: int) -> dict[str, Text | str]:
        row = self.run.row(i)
        if not row:
            return {"photo": Text(f"line {i + 1}: not a result row", Style(color=MISS))}
        adv = row.get("variant") != "clean"
        out: dict[str, Text | str] = {
            "photo": safe_name(str(row.get("group") or row.get("image") or "?")),
            "view": safe_name(str(row.get("view", ""))),
            "mode": safe_name(str(row.get("variant", ""))),
            "eps": str(row.get("eps_255") or "–"),
            "ok": "–" if row.get("success") is None else ("✓" if row["success"] else "✗"),
        }
        if row.get("status") not in (None, "ok", "attack-failed"):
            out["ok"] = Text("!", Style(color=MISS))
        if adv:
            label = row.get("label")
            out["clean"] = _cls(
                None if label is None else self.class_name(int(label)),
                row.get("clean_confidence"),
                18,
            )
            out["adv"] = _cls(row.get("pred_label"), row.get("confidence"), 18)
        else:
            out["clean"] = _cls(row.get("pred_label"), row.get("confidence"), 18)
            out["adv"] = "–"
        ms = (row.get("evidence") or {}).get("mean_shap")
        out["shap"] = "–" if ms is None else f"{float(ms):+.2e}"
        for j in range(self.score.shape[1] if i < len(self.score) else 0):
            s, got = self.score[i, j], int(self.caught[i, j])
            if not math.isfinite(s):
                out[f"det:{j}"] = "–"
                continue
            flag = "●" if got == 1 else "·"
            wrong = (got == 0) if adv else (got == 1)
            colour = MISS if wrong else (HIT if adv else None)
            out[f"det:{j}"] = Text(f"{s:.3f} {flag}", Style(color=colour, bold=wrong))
        return out

    def _line(self, cells: dict[str, Text | str], style: Style | None = None) -> Text:
        t = Text(style=style or Style())
        for c in self._cols:
            v = cells.get(c.key, "")
            v = v if isinstance(v, Text) else Text(v)
            v = v.copy()
            v.truncate(c.width, overflow="ellipsis")
            pad = c.width - v.cell_len
            t += (Text(" " * pad) + v) if c.right else (v + Text(" " * pad))
            t += " "
        return t

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            head = {c.key: c.header for c in self._cols}
            line = self._line(head, Style(bold=True, underline=True))
        else:
            pos = y - 1 + self.scroll_offset.y
            if pos >= len(self.order):
                return Strip.blank(width)
            line = self._line(self._cells(int(self.order[pos])))
            if pos == self.cursor:
                line.stylize(Style(reverse=True))
        line.truncate(width, pad=True)
        return Strip(line.render(self.app.console), width)

    # ------------------------------------------------------------------ moving
    def _move(self, to: int) -> None:
        if not len(self.order):
            return
        self.cursor = max(0, min(len(self.order) - 1, to))
        top, rows = self.scroll_offset.y, max(1, self.size.height - 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False)
        self.refresh()

    def action_down(self) -> None:
        self._move(self.cursor + 1)

    def action_up(self) -> None:
        self._move(self.cursor - 1)

    def action_page_down(self) -> None:
        self._move(self.cursor + max(1, self.size.height - 2))

    def action_page_up(self) -> None:
        self._move(self.cursor - max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self.order) - 1)

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.Opened(self.current))

    BINDINGS = [
        Binding("j,down", "down", "down", show=False),
        Binding("k,up", "up", "up", show=False),
        Binding("pagedown", "page_down", show=False),
        Binding("pageup", "page_up", show=False),
        Binding("g,home", "first", show=False),
        Binding("G,end", "last", show=False),
        Binding("enter", "open", "open row"),
    ]


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

    BINDINGS = [
        Binding("s", "sort", "sort"),
        Binding("o", "reverse", "order"),
        Binding("m", "mode", "mode"),
        Binding("e", "eps", "ε", show=False),
        Binding("d", "detector", "detector"),
        Binding("f", "verdict", "filter"),
        Binding("h", "histogram", "histogram"),
        Binding("c", "roc", "ROC"),
        Binding("escape,r", "close", "explorer", key_display="esc"),
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
        self.scan_total = 0
        self._scores: tuple[np.ndarray, np.ndarray] | None = None
        self._scored_for: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="results-head")
        yield RunTable(self.run, self.class_name, id="results-table")
        yield Footer()

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
        try:
            self.run.scan(stop, lambda d, t: self.post_message(RunScanned(d, t)))
        except Exception as exc:  # noqa: BLE001 - one line, the screen stays
            from advtui.tui.state import one_line

            self.app.call_from_thread(
                say, self.app, one_line(exc), title="eval run", severity="error"
            )
        self.post_message(RunScanned(self.run.scanned_bytes, self.run.scanned_bytes, final=True))

    def on_run_scanned(self, message: RunScanned) -> None:
        self.scan_done, self.scan_total = message.done, message.total
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
            f"{'↓' if self.descending else '↑'} · ● flagged at 5 % FPR",
            Style(dim=True),
        )
        return line1 + Text("\n") + line2

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
        self.app.push_screen(PlotScreen(self.run, "histogram", self.eps))

    def action_roc(self) -> None:
        self.app.push_screen(PlotScreen(self.run, "roc", self.eps))

    def action_close(self) -> None:
        self.dismiss(None)

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


class PlotScreen(Screen[None]):
    """The evidence histogram or the detectors' ROC curves, one panel per target mode (as
    many side by side as fit; ``m`` pages through the rest)."""

    BINDINGS = [
        Binding("m", "page", "next mode"),
        Binding("h", "kind('histogram')", "histogram"),
        Binding("c", "kind('roc')", "ROC"),
        Binding("escape", "close", "rows", key_display="esc"),
        Binding("q", "quit", "quit"),
    ]

    async def action_quit(self) -> None:
        await self.app.action_quit()

    def __init__(self, run: RunIndex, kind: str, eps: str | None = None) -> None:
        super().__init__()
        self.run, self.kind = run, kind
        self.eps = eps or run.primary_eps
        self.page = 0

    def compose(self) -> ComposeResult:
        yield Static(id="plot")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self.draw)

    def on_resize(self) -> None:
        self.call_after_refresh(self.draw)

    def panels(self) -> list[str]:
        modes = list(self.run.modes)
        return modes + (["pooled"] if self.kind == "roc" and len(modes) > 1 else [])

    def draw(self) -> None:
        from advtui.tui.plotdata import histogram_panel, roc_panel

        plot = self.query_one("#plot", Static)
        width = max(40, self.size.width or self.app.size.width)
        height = max(10, (self.size.height or self.app.size.height) - 2)  # title, footer
        names = self.panels()
        fit = max(1, min(len(names), width // 56)) if names else 1
        start = (self.page * fit) % max(1, len(names)) if names else 0
        shown = names[start : start + fit]
        w = (width - 2 * (len(shown) - 1)) // max(1, len(shown))
        draw = histogram_panel if self.kind == "histogram" else roc_panel
        from advtui.tui.plots import side_by_side

        panels = [draw(self.run, m, self.eps, w, height - 1) for m in shown]
        more = (
            f" · m: next ({start + 1}–{start + len(shown)} of {len(names)})"
            if len(names) > fit
            else ""
        )
        what = (
            "mean-evidence histogram"
            if self.kind == "histogram"
            else "out-of-fold ROC, folds pooled"
        )
        title = Text(f"{what} · ε {self.eps}{more}", Style(dim=True))
        lines = [title, *side_by_side(panels, w)] if panels else [title, Text("(no target modes)")]
        if self.app.console.color_system in ("256", "standard"):
            from advtui.tui.plots import to_palette

            lines = to_palette(lines)
        plot.update(Text("\n").join(lines))

    def action_page(self) -> None:
        self.page += 1
        self.draw()

    def action_kind(self, kind: str) -> None:
        self.kind, self.page = kind, 0
        self.draw()

    def action_close(self) -> None:
        self.dismiss(None)


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
        names = app.model.class_names if app.model is not None else None
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
        if app.is_screen_installed(RESULTS_SCREEN):
            app.uninstall_screen(RESULTS_SCREEN)
        screen = app.results_screen = ResultsScreen(run, class_namer(app, run))
        app.install_screen(screen, RESULTS_SCREEN)  # kept when closed: sort, filters, cursor
    if screen not in app.screen_stack:
        app.push_screen(RESULTS_SCREEN)


RESULTS_SCREEN = "eval-results"
