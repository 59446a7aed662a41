"""The explorer's widgets: image list, confidence and evidence tables, colour scale, status line.

Widgets take plain data through methods (attributes down) and post their own nested messages
(``ImageList.Selected``) up; none of them reaches into a sibling. User data (file names, class
labels) is put into :class:`rich.text.Text` objects or escaped, never parsed as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import Footer, Static

from advtui.explain.evidence import Evidence
from advtui.names import safe_name
from advtui.render import heatmap_rgb

if TYPE_CHECKING:
    from textual.screen import Screen

#: Marks in the image list.
MARK_PENDING = "·"
MARK_FAILED = "✗"
MARK_ATTACKED = "●"
MARK_MISSED = "○"
MARK_PLAIN = " "

_MARK_STYLE = {
    MARK_PENDING: "dim",
    MARK_FAILED: "bold red",
    MARK_ATTACKED: "bold magenta",
    MARK_MISSED: "yellow",
    MARK_PLAIN: "",
}


class Row(Horizontal):
    """A borderless horizontal container. ``BLANK`` lets Textual paint its (fully covered)
    background with blank strips instead of styling every line: a full redraw costs ~5 ms less
    at 160×50. Containers with a border or title (``#legend``) must stay plain."""

    BLANK = True


class Column(Vertical):
    """A borderless vertical container, painted blank like :class:`Row`."""

    BLANK = True


class ImageList(ScrollView, can_focus=True):
    """The folder's files, drawn line by line (only the rows on screen), so 50,000 files cost
    what 15 do. Each row: a one-cell mark (· not read yet, ✗ failed to load, ● attacked
    (success), ○ attack missed, blank: readable and not attacked), the name (relative path in
    a tree), and in a labelled tree the true class with ✓/✗ once the model has predicted it.

    The App gives the list its items once (:meth:`set_items`, objects with ``rel``,
    ``folder``, ``truth``, ``verdict``) and says when it grew (:meth:`grew`) or a row changed
    (:meth:`set_mark`, :meth:`refresh_item`); the cursor stays on its row as the list grows.
    ``/`` filters by name or class as you type (Enter keeps the filter, Esc clears it);
    :meth:`set_wrong_only` shows only the misclassified rows (✗; the App's ``w``);
    ``g``/``G`` and Home/End jump to the first/last row.
    """

    DEFAULT_CSS = """
    ImageList { overflow-x: hidden; }
    ImageList > .image-list--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
    }
    ImageList:focus > .image-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    ImageList > .image-list--folder { color: $text-muted; }
    ImageList > .image-list--truth { color: $text-muted; }
    ImageList > .image-list--filter { background: $panel; color: $text; }
    """
    COMPONENT_CLASSES = {
        "image-list--cursor",
        "image-list--folder",
        "image-list--truth",
        "image-list--filter",
    }
    BINDINGS = [
        Binding("slash", "start_filter", "filter", key_display="/"),
        Binding("g,home", "first", "first", show=False),
        Binding("G,end", "last", "last", show=False),
        Binding("pageup", "page_up", "page up", show=False),
        Binding("pagedown", "page_down", "page down", show=False),
        Binding("down", "cursor_down", "next", show=False),
        Binding("up", "cursor_up", "previous", show=False),
    ]

    @dataclass
    class Selected(Message):
        """The highlighted image changed (``index`` into the App's items)."""

        index: int

    @dataclass
    class Viewed(Message):
        """Other rows came on screen (scrolled, resized, grew): a burst collapses into one."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ImageList.Viewed)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._items: list = []
        self._shown: list[int] | None = None  # item indices matching the filter (None: all)
        self._count = 0  # items known to the list (the App's list may be ahead)
        self.cursor = 0  # row of the cursor in the shown rows
        self.filter = ""
        self.filtering = False  # typing into the filter
        self.wrong_only = False  # only the misclassified rows (verdict ✗)
        self._truth_width = 0
        self._posted: int | None = None  # the item last announced as Selected

    # ------------------------------------------------------------------ data in

    def set_items(self, items: list) -> None:
        """Show ``items`` (the App's list, shared: call :meth:`grew` when it grows)."""
        self._items, self._count, self.cursor, self._posted = items, 0, 0, None
        self._shown = None if not self._filtered else []
        self._truth_width = 0
        self.grew()

    def set_names(self, names: list[str]) -> None:
        """Plain names (no App): a convenience for simple uses and tests."""
        from types import SimpleNamespace

        self.set_items(
            [
                SimpleNamespace(rel=n, folder="", truth="", verdict="", mark=MARK_PENDING)
                for n in names
            ]
        )
        if names:
            self.highlighted = 0

    def grew(self) -> None:
        """The items list grew: show the new rows; the cursor stays on its row."""
        old, new = self._count, len(self._items)
        if new == old:
            return
        self._count = new
        width = self._truth_width
        for item in self._items[old:new]:
            if item.truth and len(item.truth) > width:
                width = len(item.truth)
        self._truth_width = width
        self.set_class(width > 0, "-classes")
        if self._shown is not None:
            self._shown.extend(i for i in range(old, new) if self._matches(self._items[i]))
        self._update_size()
        self.refresh()
        if old < int(self.scroll_offset.y) + self.size.height:
            self.post_message(self.Viewed())

    def refresh_item(self, index: int) -> None:
        """Item ``index`` changed (mark, class, verdict): repaint its row if on screen."""
        if 0 <= index < self._count:
            truth = self._items[index].truth
            if truth and len(truth) > self._truth_width:
                self._truth_width = len(truth)
                self.refresh()
                return
            row = self._row_of(index)
            if row is not None:
                self.refresh_line(row)

    def refresh_all(self) -> None:
        """Many items changed (e.g. their classes became known)."""
        self._truth_width = max((len(i.truth) for i in self._items[: self._count]), default=0)
        self.set_class(self._truth_width > 0, "-classes")
        if self._shown is not None:
            self._apply_filter(keep=self.highlighted)
        self.refresh()

    def set_mark(self, index: int, mark: str) -> None:
        if 0 <= index < self._count and getattr(self._items[index], "mark", None) != mark:
            self._items[index].mark = mark
            self.refresh_item(index)

    def mark(self, index: int) -> str:
        return getattr(self._items[index], "mark", MARK_PENDING)

    # ------------------------------------------------------------------ what is shown

    @property
    def rows(self) -> int:
        """Rows shown (after the filter)."""
        return self._count if self._shown is None else len(self._shown)

    def item_at(self, row: int) -> int:
        return row if self._shown is None else self._shown[row]

    @property
    def highlighted(self) -> int | None:
        """Index (into the items) of the row under the cursor, ``None`` before anything was
        selected or when no row shows."""
        if self._posted is None or not 0 <= self.cursor < self.rows:
            return None
        return self.item_at(self.cursor)

    @highlighted.setter
    def highlighted(self, index: int | None) -> None:
        if index is None:
            return
        row = self._row_of(index)
        if row is None and self._shown is not None:  # filtered out: drop the filter
            self.clear_filter()
            row = self._row_of(index)
        if row is not None:
            self.move_to(row)

    def visible_items(self) -> list[int]:
        """Indices of the items on screen (for reading their marks)."""
        top = int(self.scroll_offset.y)
        bottom = min(self.rows, top + max(1, self.scrollable_content_region.height))
        return [self.item_at(r) for r in range(top, bottom)]

    def row_text(self, index: int) -> Text:
        """The text of item ``index``'s row (mark, name, class, verdict), unstyled by cursor."""
        return self._row_text(self._items[index], max(10, self.scrollable_content_region.width))

    def _row_of(self, index: int) -> int | None:
        if self._shown is None:
            return index if 0 <= index < self._count else None
        import bisect

        pos = bisect.bisect_left(self._shown, index)
        return pos if pos < len(self._shown) and self._shown[pos] == index else None

    def _update_size(self) -> None:
        self.virtual_size = Size(
            0,  # rows fit the width (names are elided): never a horizontal scrollbar
            self.rows + (1 if self.filtering or self._filtered else 0),
        )

    # ------------------------------------------------------------------ drawing

    def _row_text(self, item, width: int) -> Text:
        mark = getattr(item, "mark", MARK_PENDING)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(mark, _MARK_STYLE.get(mark, ""))
        text.append(" ")
        truth_w = min(self._truth_width, max(0, width // 2 - 2)) if self._truth_width else 0
        name_w = width - 2 - (truth_w + 3 if truth_w else 0)
        rel = item.rel
        # the class column names an ImageNet folder: show the file name only
        if (
            truth_w
            and item.folder
            and rel.endswith("/" + rel.rsplit("/", 1)[-1])
            and item.folder == rel.rsplit("/", 2)[-2]
        ):
            folder, name = "", rel.rsplit("/", 1)[-1]
        elif "/" in rel:
            folder, name = rel.rsplit("/", 1)
            folder += "/"
        else:
            folder, name = "", rel
        folder, name = safe_name(folder), safe_name(name)
        room = max(1, name_w)
        if cell_len(folder) + cell_len(name) > room:  # keep the file name's distinctive end
            if cell_len(name) + 2 <= room:
                folder = _head(folder, room - cell_len(name) - 1) + "…"
            else:
                folder, name = "", _middle(name, room)
        label = Text(
            folder, style=self.get_component_rich_style("image-list--folder", partial=True)
        )
        label.append(name)
        label.truncate(room, overflow="ellipsis", pad=True)
        text.append_text(label)
        if truth_w:
            truth = Text(
                " " + safe_name(item.truth),
                style=self.get_component_rich_style("image-list--truth", partial=True),
            )
            truth.truncate(truth_w + 1, overflow="ellipsis", pad=True)
            text.append_text(truth)
            verdict = item.verdict
            text.append(" ")
            text.append(verdict or " ", "bold green" if verdict == "✓" else "bold red")
        return text

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if (self.filtering or self._filtered) and y == self.scrollable_content_region.height - 1:
            prompt = ("✗ only " if self.wrong_only else "") + (
                f"/{self.filter}" + ("▏" if self.filtering else "")
                if self.filter or self.filtering
                else ""
            )
            info = f" {self.rows}/{self._count}"
            line = Text(prompt, no_wrap=True, overflow="ellipsis")
            line.truncate(max(1, width - len(info)), overflow="ellipsis", pad=True)
            line.append(info, "dim")
            style = self.get_component_rich_style("image-list--filter")
            return (
                Strip(line.render(self.app.console))
                .crop_extend(0, width, base + style)
                .apply_style(base + style)
            )
        row = int(self.scroll_offset.y) + y
        if not 0 <= row < self.rows:
            return Strip.blank(width, base)
        text = self._row_text(self._items[self.item_at(row)], width)
        style = base
        if row == self.cursor and self._posted is not None:
            style = base + self.get_component_rich_style("image-list--cursor")
        strip = Strip(text.render(self.app.console), text.cell_len)
        return strip.crop_extend(0, width, style).apply_style(style)

    def on_resize(self) -> None:
        self._update_size()
        self.post_message(self.Viewed())

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.post_message(self.Viewed())

    # ------------------------------------------------------------------ moving

    def move_to(self, row: int) -> None:
        n = self.rows
        if n == 0:
            return
        row = max(0, min(n - 1, row))
        if row == self.cursor and self._posted == self.item_at(row):
            return
        old = self.cursor
        self.cursor = row
        self.refresh_line(old - int(self.scroll_offset.y))
        self._moved()

    def _moved(self) -> None:
        height = max(
            1,
            self.scrollable_content_region.height - (1 if self.filtering or self._filtered else 0),
        )
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh_line(self.cursor - int(self.scroll_offset.y))
        index = self.item_at(self.cursor) if 0 <= self.cursor < self.rows else None
        if index is not None and index != self._posted:
            self._posted = index
            self.post_message(self.Selected(index))

    def refresh_line(self, y: int) -> None:
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self.rows - 1)

    def action_page_down(self) -> None:
        self.move_to(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_page_up(self) -> None:
        self.move_to(self.cursor - max(1, self.scrollable_content_region.height - 1))

    def on_click(self, event) -> None:
        row = int(self.scroll_offset.y) + event.y
        if 0 <= row < self.rows:
            self.move_to(row)

    # ------------------------------------------------------------------ filter

    @property
    def _filtered(self) -> bool:
        return bool(self.filter) or self.wrong_only

    def _matches(self, item) -> bool:
        if self.wrong_only and getattr(item, "verdict", "") != "✗":
            return False
        f = self.filter.lower()
        return f in item.rel.lower() or (bool(item.truth) and f in item.truth.lower())

    def _apply_filter(self, keep: int | None) -> None:
        if not self._filtered:
            self._shown = None
        else:
            self._shown = [i for i in range(self._count) if self._matches(self._items[i])]
        row = self._row_of(keep) if keep is not None else None
        self.cursor = row if row is not None else 0
        self._update_size()
        self.refresh()
        if self.rows:
            self._moved()

    def action_start_filter(self) -> None:
        self.filtering = True
        self._update_size()
        self.refresh()

    def clear_filter(self) -> None:
        keep = self.highlighted
        self.filter, self.filtering, self.wrong_only = "", False, False
        self._apply_filter(keep)

    def set_wrong_only(self, on: bool) -> None:
        """Show only the misclassified rows (✗), or every row again (with the text filter)."""
        keep = self.highlighted
        self.wrong_only = on
        self._apply_filter(keep)

    def verdict_changed(self, index: int) -> None:
        """Item ``index`` got its ✓/✗: repaint it; with ``wrong_only``, it joins or leaves."""
        if self.wrong_only and index < self._count:
            shown = self._row_of(index) is not None
            if shown != self._matches(self._items[index]):
                self._apply_filter(keep=self.highlighted)
                return
        self.refresh_item(index)

    def set_filter(self, text: str) -> None:
        """Show only the rows whose name or class contains ``text`` (case-insensitive)."""
        keep = self.highlighted
        self.filter = text
        self._apply_filter(keep)

    def on_key(self, event) -> None:
        if not self.filtering:
            return
        key = event.key
        if key == "escape":
            self.clear_filter()
        elif key == "enter":
            self.filtering = False
            self._update_size()
            self.refresh()
        elif key == "backspace":
            self.set_filter(self.filter[:-1])
        elif event.is_printable and event.character:
            self.set_filter(self.filter + event.character)
        elif key in ("down", "up", "pageup", "pagedown", "home", "end"):
            return  # moving through the matches while typing
        else:
            return
        event.stop()
        event.prevent_default()


def _head(text: str, width: int) -> str:
    """The first ``width`` cells of ``text``."""
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _middle(text: str, width: int) -> str:
    """``text`` in ``width`` cells with its middle elided (``ILSVRC…00000293.JPEG``)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = _head(text, (width - 1) // 3)
    tail = _head(text[::-1], width - 1 - cell_len(head))[::-1]
    return head + "…" + tail


def _bar(prob: float, width: int) -> Text:
    """A horizontal bar of ``width`` cells with eighth-block resolution."""
    eighths = round(max(0.0, min(1.0, prob)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return Text(text.ljust(width))


def pct(p: float) -> str:
    """A probability with one decimal: ``53.7%``; ``>99.9%`` / ``<0.1%`` when it would round to
    100.0% / 0.0% without being exactly 1 / 0 (at most 6 characters)."""
    p = float(p)
    if p >= 1.0:
        return "100.0%"
    if p <= 0.0:
        return "0.0%"
    if p >= 0.9995:
        return ">99.9%"
    if p < 0.0005:
        return "<0.1%"
    return f"{p:.1%}"


class CachedRender(Widget):
    """A widget whose Rich content is rendered to strips once per change, not per repaint.

    Subclasses implement :meth:`build` (the renderable for a content width) and call
    :meth:`changed` when their data changes. A repaint with unchanged data, size and style (the
    screen coming back from a dialog, a theme-independent neighbour resizing, a full redraw)
    then serves cached strips through the Line API instead of laying out a Rich table again;
    the strips are exactly what Textual would have rendered from :meth:`render`.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._version = 0
        self._cache_key: tuple | None = None
        self._cache: list[Strip] = []

    def build(self, width: int) -> RenderableType:
        """What to show at ``width`` cells; subclasses say (the base shows nothing)."""
        return Text()

    def changed(self, layout: bool = False) -> None:
        """The data changed: render again on the next repaint."""
        self._version += 1
        self.refresh(layout=layout)

    def render(self) -> RenderableType:
        return self.build(self.size.width)

    def _strips(self, width: int) -> list[Strip]:
        style = self.visual_style
        key = (self._version, width, style, self.text_selection)
        if key != self._cache_key:
            visual = visualize(self, self.build(width), markup=False)
            self._cache = Visual.to_strips(self, visual, width, None, style)
            self._cache_key = key
        return self._cache

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._strips(width)) if width > 0 else 0

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        strips = self._strips(width)
        if 0 <= y < len(strips):
            return strips[y]
        return Strip.blank(width, self.visual_style.rich_style)


class ConfidenceTable(CachedRender):
    """Top-5 on the clean image beside top-5 on the adversarial image, with bars."""

    DEFAULT_CSS = "ConfidenceTable { height: auto; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clean: list[dict] = []
        self.adversarial: list[dict] = []
        self.target: int | None = None
        self.note = ""

    def set_rows(
        self,
        clean: list[dict] | None,
        adversarial: list[dict] | None,
        target: int | None = None,
        note: str = "",
    ) -> None:
        self.clean, self.adversarial = list(clean or []), list(adversarial or [])
        self.target, self.note = target, note
        self.changed(layout=True)

    def build(self, width: int) -> Table:
        width = max(20, width)
        bar_w = 0 if width < 70 else 6 if width < 90 else 12
        # narrow: no bar column; the bar is drawn as a background behind the label instead
        label_w = max(4, (width - 6 - 12) // 2) if not bar_w else None
        table = Table(box=None, padding=(0, 1), expand=True, show_edge=False, pad_edge=False)
        for title in ("clean", "adversarial" if width >= 60 else "adv."):
            # a label longer than its column wraps at a space: words are never cut
            table.add_column(title, ratio=1, no_wrap=False, overflow="fold", style="bold")
            table.add_column("", justify="right", width=6, no_wrap=True)
            if bar_w:
                table.add_column("", width=bar_w, no_wrap=True)
        clean_top = self.clean[0]["index"] if self.clean else None
        for i in range(5):
            cells: list[Text | str] = []
            for side, rows in (("clean", self.clean), ("adversarial", self.adversarial)):
                colour = "magenta" if side == "adversarial" else "cyan"
                if i < len(rows):
                    r = rows[i]
                    style = ""
                    if side == "adversarial" and r["index"] == self.target:
                        style = "green"
                    elif side == "adversarial" and r["index"] == clean_top:
                        style = "yellow"
                    label = Text(r["label"], style=style)
                    if label_w:
                        filled = round(max(0.0, min(1.0, r["prob"])) * label_w)
                        label.pad_right(max(0, filled - len(label)))
                        label.stylize(_BAR_BG[side], 0, filled)
                    cells += [label, Text(pct(r["prob"]), style=colour)]
                    if bar_w:
                        cells.append(_bar_text(r["prob"], bar_w, colour))
                else:
                    placeholder = self.note if (side == "adversarial" and i == 0) else ""
                    cells += [Text(placeholder, style="dim italic"), ""]
                    cells += [""] if bar_w else []
            table.add_row(*cells)
        return table


_BAR_BG = {"clean": Style(bgcolor="#1d4650"), "adversarial": Style(bgcolor="#55204a")}


def _bar_text(prob: float, width: int, colour: str) -> Text:
    bar = _bar(prob, width)
    bar.stylize(colour)
    return bar


class EvidenceTable(CachedRender):
    """The Evidence record (SHAP, IG …) for the clean and adversarial top classes, side by side.

    With a detector loaded (``headers`` given) the columns are the clean input, the plain
    attack's adversarial and the adaptive attack's adversarial, each with the detector's
    P(adversarial) in the last row; a column not run yet shows its placeholder."""

    DEFAULT_CSS = "EvidenceTable { height: auto; }"

    ROWS = ("class", "mean", "+ mass", "− mass", "top-5% share", "logit · prob")
    #: Row names when three columns share a narrow table.
    SHORT = {"top-5% share": "top-5%", "logit · prob": "logit·p", "detector": "P(adv)"}

    @staticmethod
    def cell(row: str, e: Evidence, narrow: bool, verdict: float | None = None) -> Text | str:
        if row == "class":
            return Text(e.label, style="bold")
        if row == "mean":
            return f"{e.mean_shap:+.2e}"
        if row == "+ mass":
            return f"{e.pos_sum:+.3f}"
        if row == "− mass":
            return f"{e.neg_sum:+.3f}"
        if row == "top-5% share":
            return f"{e.top5_share:.1%}"
        if row == "logit · prob":
            return f"{e.logit:.1f}·{pct(e.prob)}" if narrow else f"{e.logit:.2f} · {pct(e.prob)}"
        return _verdict(verdict, narrow)  # "detector"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.columns: dict[str, Evidence] = {}
        self.verdicts: dict[str, float] = {}
        self.headers: dict[str, str] = {}
        self.placeholders: dict[str, str] = {}
        self.note = ""
        self.detector = False

    def set_columns(
        self,
        columns: dict[str, Evidence] | None,
        note: str = "",
        detector: bool = False,
        verdicts: dict[str, float] | None = None,
        headers: dict[str, str] | None = None,
        placeholders: dict[str, str] | None = None,
    ) -> None:
        """Evidence per column and, with a detector loaded, its P(adversarial) per column.

        Without ``headers`` the columns are ``clean``/``adversarial``; ``headers`` (column →
        title, in order) names others, e.g. ``clean``/``adversarial``/``adaptive`` with the
        plain method as the second title; ``placeholders`` (column → text, one line per row
        from the class row down) fill columns without evidence."""
        self.columns, self.note, self.detector = dict(columns or {}), note, detector
        self.verdicts = dict(verdicts or {})
        self.headers = dict(headers or {})
        self.placeholders = dict(placeholders or {})
        self.changed(layout=True)

    def build(self, width: int) -> RenderableType:
        empty = not self.columns
        table = Table(
            box=None,
            padding=(0, 1),
            expand=True,
            show_edge=False,
            pad_edge=False,
            show_header=not empty,
        )
        keys = list(self.headers) or ["clean", "adversarial"]
        three = len(keys) > 2
        # two columns: narrow values below 40 cells; three: narrow values and short row names
        # below 64 cells ("P(adversarial)" itself only below 50)
        narrow = width < 40 or (three and width < 64)
        short = three and width < 64
        short_p = three and width < 50
        table.add_column("", style="dim", no_wrap=True)
        # values never end in "…": a class label wraps at a space, numbers are short
        for key in keys:
            title = self.headers.get(key, key)
            if key == "adversarial" and not three and narrow:
                title = "adv."
            table.add_column(  # a Text: a method name is never markup
                Text(title, style="bold"), ratio=1, no_wrap=False, overflow="fold", justify="right"
            )
        rows = list(self.ROWS) + (["detector"] if self.detector else [])
        # a column not run yet: its hint from the class row down, one line a row ("press m" /
        # "→ adaptive" / "then e"), so it reads top to bottom without widening the column
        hints = {k: v.splitlines() for k, v in self.placeholders.items()}
        for i, row in enumerate(rows):
            # the detector's number is a probability: the row says so (the border says whose)
            name = "P(adversarial)" if row == "detector" else row
            terse = short_p if row == "detector" else short
            cells: list[Text | str] = [self.SHORT.get(row, name) if terse else name]
            for key in keys:
                e = self.columns.get(key)
                if e is not None:
                    cells.append(self.cell(row, e, narrow, self.verdicts.get(key)))
                elif key in hints and (row == "detector" or i < len(hints[key])):
                    # the hint where the label would be; a plain dash where the number would
                    text = "—" if row == "detector" else hints[key][i]
                    cells.append(Text(text, style="dim italic"))
                else:
                    cells.append("")
            table.add_row(*cells)
        if empty:  # the note takes the header's line, so the height does not change
            return Group(
                Text(self.note, style="dim italic", no_wrap=True, overflow="ellipsis"), table
            )
        return table


def _verdict(verdict: float | None, narrow: bool = False) -> Text:
    if verdict is None:
        return Text("—", style="dim")
    adversarial = verdict >= 0.5
    word = ("adv" if narrow else "adversarial") if adversarial else "clean"
    return Text(f"{word} {verdict:.2f}", style="bold red" if adversarial else "bold green")


class ColorScale(CachedRender):
    """SHAP's colour scale: blue = against, white ≈ 0, red = for, with the value at full colour
    (under ``NO_COLOR``: light = against, mid-grey ≈ 0, dark = for)."""

    DEFAULT_CSS = "ColorScale { height: 2; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale: float | None = None

    def on_resize(self) -> None:
        self.changed()  # one or two lines

    def set_scale(self, scale: float | None) -> None:
        if scale != self.scale:
            self.scale = scale
            self.changed()

    def build(self, width: int) -> Text:
        width = max(10, width)
        mono = bool(getattr(self.app, "no_color", False))  # NO_COLOR: the grey scale
        ramp = heatmap_rgb(
            np.linspace(-1, 1, width, dtype=np.float32)[None, :], scale=1.0, mono=mono
        )[0]
        bar = Text()
        for r, g, b in ramp:
            bar.append(" ", Style(bgcolor=f"rgb({r},{g},{b})"))
        value = f"±{self.scale:.2g}" if self.scale else ""
        left, right = ("◀ against", "for ▶") if not mono else ("◀ light: against", "dark: for ▶")
        gap = max(1, width - len(left) - len(right) - len(value))
        legend = Text.assemble(
            (left, "bold" if mono else "#008bfb"),  # monochrome would grey the red out
            " " * (gap // 2),
            (value, "dim"),
            " " * (gap - gap // 2),
            (right, "bold" if mono else "#ff0051"),
        )
        if self.size.height == 1:  # one line: the legend written over the ramp
            legend.pad_right(width - len(legend))
            legend.stylize("bold #000000")
            for i, (r, g, b) in enumerate(ramp):
                ink = "#ffffff" if mono and int(g) < 128 else None  # readable on dark grey
                legend.stylize(Style(color=ink, bgcolor=f"rgb({r},{g},{b})"), i, i + 1)
            return legend
        return Text("\n").join([bar, legend])


class StatusLine(Static):
    """One line: model, device, method, ε, steps, target mode, and the running job's progress."""

    DEFAULT_CSS = "StatusLine { height: auto; }"


def progress_text(label: str, done: int, total: int, width: int = 20) -> Text:
    """``label ▕███████░░░░░▏ done/total`` for the status line."""
    frac = done / total if total else 0.0
    filled = round(frac * width)
    return Text.assemble(
        (f"{label} ", "bold"),
        ("▕", "dim"),
        ("█" * filled, "green"),
        ("░" * (width - filled), "dim"),
        ("▏", "dim"),
        f" {done}/{total}",
    )


class KeyFooter(Footer):
    """Textual's Footer, recomposed only when the keys it shows change, and never cut.

    Textual's Footer rebuilds all its key widgets whenever the screen says its bindings may
    have changed (focus moves, the app's check_action results are refreshed): three of the
    five rebuilds while the explorer starts showed the same keys, and each costs a few ms of
    CSS work per key (a new key widget also toggles its ``-compact`` class twice on mount).

    Textual's Footer also draws every key in one line and cuts the line at the terminal's
    edge (``… c class s sav`` at 80×24). This one shows the keys that fit whole: the actions
    in ``keep`` first (help, which lists every key, and cancel), then the others in their
    binding order until the line is full; the rest are left to the help screen. The keys
    shown keep their binding order."""

    def __init__(self, *args, keep: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shown: tuple | None = None  # (key, description, enabled, tooltip) last composed
        self.keep = keep
        #: the actions of the keys left out for want of room (the help screen lists them)
        self.hidden: tuple[str, ...] = ()
        self._keys: list[tuple[str, str, str]] | None = None  # (action, key, text) composed
        self._compact = False

    def _forget_removed_keys(self) -> None:
        """Drop the watchers of key widgets a rebuild removed. Textual's Footer binds every key
        to its ``compact`` reactive (``data_bind``), which adds a watcher to the footer that is
        pruned only when ``compact`` changes — never, here — so each rebuild leaked its dozen
        key widgets (with their styles and message queues): thousands over a long session
        (issue 22). A rebuild removes the old keys before composing the new ones, so every
        watcher whose widget is no longer attached is one of them."""
        watchers = getattr(self, "__watchers", None)  # textual.reactive._watch keeps them here
        if not isinstance(watchers, dict):
            return
        for entries in watchers.values():
            if isinstance(entries, list):
                entries[:] = [
                    (node, cb) for node, cb in entries if getattr(node, "is_attached", True)
                ]

    def bindings_changed(self, screen: Screen) -> None:
        shown = tuple(
            (binding.key, binding.description, enabled, tooltip)
            for _node, binding, enabled, tooltip in screen.active_bindings.values()
            if binding.show
        )
        live = screen.app.app_focus and self.is_attached and screen is self.screen
        if live and shown == self.shown:
            return  # the same keys are on screen, or will be after the rebuild under way
        if live:
            self.shown = shown
        super().bindings_changed(screen)

    def key_width(self, key_display: str, description: str) -> int:
        """Cells one key takes, its margin included (Footer's CSS, compact or not)."""
        if self.compact:  # key, a space, the description, then a margin of one
            return cell_len(key_display) + 1 + cell_len(description) + 1
        return cell_len(key_display) + 2 + cell_len(description) + 1  # padded key and text

    def _room(self) -> int:
        return self.size.width or self.app.size.width

    def _left_out(self, keys: list[tuple[str, str, str]], room: int) -> set[int]:
        """Indices of the (action, key, description) ``keys`` that do not fit in ``room``."""
        first = [a for a in self.keep if any(k[0] == a for k in keys)]
        order = [i for a in first for i, k in enumerate(keys) if k[0] == a]
        order += [i for i, k in enumerate(keys) if k[0] not in self.keep]
        used, dropped = 0, set()
        for i in order:
            w = self.key_width(keys[i][1], keys[i][2])
            if used + w - 1 <= room:  # the last key's margin may fall off the edge
                used += w
            else:
                dropped.add(i)
        return dropped

    def compose(self):
        self._forget_removed_keys()
        children = list(super().compose())
        widgets = [c for c in children if hasattr(c, "key_display") and hasattr(c, "action")]
        self._keys = [(k.action, k.key_display, k.description) for k in widgets]
        self._compact = bool(self.compact)
        dropped = self._left_out(self._keys, self._room())
        self.hidden = tuple(self._keys[i][0] for i in sorted(dropped))
        gone = {id(widgets[i]) for i in dropped}
        yield from (c for c in children if id(c) not in gone)

    async def _refit(self) -> None:
        """Recompose when the keys that fit are no longer those shown (a resize, compact)."""
        keys = self._keys
        if keys is None:
            return
        dropped = self._left_out(keys, self._room())
        if tuple(keys[i][0] for i in sorted(dropped)) != self.hidden or (
            self._compact != bool(self.compact)
        ):
            await self.recompose()

    async def on_resize(self) -> None:
        await self._refit()

    async def watch_compact(self, compact: bool) -> None:
        await self._refit()


__all__ = [
    "CachedRender",
    "ColorScale",
    "Column",
    "ConfidenceTable",
    "EvidenceTable",
    "ImageList",
    "KeyFooter",
    "Row",
    "StatusLine",
    "escape",
    "progress_text",
]
