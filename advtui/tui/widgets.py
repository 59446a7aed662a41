"""The explorer's widgets: confidence and evidence tables, colour scale, status line, key footer
(the image list is :mod:`advtui.tui.imagelist`).

Widgets take plain data through methods (attributes down) and post their own nested messages
(``ImageList.Selected``) up; none of them reaches into a sibling. User data (file names, class
labels) is put into :class:`rich.text.Text` objects or escaped, never parsed as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import Footer, Static

from advtui.explain.evidence import Evidence
from advtui.render import heatmap_rgb

if TYPE_CHECKING:
    from textual.screen import Screen


class Row(Horizontal):
    """A borderless horizontal container. ``BLANK`` lets Textual paint its (fully covered)
    background with blank strips instead of styling every line: a full redraw costs ~5 ms less
    at 160×50. Containers with a border or title (``#legend``) must stay plain."""

    BLANK = True


class Column(Vertical):
    """A borderless vertical container, painted blank like :class:`Row`."""

    BLANK = True


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
    "KeyFooter",
    "Row",
    "StatusLine",
    "escape",
    "progress_text",
]
