"""Kitty graphics inside tmux: tmux's passthrough envelope around textual-image's transmission.

textual-image's Kitty renderer (0.8.x) shows a picture through Unicode placeholders: plain
text cells (U+10EEEE plus diacritics, the image id in the foreground colour) that tmux keeps
like any other text. What tmux stops is the picture's transmission and its virtual placement
(APC ``ESC _ G … ESC \\``), which textual-image writes straight to the terminal. With
``set -g allow-passthrough on`` tmux forwards a sequence wrapped as
``ESC P tmux; <the sequence, every ESC doubled> ESC \\`` to the outer terminal, so
:class:`TmuxTGPRenderable` (a subclass of textual-image's renderable) writes the same messages
as textual-image, each wrapped. The placeholders' id colour must reach the outer terminal
unchanged, so this needs truecolour end to end (tmux's RGB feature and
``COLORTERM=truecolor``).

:func:`tmux_graphics` asks tmux, in one ``display-message``, for ``allow-passthrough`` and the
attached client's ``client_termname``, ``client_termtype`` and ``client_termfeatures``; the
call can be injected, so the detection is tested without tmux.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: the client terminals (``client_termname``, or the start of ``client_termtype``) that speak
#: the Kitty graphics protocol with Unicode placeholders
KITTY_TERMNAMES = ("xterm-kitty", "xterm-ghostty")
KITTY_TERMTYPES = ("kitty", "ghostty")
#: variables these terminals set (inherited by a tmux server started inside them)
KITTY_VARIABLES = ("KITTY_WINDOW_ID", "GHOSTTY_RESOURCES_DIR")
PASSTHROUGH_ON = ("1", "on", "all")

#: the line for ~/.tmux.conf that lets Kitty graphics through
PASSTHROUGH_LINE = "set -g allow-passthrough on"

Run = Callable[[list[str]], "str | None"]


def tmux_wrap(sequence: str) -> str:
    """``sequence`` in tmux's passthrough envelope: ``ESC P tmux;`` + the sequence with every
    ESC doubled + ``ESC \\``."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def tgp_message(payload: str | None = None, **keys: int | str | None) -> str:
    """One Kitty graphics protocol message as textual-image 0.8 writes it:
    ``ESC _ G k=v,… [;payload] ESC \\`` (keys whose value is None are left out)."""
    head = ",".join(f"{k}={v}" for k, v in keys.items() if v is not None)
    return f"\x1b_G{head}{';' + payload if payload else ''}\x1b\\"


def send_wrapped(payload: str | None = None, **keys: int | str | None) -> None:
    """Write one Kitty message, wrapped for tmux, to the terminal (where textual-image writes
    its own: ``sys.__stdout__``)."""
    from textual_image._terminal import TerminalError

    out = sys.__stdout__
    if not out:
        raise TerminalError("sys.__stdout__ is None")
    out.write(tmux_wrap(tgp_message(payload, **keys)))
    out.flush()


@dataclass(frozen=True)
class TmuxGraphics:
    """What tmux says about passing Kitty graphics to the attached client."""

    passthrough: bool  #: ``allow-passthrough`` is on (or ``all``)
    kitty: bool  #: the client speaks the Kitty graphics protocol
    rgb: bool  #: tmux passes 24-bit colour to the client
    client: str = ""  #: the client's terminal (``client_termname``), for messages

    def usable(self, env: Mapping[str, str]) -> bool:
        """Kitty pictures would show: passthrough on, a Kitty client, truecolour end to end."""
        return self.passthrough and self.kitty and self.rgb and truecolour_env(env)

    def why_not(self, env: Mapping[str, str]) -> str:
        """The reason half-blocks are drawn instead (for the help screen), ``""`` if usable."""
        if not self.kitty:
            who = f" ({self.client})" if self.client else ""
            return f"auto: tmux, and its client{who} does not speak the Kitty protocol"
        if not self.passthrough:
            return f"auto: tmux blocks graphics (`{PASSTHROUGH_LINE}` lets them through)"
        if not (self.rgb and truecolour_env(env)):
            return "auto: tmux passes graphics, but Kitty pictures need truecolour"
        return ""

    def hint(self, env: Mapping[str, str]) -> str:
        """How to get real pixels here, for the truecolour hint (``""``: nothing to do)."""
        if not self.kitty or self.usable(env):
            return ""
        if not self.passthrough:
            return (
                f"For real pixels in tmux, add `{PASSTHROUGH_LINE}` to ~/.tmux.conf "
                "(tmux ≥ 3.3), `tmux source ~/.tmux.conf`, and start advtui again."
            )
        return "With truecolour, tmux passes real pixels too (allow-passthrough is on)."


def truecolour_env(env: Mapping[str, str]) -> bool:
    return env.get("COLORTERM", "").lower() in ("truecolor", "24bit")


def run_tmux(env: Mapping[str, str]) -> Run:
    """A tmux runner for ``env``: ``run(args)`` is tmux's stdout, or None when it fails."""

    def run(args: list[str]) -> str | None:
        tmux = shutil.which("tmux")
        if tmux is None:
            return None
        try:
            out = subprocess.run(
                [tmux, *args],
                capture_output=True,
                text=True,
                timeout=2,
                check=False,
                env=dict(env),
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    return run


#: what :func:`tmux_graphics` asks tmux, in one call (an option reads as a format too)
QUERY = "#{allow-passthrough}\t#{client_termname}\t#{client_termtype}\t#{client_termfeatures}"


def tmux_graphics(env: Mapping[str, str] | None = None, run: Run | None = None) -> TmuxGraphics:
    """Ask tmux whether Kitty graphics can pass to the attached client: one
    ``tmux display-message -p`` of :data:`QUERY` (``run`` injects it; 5–19 ms measured on the
    shared build machine). ``allow-passthrough`` reads ``1``/``on``/``all`` when on (the
    current pane's value, so a per-pane setting counts)."""
    env = os.environ if env is None else env
    run = run_tmux(env) if run is None else run
    answer = run(["display-message", "-p", QUERY])
    passthrough, name, kind, features = ((answer or "").split("\t") + ["", "", "", ""])[:4]
    kitty = (
        name in KITTY_TERMNAMES
        or kind.lower().startswith(KITTY_TERMTYPES)
        or any(env.get(v) for v in KITTY_VARIABLES)
    )
    rgb = any(f in ("RGB", "Tc") for f in features.split(","))
    return TmuxGraphics(passthrough.strip().lower() in PASSTHROUGH_ON, kitty, rgb, client=name)


def _classes() -> tuple[type, type]:
    """(renderable, widget): textual-image's Kitty classes, with the transmission wrapped."""
    from textual_image.renderable import tgp
    from textual_image.widget._base import Image as BaseImage

    class TmuxTGPRenderable(tgp.Image):
        """textual-image's Kitty renderable; its three terminal writes (transmit, place,
        delete) are the same messages (textual-image 0.8.5's ``renderable/tgp.py``), each in
        tmux's passthrough envelope. The placeholders it renders are unchanged."""

        def cleanup(self) -> None:
            if self.terminal_image_id:
                send_wrapped(a="d", I=self.terminal_image_id)
                self.terminal_image_id = None

        def _send_image_to_terminal(self, width: int, height: int) -> None:
            self.terminal_image_id = next(tgp.Image._image_id_counter)
            data = self._image_data.scaled(width, height).to_base64()
            while data:
                chunk, data = data[:4096], data[4096:]
                send_wrapped(
                    i=self.terminal_image_id, m=1 if data else 0, f=100, payload=chunk, q=2
                )

        def _create_virtual_placement(self, width: int, height: int) -> None:
            assert self.terminal_image_id
            send_wrapped(a="p", i=self.terminal_image_id, c=width, r=height, U=1, q=2)

    class TmuxTGPImage(BaseImage, Renderable=TmuxTGPRenderable):
        """textual-image's Kitty widget, drawing through :class:`TmuxTGPRenderable`."""

    return TmuxTGPRenderable, TmuxTGPImage


_CLASSES: list[tuple[type, type]] = []


def tmux_tgp_classes() -> tuple[type, Any]:
    """(TmuxTGPRenderable, TmuxTGPImage), built once (textual-image imported on first use)."""
    if not _CLASSES:
        _CLASSES.append(_classes())
    return _CLASSES[0]


__all__ = [
    "PASSTHROUGH_LINE",
    "TmuxGraphics",
    "tgp_message",
    "tmux_graphics",
    "tmux_tgp_classes",
    "tmux_wrap",
]
