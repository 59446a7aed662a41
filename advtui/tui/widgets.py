"""The explorer's widgets: image list, confidence and evidence tables, colour scale, status line.

Widgets take plain data through methods (attributes down) and post their own nested messages
(``ImageList.Selected``) up; none of them reaches into a sibling. User data (file names, class
labels) is put into :class:`rich.text.Text` objects or escaped, never parsed as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from advtui.explain.evidence import Evidence
from advtui.render import heatmap_rgb

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


class ImageList(OptionList):
    """File names with a one-cell mark: · not read yet, ✗ failed to load, ● attacked (success),
    ○ attack missed, blank: readable and not attacked."""

    @dataclass
    class Selected(Message):
        """The highlighted image changed."""

        index: int

    def set_names(self, names: list[str]) -> None:
        self.clear_options()
        self.add_options(
            [Option(self._prompt(MARK_PENDING, n), id=str(i)) for i, n in enumerate(names)]
        )
        self._names = list(names)
        self._marks = [MARK_PENDING] * len(names)
        if names:
            self.highlighted = 0

    def set_mark(self, index: int, mark: str) -> None:
        marks = getattr(self, "_marks", [])
        if not 0 <= index < len(marks) or marks[index] == mark:
            return
        marks[index] = mark
        self.replace_option_prompt_at_index(index, self._prompt(mark, self._names[index]))

    def mark(self, index: int) -> str:
        return self._marks[index]

    @staticmethod
    def _prompt(mark: str, name: str) -> Text:
        return Text.assemble(
            (mark, _MARK_STYLE[mark]), " ", name, no_wrap=True, overflow="ellipsis"
        )

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.Selected(event.option_index))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()


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
                    cells += [Text(placeholder, style="dim italic"), ""] + ([""] if bar_w else [])
            table.add_row(*cells)
        return table


_BAR_BG = {"clean": Style(bgcolor="#1d4650"), "adversarial": Style(bgcolor="#55204a")}


def _bar_text(prob: float, width: int, colour: str) -> Text:
    bar = _bar(prob, width)
    bar.stylize(colour)
    return bar


class EvidenceTable(CachedRender):
    """The Evidence record (SHAP, IG …) for the clean and adversarial top classes, side by side."""

    DEFAULT_CSS = "EvidenceTable { height: auto; }"

    ROWS = ("class", "mean", "+ mass", "− mass", "top-5% share", "logit · prob")

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
        self.note = ""
        self.detector = False

    def set_columns(
        self,
        columns: dict[str, Evidence] | None,
        note: str = "",
        detector: bool = False,
        verdicts: dict[str, float] | None = None,
    ) -> None:
        """Evidence per side (``clean``/``adversarial``), and with a detector loaded its
        P(adversarial) per side."""
        self.columns, self.note, self.detector = dict(columns or {}), note, detector
        self.verdicts = dict(verdicts or {})
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
        narrow = width < 40
        table.add_column("", style="dim", no_wrap=True)
        # values never end in "…": a class label wraps at a space, numbers are short
        table.add_column("clean", ratio=1, no_wrap=False, overflow="fold", justify="right")
        table.add_column(
            "adv." if narrow else "adversarial",
            ratio=1,
            no_wrap=False,
            overflow="fold",
            justify="right",
        )
        rows = list(self.ROWS) + (["detector"] if self.detector else [])
        for row in rows:
            # the detector's number is a probability: the row says so (the border says whose)
            cells: list[Text | str] = ["P(adversarial)" if row == "detector" else row]
            for key in ("clean", "adversarial"):
                e = self.columns.get(key)
                verdict = self.verdicts.get(key)
                cells.append(self.cell(row, e, narrow, verdict) if e is not None else "")
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
    """SHAP's colour scale: blue = against, white ≈ 0, red = for, with the value at full colour."""

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
        ramp = heatmap_rgb(np.linspace(-1, 1, width, dtype=np.float32)[None, :], scale=1.0)[0]
        bar = Text()
        for r, g, b in ramp:
            bar.append(" ", Style(bgcolor=f"rgb({r},{g},{b})"))
        value = f"±{self.scale:.2g}" if self.scale else ""
        left, right = "◀ against", "for ▶"
        gap = max(1, width - len(left) - len(right) - len(value))
        legend = Text.assemble(
            (left, "#008bfb"),
            " " * (gap // 2),
            (value, "dim"),
            " " * (gap - gap // 2),
            (right, "#ff0051"),
        )
        if self.size.height == 1:  # one line: the legend written over the ramp
            legend.pad_right(width - len(legend))
            legend.stylize("bold #000000")
            for i, (r, g, b) in enumerate(ramp):
                legend.stylize(Style(bgcolor=f"rgb({r},{g},{b})"), i, i + 1)
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


__all__ = [
    "CachedRender",
    "ColorScale",
    "Column",
    "ConfidenceTable",
    "EvidenceTable",
    "ImageList",
    "Row",
    "StatusLine",
    "escape",
    "progress_text",
]
