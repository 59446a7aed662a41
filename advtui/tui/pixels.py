"""Half-block pixel art drawn through Textual's Line API from a cached array.

Each terminal cell shows two vertically stacked pixels: ``▀`` with the foreground colour set to
the upper pixel and the background colour to the lower one. The image is resized to the
widget's size (keeping its aspect ratio, see :func:`advtui.render.fit_size`) once per
(image, size) pair and turned into one :class:`~textual.strip.Strip` per row; ``render_line``
then only returns cached strips, so a repaint costs almost nothing (measured in
``tests/tui/test_render_speed.py``). Textual downgrades the truecolour styles for 256-colour
terminals by itself.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from advtui.render import fit_size

HALF_BLOCK = "▀"


def half_block_rows(rgb: np.ndarray) -> list[list[Segment]]:
    """Segments for an (H, W, 3) uint8 array, two pixel rows per text row (H is made even)."""
    if rgb.shape[0] % 2:
        rgb = np.concatenate([rgb, rgb[-1:]], axis=0)
    styles: dict[bytes, Style] = {}
    rows: list[list[Segment]] = []
    for r in range(0, rgb.shape[0], 2):
        pair = np.ascontiguousarray(np.stack([rgb[r], rgb[r + 1]], axis=1))  # (W, 2, 3)
        segments: list[Segment] = []
        run_key, run_len = b"", 0
        for c in range(pair.shape[0]):
            key = pair[c].tobytes()
            if key == run_key:
                run_len += 1
                continue
            if run_len:
                segments.append(Segment(HALF_BLOCK * run_len, styles[run_key]))
            style = styles.get(key)
            if style is None:
                top, bottom = pair[c]
                style = Style(
                    color=Color.from_rgb(int(top[0]), int(top[1]), int(top[2])),
                    bgcolor=Color.from_rgb(int(bottom[0]), int(bottom[1]), int(bottom[2])),
                )
                styles[key] = style
            run_key, run_len = key, 1
        if run_len:
            segments.append(Segment(HALF_BLOCK * run_len, styles[run_key]))
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
        self.refresh()

    def _build(self) -> list[Strip]:
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
        rows = half_block_rows(arr)
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
            self._strips = self._build()
            self._built_for = tuple(self.size)
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
