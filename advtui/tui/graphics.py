"""Real pixels where the terminal has them (Kitty graphics protocol, Sixel), and the terminal's
colour depth.

``--graphics auto|kitty|sixel|halfblock`` picks how pictures are drawn. ``kitty`` and ``sixel``
draw through `textual-image`_, which asks the terminal what it supports when it is imported, so
:func:`choose_graphics` runs before the App starts (the App's input thread would swallow the
terminal's answers), and only on the explorer's path: ``halfblock`` never imports it. tmux passes graphics only inside its passthrough envelope,
which textual-image 0.8 does not write: inside tmux, ``auto`` draws Kitty pictures through
:mod:`advtui.tui.tmux` (the transmission wrapped) when tmux allows passthrough and its client
speaks the Kitty protocol in truecolour, and half-blocks otherwise.

.. _textual-image: https://github.com/lnqs/textual-image
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image
from rich.segment import Segment
from textual.strip import Strip

from advtui.tui.pixels import PixelView
from advtui.tui.tmux import PASSTHROUGH_LINE, TmuxGraphics, tmux_graphics, tmux_tgp_classes

GRAPHICS = ("auto", "kitty", "sixel", "halfblock")
#: Pictures smaller than this are enlarged (nearest neighbour) before they are sent, so the
#: terminal does not blur 28×28 pooled SHAP maps into mush.
MIN_SEND = 224


@dataclass(frozen=True)
class GraphicsChoice:
    """How pictures are drawn (``kitty``, ``sixel`` or ``halfblock``) and why."""

    mode: str
    reason: str
    #: Kitty pictures sent through tmux's passthrough envelope (:mod:`advtui.tui.tmux`)
    passthrough: bool = False
    #: how to get real pixels here, when a step is missing (for the truecolour hint)
    hint: str = ""

    @property
    def label(self) -> str:
        return {"kitty": "Kitty graphics", "sixel": "Sixel", "halfblock": "half-blocks"}[self.mode]


def choose_graphics(
    requested: str = "auto",
    env: Mapping[str, str] | None = None,
    tty: bool | None = None,
    tmux: TmuxGraphics | None = None,
) -> GraphicsChoice:
    """Resolve ``--graphics``; for ``auto`` this may query the terminal (via textual-image)
    and, inside tmux, tmux itself (``tmux``: its answers, injected)."""
    env = os.environ if env is None else env
    if requested in ("kitty", "sixel"):
        try:
            _load_textual_image()
        except Exception as exc:  # noqa: BLE001 - e.g. a terminal reporting 0 columns
            why = " ".join(str(exc).split())[:80] or type(exc).__name__
            return GraphicsChoice("halfblock", f"--graphics {requested} failed: {why}")
        if requested == "kitty" and env.get("TMUX"):
            t = tmux if tmux is not None else tmux_graphics(env)
            if t.passthrough:
                return GraphicsChoice("kitty", "--graphics kitty, through tmux", passthrough=True)
            return GraphicsChoice("kitty", f"--graphics kitty; tmux blocks it: {PASSTHROUGH_LINE}")
        return GraphicsChoice(requested, "--graphics " + requested)
    if requested == "halfblock":
        return GraphicsChoice("halfblock", "--graphics halfblock")
    if env.get("TMUX"):
        t = tmux if tmux is not None else tmux_graphics(env)
        if not t.usable(env):
            return GraphicsChoice("halfblock", t.why_not(env), hint=t.hint(env))
        try:
            _load_textual_image()
        except Exception:  # noqa: BLE001 - missing or broken: half-blocks still work
            return GraphicsChoice("halfblock", "auto: textual-image unavailable")
        return GraphicsChoice(
            "kitty", "auto: tmux passes Kitty graphics (allow-passthrough)", passthrough=True
        )
    if tty is None:
        tty = bool(sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__)
    if not tty:
        return GraphicsChoice("halfblock", "auto: not a terminal")
    if not graphics_terminal(env):
        # asking costs 0.1–0.3 s at start on terminals that do not answer
        term = env.get("TERM", "") or "unset"
        return GraphicsChoice("halfblock", f"auto: TERM={term} is not a known graphics terminal")
    try:
        renderable = _load_textual_image()
    except Exception:  # noqa: BLE001 - missing or broken: half-blocks still work
        return GraphicsChoice("halfblock", "auto: textual-image unavailable")
    if renderable.Image is renderable.SixelImage:
        return GraphicsChoice("sixel", "auto: the terminal speaks Sixel")
    if renderable.Image is renderable.TGPImage:
        return GraphicsChoice("kitty", "auto: the terminal speaks the Kitty protocol")
    return GraphicsChoice("halfblock", "auto: no graphics protocol answered")


#: Terminals (by $TERM, $TERM_PROGRAM or a variable they set) that speak the Kitty graphics
#: protocol or Sixel. Only these are asked, so the others start without the 0.1–0.3 s a
#: question the terminal never answers costs; any terminal can be forced with --graphics.
GRAPHICS_TERMS = ("xterm-kitty", "xterm-ghostty", "foot", "foot-extra", "wezterm", "mlterm")
GRAPHICS_PROGRAMS = ("WezTerm", "ghostty", "iTerm.app", "mlterm", "contour")
GRAPHICS_VARIABLES = (
    "KITTY_WINDOW_ID",
    "WEZTERM_EXECUTABLE",
    "GHOSTTY_RESOURCES_DIR",
    "WT_SESSION",
)


def graphics_terminal(env: Mapping[str, str]) -> bool:
    """Whether the environment names a terminal that may show Kitty or Sixel graphics."""
    return (
        env.get("TERM", "") in GRAPHICS_TERMS
        or env.get("TERM_PROGRAM", "") in GRAPHICS_PROGRAMS
        or any(env.get(v) for v in GRAPHICS_VARIABLES)
    )


def _load_textual_image():
    import textual_image.renderable
    import textual_image.widget  # noqa: F401 - measures the cell size while it still can

    return textual_image.renderable


class GraphicsView(PixelView):
    """A :class:`PixelView` that shows its picture through textual-image (Kitty or Sixel).

    The picture widget is sized to the largest cell box that keeps the image's aspect ratio
    (cells are not square: textual-image knows their pixel size) and centred; messages are
    drawn as in :class:`PixelView`.
    """

    DEFAULT_CSS = """
    GraphicsView {
        align: center middle;
    }
    GraphicsView > .graphics-picture {
        display: none;
    }
    GraphicsView.-picture > .graphics-picture {
        display: block;
    }
    """

    def __init__(
        self, protocol: str, message: str = "", *, passthrough: bool = False, **kwargs
    ) -> None:
        super().__init__(message=message, **kwargs)
        from textual_image.widget import SixelImage, TGPImage

        self.protocol = protocol
        cls: Any = TGPImage if protocol == "kitty" else SixelImage
        if protocol == "kitty" and passthrough:  # inside tmux: the transmission wrapped
            cls = tmux_tgp_classes()[1]
        self.picture = cls(classes="graphics-picture")
        self._palette = 0

    def compose(self):
        yield self.picture

    def show(self, image: Image.Image | None, message: str = "") -> None:
        if image is self._image and message == self._message:
            return
        super().show(image, message)
        self.set_class(image is not None, "-picture")
        self.picture.image = _for_sending(image) if image is not None else None
        self._fit()

    def on_resize(self) -> None:
        super().on_resize()
        self._fit()

    def _fit(self) -> None:
        from textual_image._terminal import get_cell_size

        img = self._image
        width, height = self.content_size
        if img is None or width <= 0 or height <= 0:
            return
        cw, ch = get_cell_size()
        scale = min(width * cw / img.width, height * ch / img.height)
        self.picture.styles.width = max(1, min(width, int(img.width * scale / cw)))
        self.picture.styles.height = max(1, min(height, int(img.height * scale / ch)))

    def build_strips(self) -> list[Strip]:
        if self._image is None:
            return super().build_strips()
        width, height = self.size
        return [Strip([Segment(" " * width, self.rich_style)], width)] * max(0, height)


def _for_sending(image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    if max(image.size) < MIN_SEND:
        f = -(-MIN_SEND // max(image.size))
        image = image.resize((image.width * f, image.height * f), Image.Resampling.NEAREST)
    return image


# ---------------------------------------------------------------- colour depth


def tmux_features(env: Mapping[str, str] | None = None) -> str | None:
    """tmux's ``client_termfeatures`` for the attached client (``None`` outside tmux)."""
    env = os.environ if env is None else env
    if not env.get("TMUX") or shutil.which("tmux") is None:
        return None
    try:
        out = subprocess.run(
            ["tmux", "display-message", "-p", "#{client_termfeatures}"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def truecolour_hint(
    color_system: str | None,
    env: Mapping[str, str] | None = None,
    features: str | None = None,
    dithered: bool = True,
) -> str | None:
    """What to do for truecolour when the app runs at 256 (or 16) colours, else ``None``.

    ``features`` is tmux's ``client_termfeatures`` (``tmux_features``); outside tmux it is None.
    """
    env = os.environ if env is None else env
    if color_system not in ("256", "standard"):
        return None
    depth = "256" if color_system == "256" else "16"
    head = f"{depth} colours{': pictures are dithered' if dithered else ''}. For truecolour, "
    if env.get("TMUX"):
        if features is not None and ("RGB" in features.split(",") or "Tc" in features):
            return head + "`export COLORTERM=truecolor` before starting advtui (tmux passes RGB)."
        return (
            head + "add `set -as terminal-features ',*:RGB'` to ~/.tmux.conf (tmux < 3.2: "
            "`set -ga terminal-overrides ',*:Tc'`), restart tmux, and "
            "`export COLORTERM=truecolor`."
        )
    return (
        head + "`export COLORTERM=truecolor` (if your terminal supports it; over SSH set it "
        "on the remote side)."
    )
