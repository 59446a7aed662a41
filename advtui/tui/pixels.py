"""Half-block pixel art drawn through Textual's Line API from a cached array.

Each terminal cell shows two vertically stacked pixels: ``▀`` with the foreground colour set to
the upper pixel and the background colour to the lower one. The image is resized to the
widget's size (keeping its aspect ratio, see :func:`advtui.render.fit_size`) once per
(image, size) pair and turned into one :class:`~textual.strip.Strip` per row; ``render_line``
then only returns cached strips, so a repaint costs almost nothing (measured in
``benchmarks/tui.py``).

In a 256-colour (or 16-colour) terminal Textual would snap every truecolour cell to the nearest
palette entry, which posterises photos into blotches; there the picture is instead dithered to
xterm's fixed colours 16–255 (Floyd–Steinberg, :func:`advtui.render.dither_to_xterm`) and drawn
with those palette colours, once per (image, size) like the truecolour strips.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from rich.color import Color, ColorType
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from advtui.render import dither_to_xterm, fit_size

HALF_BLOCK = "▀"


_STYLES: dict[int, Style] = {}  # (top << 24 | bottom) → Style, shared by every PixelView
_STYLE_LIMIT = 200_000


def _color(rgb: int) -> Color:
    """A truecolour :class:`Color` for 0xRRGGBB (what ``Color.from_rgb`` builds, faster)."""
    return Color(
        "#%06x" % rgb,  # noqa: UP031 - measurably faster than an f-string here
        ColorType.TRUECOLOR,
        triplet=ColorTriplet(rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF),
    )


def _style(pair: int) -> Style:
    style = _STYLES.get(pair)
    if style is None:
        if len(_STYLES) > _STYLE_LIMIT:
            _STYLES.clear()
        style = Style.from_color(_color(pair >> 24), _color(pair & 0xFFFFFF))
        _STYLES[pair] = style
    return style


_PALETTE_BIT = 1 << 60  # marks a key of two xterm palette indices (not two RGB values)


def _style_palette(pair: int) -> Style:
    style = _STYLES.get(pair)
    if style is None:
        if len(_STYLES) > _STYLE_LIMIT:
            _STYLES.clear()
        style = Style(
            color=Color.from_ansi((pair >> 8) & 0xFF), bgcolor=Color.from_ansi(pair & 0xFF)
        )
        _STYLES[pair] = style
    return style


def half_block_rows(rgb: np.ndarray, palette: int = 0) -> list[list[Segment]]:
    """Segments for an (H, W, 3) uint8 array, two pixel rows per text row (H is made even).

    With ``palette`` 256 (or 16) the picture is first error-diffused onto xterm's colours
    16–255 (or 0–15) and drawn with those palette colours; with 0 in truecolour. Runs of cells
    with the same colours become one segment; styles are cached by colour pair.
    """
    if rgb.shape[0] % 2:
        rgb = np.concatenate([rgb, rgb[-1:]], axis=0)
    if palette:
        idx = dither_to_xterm(rgb, palette).astype(np.int64)
        pairs = _PALETTE_BIT | (idx[0::2] << 8) | idx[1::2]
        style_of = _style_palette
    else:
        a = rgb.astype(np.int64)
        packed = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]  # (H, W) 0xRRGGBB
        pairs = (packed[0::2] << 24) | packed[1::2]  # (H/2, W) top << 24 | bottom
        style_of = _style
    rows: list[list[Segment]] = []
    for row in pairs.tolist():
        segments: list[Segment] = []
        append = segments.append
        run_key, run_len = row[0], 0
        for key in row:
            if key == run_key:
                run_len += 1
            else:
                append(Segment(HALF_BLOCK * run_len, style_of(run_key)))
                run_key, run_len = key, 1
        append(Segment(HALF_BLOCK * run_len, style_of(run_key)))
        rows.append(segments)
    return rows


class PixelView(Widget):
    """Shows a PIL image as half-block pixel art fitted to the widget, or a centred message."""

    DEFAULT_CSS = """
    PixelView {
        width: 1fr;
        height: 1fr;
    }
    PixelView > .pixel-view--message {
        color: $text-muted;
    }
    """
    COMPONENT_CLASSES = {"pixel-view--message"}

    def __init__(
        self,
        image: Image.Image | None = None,
        message: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._image = image
        self._message = message
        self._strips: list[Strip] | None = None
        self._built_for: tuple[int, int] = (0, 0)
        self._palette: int | None = None

    @property
    def palette(self) -> int:
        """The palette pictures are dithered to: 256 or 16 colours, or 0 for truecolour. Set
        explicitly, or (by default) from the app's colour system."""
        if self._palette is not None:
            return self._palette
        try:
            system = self.app.console.color_system
        except Exception:  # noqa: BLE001 - no app yet
            return 0
        return {"256": 256, "standard": 16, "windows": 16}.get(system or "", 0)

    @palette.setter
    def palette(self, value: int | None) -> None:
        self._palette = value
        self._strips = None
        self.refresh()

    @property
    def image(self) -> Image.Image | None:
        return self._image

    @property
    def message(self) -> str:
        return self._message

    def show(self, image: Image.Image | None, message: str = "") -> None:
        """Display ``image`` (or ``message`` when it is None); repaints only on change."""
        if image is self._image and message == self._message:
            return
        self._image, self._message = image, message
        self._strips = None
        self.refresh()

    def on_resize(self) -> None:
        self._strips = None
        self._fit_title()
        self.refresh()

    def set_titles(self, variants: list) -> None:
        """Border title candidates, longest first (Rich Text or str): the longest that fits
        the panel is shown, so a title loses whole parts instead of being cut."""
        self._titles = list(variants)
        self._fit_title()

    def _fit_title(self) -> None:
        variants = getattr(self, "_titles", None)
        if not variants:
            return
        room = self.outer_size.width - 6  # "╭─ " + title + " ─╮"
        fits = [v for v in variants if len(v) <= room]
        title = fits[0] if fits else variants[-1]
        if title != self.border_title:
            self.border_title = title

    def build_strips(self) -> list[Strip]:
        """The picture as half-block strips at the widget's size (cached per picture and size
        by the caller, so a repaint builds nothing)."""
        width, height = self.size
        base = self.rich_style
        blank = Strip.blank(width, base)
        if width <= 0 or height <= 0:
            return []
        if self._image is None:
            return self._message_strips(width, height, blank)
        img = self._image
        pw, ph = fit_size(img.width, img.height, width, height)
        arr = np.asarray(img.convert("RGB").resize((pw, ph), Image.Resampling.BILINEAR))
        rows = half_block_rows(arr, self.palette)
        left = (width - pw) // 2
        top = (height - len(rows)) // 2
        strips = [blank] * top
        for segs in rows:
            line = []
            if left:
                line.append(Segment(" " * left, base))
            line.extend(segs)
            right = width - left - pw
            if right > 0:
                line.append(Segment(" " * right, base))
            strips.append(Strip(line, width))
        strips.extend([blank] * (height - len(strips)))
        return strips

    def _message_strips(self, width: int, height: int, blank: Strip) -> list[Strip]:
        style = self.rich_style + self.get_component_rich_style("pixel-view--message")
        lines = _wrap(self._message, width)
        top = max(0, (height - len(lines)) // 2)
        strips = [blank] * top
        for text in lines[: height - top]:
            pad = (width - len(text)) // 2
            strips.append(
                Strip(
                    [
                        Segment(" " * pad, self.rich_style),
                        Segment(text, style),
                        Segment(" " * (width - pad - len(text)), self.rich_style),
                    ],
                    width,
                )
            )
        strips.extend([blank] * (height - len(strips)))
        return strips

    def render_line(self, y: int) -> Strip:
        if self._strips is None or self._built_for != tuple(self.size):
            self._strips = self.build_strips()
            self._built_for = (self.size.width, self.size.height)
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.rich_style)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap to ``width`` cells (messages are short, plain text)."""
    out: list[str] = []
    for para in text.splitlines() or [""]:
        line = ""
        for word in para.split():
            while len(word) > width:
                if line:
                    out.append(line)
                    line = ""
                out.append(word[:width])
                word = word[width:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= width:
                line += " " + word
            else:
                out.append(line)
                line = word
        out.append(line)
    return out
