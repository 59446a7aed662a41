"""The live terminal display of ``advtui eval``: the progress line (redrawn in a terminal, a
line every 30 s in a log), the Rich live view with one line per worker, notes on their own
line, and the tables printed when the run ends. The parser and the command are
:mod:`advtui.cli.eval`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


def duration(seconds: float) -> str:
    """H:MM:SS with unbounded hours (a 40-hour ImageNet run must not read 16:00:00)."""
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Rows done / total with an ETA on stderr: redrawn in a terminal, else a line every 30 s.

    The rate is rows finished *in this run* over the time since its first call (which
    :func:`~advtui.eval.loop.run_eval` makes before any work): rows a ``--resume`` loaded
    count toward the bar, never toward the rate, and no ETA is shown until a row has been
    timed. ``clock`` is injectable for tests.
    """

    def __init__(self, stream=None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.clock = clock
        self.start: tuple[int, float] | None = None  # (rows done, time) at the first call
        self.last_line: float | None = None
        self.open_line = False  # a redrawn (terminal) line without its newline yet
        self.snap: dict | None = None  # the run's last progress snapshot (status)
        self.phase_shown: str | None = "rows"  # the phase a log line last announced
        self.rows_ended = False  # the log has the line of the last row

    def status(self, snap: dict) -> None:
        """Take the run's progress snapshot (images/min, workers) for the next line; in a log,
        a line for each phase after the rows as it starts."""
        self.snap = snap
        if not self.tty and phase_line(snap, self.phase_shown):
            self.phase_shown = snap.get("phase")
            self.stream.write(phase_line(snap, None) + "\n")
            self.last_line = self.clock()
            self.stream.flush()

    def extra(self) -> str:
        """``  12.5 images/min  2/2 workers busy`` from the snapshot ('' before one)."""
        snap = self.snap or {}
        text = ""
        if snap.get("images_per_min") is not None:
            text += f"  {snap['images_per_min']:.1f} images/min"
        workers = snap.get("workers") or []
        if len(workers) > 1:
            busy = sum(w.get("state") == "working" for w in workers)
            text += f"  {busy}/{len(workers)} workers busy"
        return text

    def end_line(self) -> None:
        """Finish a redrawn progress line, so what is printed next starts on its own line."""
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False

    def eta(self, done: int, total: int, now: float) -> float | None:
        """Seconds left at the rate of this run's rows, or None before one is timed."""
        if self.start is None:
            return None
        base, t0 = self.start
        if done <= base or now <= t0:
            return None
        return (total - done) * (now - t0) / (done - base)

    def __call__(self, done: int, total: int, what: str) -> None:
        from advtui.names import safe_name

        now = self.clock()
        first = self.start is None
        if first:
            self.start = (done, now)
        eta = self.eta(done, total, now)
        eta_s = "--:--" if eta is None else duration(eta)
        width = 24
        filled = int(width * done / max(total, 1))
        line = (
            f"eval [{'#' * filled}{' ' * (width - filled)}] {done}/{total} rows  ETA {eta_s}"
            f"{self.extra()}  {safe_name(what)}"
        )
        if self.tty:
            import shutil

            cols = max(20, shutil.get_terminal_size().columns - 1)
            self.stream.write("\r" + line[:cols].ljust(cols))
            self.open_line = True
            if done >= total:
                self.end_line()
        elif self.phase_shown != "rows":  # after the rows: the phase, every 30 s
            if self.last_line is None or now - self.last_line >= 30:
                self.stream.write(phase_line(self.snap or {}, None) + "\n")
                self.last_line = now
        elif (
            first
            or (done >= total and not self.rows_ended)  # once, not at every phase's tick
            or self.last_line is None
            or now - self.last_line >= 30
        ):
            self.rows_ended = done >= total
            self.stream.write(line + "\n")
            self.last_line = now
        self.stream.flush()


def phase_line(snap: dict, shown: str | None) -> str:
    """``eval: detectors 00:00:12: pooled (3 of 3): detector 5 of 5 mahalanobis, fold 2 of 5``
    for a snapshot in a phase after the rows other than ``shown`` ('' in the rows or in
    ``shown``)."""
    from advtui.names import safe_name

    phase = snap.get("phase")
    if phase in (None, "rows", shown):
        return ""
    took = snap.get("phase_elapsed_seconds")
    head = f"eval: {phase}" + ("" if took is None else f" {duration(took)}")
    return f"{head}: {safe_name(str(snap.get('last') or ''))}"


def note_line(progress: Progress) -> Callable[[str], None]:
    """A note on its own stderr line (never glued to the progress line), names escaped."""
    from advtui.names import safe_name

    def note(line: str) -> None:
        progress.end_line()
        progress.stream.write(f"advtui eval: note: {safe_name(line)}\n")
        progress.stream.flush()

    return note


class LiveProgress(Progress):
    """Rich progress for a terminal: a bar with rows, images, images/min and ETA, the last
    row, and one line per worker (its host/pid, device, state, rows and current batch)."""

    #: redraws at most this often (seconds), plus the first and the last
    EVERY = 0.25

    def __init__(self, stream=None, clock: Callable[[], float] = time.monotonic) -> None:
        import threading

        super().__init__(stream, clock)
        self.live: Any = None  # rich.live.Live while drawing
        self.counts: tuple[int, int, str, float | None] = (0, 0, "", None)  # ETA in seconds
        self.drawn: float | None = None
        self.lock = threading.Lock()

    def __call__(self, done: int, total: int, what: str) -> None:
        now = self.clock()
        if self.start is None:
            self.start = (done, now)
        self.counts = (done, total, what, self.eta(done, total, now))
        self.draw(force=done >= total)

    def status(self, snap: dict) -> None:
        self.snap = snap
        self.draw()

    def draw(self, force: bool = False) -> None:
        from rich.console import Console
        from rich.live import Live

        with self.lock:
            now = self.clock()
            if not force and self.drawn is not None and now - self.drawn < self.EVERY:
                return
            self.drawn = now
            if self.live is None:
                console = Console(file=self.stream, highlight=False)
                self.live = Live(
                    console=console,
                    auto_refresh=False,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self.live.start()
            self.live.update(self.render(), refresh=True)
            self.open_line = True

    def render(self):
        from rich.console import Group
        from rich.markup import escape
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        from advtui.names import safe_name

        done, total, what, eta = self.counts
        snap = self.snap or {}
        images = snap.get("images") or {}
        head = Table.grid(padding=(0, 1))
        cells = [Text("eval"), ProgressBar(total=max(total, 1), completed=done, width=24)]
        facts = f"{done}/{total} rows"
        if images:
            facts += f"  {images.get('done', 0)}/{images.get('total', 0)} images"
        ipm = snap.get("images_per_min")
        facts += f"  {'--' if ipm is None else f'{ipm:.1f}'} images/min"
        facts += f"  ETA {'--:--' if eta is None else duration(eta)}"
        cells.append(Text(facts))
        for _ in cells:
            head.add_column(no_wrap=True)
        head.add_row(*cells)
        phase = snap.get("phase") or "rows"
        took = snap.get("phase_elapsed_seconds")
        label = "last" if phase == "rows" else f"{phase} {duration(took or 0)}"
        if phase != "rows":  # the snapshot's phase and line belong together
            what = str(snap.get("last") or what)
        lines = [head, Text(f"  {label}: {safe_name(what)}", overflow="ellipsis", no_wrap=True)]
        for w in snap.get("workers") or []:
            where = ":".join(str(w[k]) for k in ("host", "pid") if w.get(k) is not None)
            parts = [
                f"  worker {w.get('id')}",
                where,
                str(w.get("device") or ""),
                f"{w.get('threads')} threads" if w.get("threads") else "",
                str(w.get("state") or ""),
                f"{w.get('rows', 0)} rows",
                str(w.get("batch") or "") if w.get("state") == "working" else "",
                str(w.get("last") or ""),
            ]
            text = "  ".join(escape(safe_name(p)) for p in parts if p)
            lines.append(Text.from_markup(text, overflow="ellipsis"))
        return Group(*lines)

    def end_line(self) -> None:
        with self.lock:
            if self.live is not None:
                self.live.update(self.render(), refresh=True)
                self.live.stop()
                self.live = None
                self.drawn = None
            self.open_line = False


def print_results(result, out: str) -> None:
    """The tables of a finished run (stdout) and its notes and warnings (stderr)."""
    from rich.console import Console

    from advtui.eval.plots import terminal_histogram
    from advtui.eval.report import detector_table, summary_table, sweep_table
    from advtui.eval.tables import similarity_table
    from advtui.names import safe_name

    err = Console(stderr=True, highlight=False)
    console = Console(highlight=False)
    if not console.is_terminal:  # a log or a pipe: do not squeeze the tables into 80 columns
        console = Console(highlight=False, width=132)
    if result.dropped_partial:
        err.print("note: dropped a partial last line of results.jsonl (an interrupted write)")
    spread = console.width >= 120  # ± columns need the room; summary.json always has them
    console.print(summary_table(result.summary, spread))
    console.print(detector_table(result.summary))
    if result.summary.get("adaptive"):
        from advtui.eval.adaptive_report import adaptive_table

        console.print(adaptive_table(result.summary))
        for entry in result.summary["adaptive"].values():
            console.print(entry["verdict"], markup=False)
    for name, v in result.summary["variants"].items():
        t = v.get("transfer")
        if t:
            rate = t["success_rate_of_successful"]
            console.print(
                f"transfer to {t['model']} — {name}: {t['success_rate']:.0%} of attacked images "
                f"fool it" + ("" if rate is None else f" ({rate:.0%} of the successful ones)"),
                markup=False,
            )
    if len(result.summary["sweep"]) > 1:
        console.print(sweep_table(result.summary, spread))
    console.print(
        terminal_histogram(result.store.rows, result.config, summary=result.summary), markup=False
    )
    if (result.summary.get("target_similarity") or {}).get("bins"):
        console.print(similarity_table(result.summary))
    imgs = result.summary["images"]
    console.print(
        f"{imgs['evaluated']} images from {imgs['photos']} photos"
        + (f", {imgs['misclassified']} misclassified (skipped)" if imgs["misclassified"] else "")
        + (f", {imgs['unreadable']} unreadable" if imgs["unreadable"] else "")
        + _unlabelled(result.summary)
        + f"; wrote {', '.join(p.name for p in result.written.values())} and results.jsonl, "
        f"features.npz in {safe_name(out)}/",
        markup=False,
    )
    for warning in result.summary["warnings"]:  # last, one line each, never wrapped
        sys.stderr.write(f"advtui eval: warning: {safe_name(warning)}\n")
    sys.stderr.flush()


def _unlabelled(summary: dict) -> str:
    """``, 2 unlabelled (not evaluated)`` when the labels file left photos out."""
    n = summary.get("labels", {}).get("unlabelled", 0)
    return f", {n} unlabelled (not evaluated)" if n else ""
