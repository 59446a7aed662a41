"""The explorer's image list: the folder's files drawn line by line (only the rows on screen),
each with its mark, a type-to-filter line and the ``ImageList.Selected`` message it posts.
User data (file names) is put into :class:`rich.text.Text` objects or escaped, never parsed as
markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from advtui.names import safe_name

if TYPE_CHECKING:
    pass


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
        self._title_variants: Sequence[str] = ()
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
        self.fit_title()
        self.post_message(self.Viewed())

    def set_title_variants(self, variants: Sequence[str]) -> None:
        """The list's title, longest first: the longest that fits is shown, and chosen again
        when the list's width changes (it widens once true classes are known)."""
        self._title_variants = variants
        self.fit_title()

    def fit_title(self) -> None:
        variants = self._title_variants
        if not variants:
            return
        room = self.outer_size.width - 6 if self.outer_size.width else 10**6
        self.border_title = Text(next((v for v in variants if len(v) <= room), variants[-1]))

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
