"""The results view's virtual table: only the rows on screen are drawn, each read from its
byte offset in results.jsonl when shown (:meth:`advtui.eval.browse.RunIndex.row`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from advtui.eval.browse import RunIndex
from advtui.names import safe_name

MISS = "#d70000"  # a wrong verdict: a missed attack or a false alarm (xterm 160)
HIT = "#00af00"  # a caught attack (xterm 34)


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
    RunTable { height: 1fr; overflow-x: hidden; }
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
        width = max(20, self.scrollable_content_region.width or self.size.width or 80)
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

    def _line(self, cells: Mapping[str, Text | str], style: Style | None = None) -> Text:
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
        Binding("enter", "open", "open"),
    ]
