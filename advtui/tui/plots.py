"""Plots drawn in cells: the clean vs adversarial evidence histogram and ROC curves.

Half-block rendering (``▀``/``▄``/``█``: two pixels a cell, foreground over background), the
explorer's picture technique, with character markers and labels on top. Every colour is an
exact entry of the xterm 256-colour palette (matplotlib's tab10 snapped to it), so a
256-colour terminal shows the same plot as a truecolour one — nothing to dither, no colour
shifted to a neighbour that looks like another series. docs/tui.md says why this over a
plotting widget.

Plain Rich (no Textual): each function returns one :class:`rich.text.Text` per terminal row,
``width`` cells wide, for any size from 40×12 up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Text

CLEAN = "#0087af"  # xterm 31 (matplotlib C0 #1f77b4)
ADV = "#d70000"  # xterm 160 (matplotlib C3 #d62728)
BOTH = "#875faf"  # xterm 97: clean and adversarial bars overlap
AXIS = "#808080"  # xterm 244
GUIDE = "#585858"  # xterm 240: the diagonal and the 5 % FPR line
#: ROC curve colours, in order: matplotlib's tab10 snapped to xterm-256 entries.
CURVES = ("#0087af", "#ff8700", "#00af00", "#d70000", "#875faf", "#875f5f", "#d787d7")
N_BINS = 20  # as histogram.png


def _paint(grid: list[list[str | None]]) -> list[Text]:
    """Pixel rows (top first, an even count) of colours or None → one Text per cell row."""
    out = []
    for r in range(0, len(grid) - 1, 2):
        top, bottom = grid[r], grid[r + 1]
        t = Text()
        for u, d in zip(top, bottom, strict=True):
            if u is None and d is None:
                t.append(" ")
            elif u == d:
                t.append("█", Style(color=u))
            elif d is None:
                t.append("▀", Style(color=u))
            elif u is None:
                t.append("▄", Style(color=d))
            else:
                t.append("▀", Style(color=u, bgcolor=d))
        out.append(t)
    return out


def _fmt(v: float) -> str:
    return f"{v:.1e}".replace("e-0", "e-").replace("e+0", "e+")


def _ticks(width: int, labels: Sequence[tuple[float, str]]) -> Text:
    """A row of labels, each centred at its fraction of ``width`` (kept inside it)."""
    row = [" "] * width
    for frac, s in labels:
        start = min(max(0, round(frac * (width - 1)) - len(s) // 2), max(0, width - len(s)))
        if all(c == " " for c in row[max(0, start - 1) : start + len(s) + 1]):
            row[start : start + len(s)] = s
    return Text("".join(row)[:width], Style(color=AXIS))


def _frame(body: list[Text], ylabels: dict[int, str], width: int) -> tuple[list[Text], int]:
    """Left y axis with labels at some rows; returns (rows, axis width)."""
    lw = max((len(s) for s in ylabels.values()), default=1)
    rows = []
    for i, line in enumerate(body):
        lab = ylabels.get(i, "")
        tick = "┤" if i in ylabels else "│"
        rows.append(Text(f"{lab:>{lw}}{tick}", Style(color=AXIS)) + line)
    return rows, lw + 1


def histogram_lines(
    clean: np.ndarray,
    adv: np.ndarray,
    width: int,
    height: int,
    *,
    title: str,
    xlabel: str,
    n_bins: int = N_BINS,
) -> list[Text]:
    """``height`` rows: the title, a legend, the bars (clean, adversarial, purple where they
    overlap — as histogram.png's translucent bars), the x axis, its ticks and label."""
    from advtui.eval.plots import bin_edges

    clean, adv = np.asarray(clean, float), np.asarray(adv, float)
    legend = Text.assemble(
        ("█", CLEAN),
        f" clean (n={len(clean)})  ",
        ("█", ADV),
        f" adversarial (n={len(adv)})  ",
        ("█", BOTH),
        " both",
    )
    head = [Text(title, Style(bold=True)), legend]
    head = [t[:width] if len(t) > width else t for t in head]
    rows_left = max(2, height - len(head) - 3)
    if not len(clean) and not len(adv):
        return head + [Text("(no rows)")] + [Text("")] * (height - len(head) - 1)
    edges = bin_edges(clean, adv, n_bins)
    hc, _ = np.histogram(clean, edges)
    ha, _ = np.histogram(adv, edges)
    top = int(max(1, hc.max(initial=0), ha.max(initial=0)))
    lw = len(str(top)) + 1
    per = max(1, (width - lw) // n_bins)
    plot_w = per * n_bins
    px = 2 * rows_left
    c_px = np.round(px * hc / top).astype(int)
    a_px = np.round(px * ha / top).astype(int)
    grid: list[list[str | None]] = [[None] * plot_w for _ in range(px)]
    for b in range(n_bins):
        for k in range(px):  # k pixels up from the bottom
            inc, ina = k < c_px[b], k < a_px[b]
            colour = BOTH if inc and ina else CLEAN if inc else ADV if ina else None
            if colour is not None:
                for x in range(b * per, (b + 1) * per):
                    grid[px - 1 - k][x] = colour
    mid = rows_left // 2
    ylabels = {0: str(top), rows_left - 1: "0"}
    if top >= 2 and 0 < mid < rows_left - 1:
        ylabels[mid] = str(round(top * (rows_left - mid - 0.5) / rows_left))
    body, lw = _frame(_paint(grid), ylabels, width)
    axis = Text(" " * (lw - 1) + "└" + "─" * plot_w, Style(color=AXIS))
    ticks = Text(" " * lw) + _ticks(
        plot_w,
        [(0.0, _fmt(edges[0])), (0.5, _fmt((edges[0] + edges[-1]) / 2)), (1.0, _fmt(edges[-1]))],
    )
    label = Text(" " * lw) + Text(xlabel[:plot_w].center(plot_w), Style(color=AXIS))
    return head + body + [axis, ticks, label]


@dataclass
class Curve:
    """One detector's out-of-fold ROC curve and its 5 %-FPR point."""

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float | None
    point: tuple[float, float] | None  # (FPR, TPR) at the 5 %-FPR threshold


def _line(grid, x0, y0, x1, y1, colour, every: int = 1) -> None:
    """A straight segment of pixels (y up from the bottom), every ``every``-th pixel."""
    h = len(grid)
    n = max(abs(x1 - x0), abs(y1 - y0), 1)
    for i in range(0, n + 1, every):
        x = round(x0 + (x1 - x0) * i / n)
        y = round(y0 + (y1 - y0) * i / n)
        if 0 <= y < h and 0 <= x < len(grid[0]):
            grid[h - 1 - y][x] = colour


def roc_lines(curves: Sequence[Curve], width: int, height: int, *, title: str) -> list[Text]:
    """``height`` rows: the title, the curves (FPR across, TPR up; dotted diagonal, dashed
    5 % FPR line, ``●`` at each detector's 5 %-FPR point), the axes and one legend row per
    detector (AUC of the pooled out-of-fold scores, TPR at 5 % FPR), as roc.png."""
    legend = []
    for i, c in enumerate(curves):
        colour = CURVES[i % len(CURVES)]
        auc = "–" if c.auc is None else f"{c.auc:.2f}"
        tpr = "–" if c.point is None else f"{c.point[1]:.2f}"
        legend.append(Text.assemble(("━━ ", colour), f"{c.name}  AUC {auc}  TPR@5% {tpr}")[:width])
    rows_left = max(3, height - 1 - 3 - len(legend))
    plot_w = max(10, width - 5)
    px = 2 * rows_left
    grid: list[list[str | None]] = [[None] * plot_w for _ in range(px)]
    _line(grid, 0, 0, plot_w - 1, px - 1, GUIDE, every=2)
    x5 = round(0.05 * (plot_w - 1))
    _line(grid, x5, 0, x5, px - 1, GUIDE, every=2)
    marks: dict[tuple[int, int], str] = {}
    for i, c in enumerate(curves):
        colour = CURVES[i % len(CURVES)]
        xs = np.round(np.asarray(c.fpr) * (plot_w - 1)).astype(int)
        ys = np.round(np.asarray(c.tpr) * (px - 1)).astype(int)
        for j in range(1, len(xs)):
            _line(grid, xs[j - 1], ys[j - 1], xs[j], ys[j], colour)
        if c.point is not None:
            x = round(c.point[0] * (plot_w - 1))
            y = round(c.point[1] * (px - 1))
            marks[(rows_left - 1 - y // 2, x)] = colour
    body = _paint(grid)
    for (r, x), colour in marks.items():
        body[r] = body[r][:x] + Text("●", Style(color=colour, bold=True)) + body[r][x + 1 :]
    ylabels = {0: "1.0", rows_left // 2: "0.5", rows_left - 1: "0.0"}
    body, lw = _frame(body, ylabels, width)
    axis = Text(" " * (lw - 1) + "└" + "─" * plot_w, Style(color=AXIS))
    ticks = Text(" " * lw) + _ticks(plot_w, [(0.0, "0"), (0.5, "0.5"), (1.0, "1")])
    label = Text(" " * lw) + Text(
        "false positive rate (clean flagged)"[:plot_w].center(plot_w), Style(color=AXIS)
    )
    head = Text.assemble(
        (title, Style(bold=True)), ("  TPR (adversarial caught) ↑ · ┆ 5 % FPR", Style(color=AXIS))
    )[:width]
    return [head, *body, axis, ticks, label, *legend]


def side_by_side(panels: Sequence[list[Text]], width: int, gap: int = 2) -> list[Text]:
    """Panels (lists of rows) next to each other, each padded to ``width`` cells."""
    n = max((len(p) for p in panels), default=0)
    rows = []
    for i in range(n):
        t = Text()
        for j, p in enumerate(panels):
            cell = p[i].copy() if i < len(p) else Text("")
            cell.truncate(width, pad=True)
            t += cell
            if j < len(panels) - 1:
                t += " " * gap
        rows.append(t)
    return rows


def to_palette(lines: Sequence[Text]) -> list[Text]:
    """The same rows with every colour as its xterm-256 palette number (a 256-colour
    terminal gets the exact entry; the colours here are palette entries already)."""
    from rich.color import ColorSystem

    def fix(style: Style | str) -> Style | str:
        if isinstance(style, str):
            return style
        return style + Style.from_color(
            style.color.downgrade(ColorSystem.EIGHT_BIT) if style.color else None,
            style.bgcolor.downgrade(ColorSystem.EIGHT_BIT) if style.bgcolor else None,
        )

    out = []
    for line in lines:
        t = Text(line.plain, style=fix(line.style), end="")
        for span in line.spans:
            t.stylize(fix(span.style), span.start, span.end)
        out.append(t)
    return out
