"""Kitty pictures inside tmux: the passthrough envelope around textual-image's transmission,
and the detection (tmux's answers injected; no tmux needed)."""

from __future__ import annotations

import io
import sys

import pytest
from PIL import Image

from advtui.tui.graphics import GraphicsChoice, GraphicsView, choose_graphics
from advtui.tui.tmux import TmuxGraphics, tgp_message, tmux_graphics, tmux_wrap

from .test_graphics import _One, _segments

pytest.importorskip("textual_image")


def unwrap(written: str) -> tuple[list[str], str]:
    """(the sequences inside tmux passthrough envelopes, ESC undoubled; what is left outside)."""
    inner, outside, i = [], [], 0
    start = "\x1bPtmux;"
    while i < len(written):
        j = written.find(start, i)
        if j < 0:
            outside.append(written[i:])
            break
        outside.append(written[i:j])
        k, body = j + len(start), []
        while True:
            if written[k] == "\x1b" and written[k + 1] == "\x1b":  # an ESC of the sequence
                body.append("\x1b")
                k += 2
            elif written[k] == "\x1b" and written[k + 1] == "\\":  # the envelope ends
                k += 2
                break
            else:
                assert written[k] != "\x1b", "a lone ESC inside the envelope"
                body.append(written[k])
                k += 1
        inner.append("".join(body))
        i = k
    return inner, "".join(outside)


def test_tmux_wrap_doubles_every_esc_inside_the_envelope():
    seq = "\x1b_Ga=p,i=7,U=1\x1b\\"
    assert tmux_wrap(seq) == "\x1bPtmux;\x1b\x1b_Ga=p,i=7,U=1\x1b\x1b\\\x1b\\"
    assert unwrap(tmux_wrap(seq)) == ([seq], "")


@pytest.mark.parametrize(
    "keys",
    [
        {"i": 12, "m": 1, "f": 100, "payload": "QUJD", "q": 2},
        {"a": "p", "i": 12, "c": 30, "r": 15, "U": 1, "q": 2},
        {"a": "d", "I": 12},
        {"i": 5, "m": 0, "f": 100, "payload": None, "q": 2},
    ],
)
def test_the_wrapped_message_is_textual_images_own(keys, monkeypatch):
    """What we wrap is byte for byte what textual-image would have written."""
    from textual_image.renderable import tgp

    out = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", out)
    tgp._send_tgp_message(**keys)
    assert tgp_message(**keys) == out.getvalue()


async def test_kitty_view_through_tmux_sends_everything_inside_envelopes(samples_dir, monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", out)  # where textual-image writes to the terminal
    view = GraphicsView("kitty", passthrough=True)
    photo = Image.open(samples_dir / "tabby_cat.jpg").convert("RGB")
    async with _One(view).run_test(size=(40, 16)) as pilot:
        view.show(photo)
        await pilot.pause()
        await pilot.pause()
        placeholders = _segments(view.picture)
        view.show(photo.rotate(90))  # a new picture: the old one is deleted, wrapped too
        await pilot.pause()
        await pilot.pause()
    inner, outside = unwrap(out.getvalue())
    assert "\x1b_G" not in outside  # nothing of the protocol bare: tmux would eat it
    assert inner and all(s.startswith("\x1b_G") and s.endswith("\x1b\\") for s in inner)
    data = [s for s in inner if "f=100" in s]
    assert data and data[-1].split(";")[0].count("m=0")  # PNG chunks, the last one closes
    assert any("a=p" in s and "U=1" in s for s in inner)  # the virtual placement
    assert any(s.startswith("\x1b_Ga=d,") for s in inner)  # the old picture deleted
    assert chr(0x10EEEE) in placeholders  # shown through Unicode placeholders (plain text)


def _runner(answer: str | None, asked: list[list[str]]):
    def run(args: list[str]) -> str | None:
        asked.append(args)
        return answer

    return run


KITTY = "xterm-kitty\t\t256,RGB,title"
TRUE = {"TMUX": "/tmp/tmux-1/default,1,0", "COLORTERM": "truecolor"}


@pytest.mark.parametrize(
    ("passthrough", "client", "env", "usable", "reason", "hint"),
    [
        ("1", KITTY, TRUE, True, "", ""),
        ("on", KITTY, TRUE, True, "", ""),
        ("all", "xterm-256color\tghostty 1.1.2\tRGB", TRUE, True, "", ""),
        ("0", KITTY, TRUE, False, "tmux blocks graphics", "set -g allow-passthrough on"),
        ("", KITTY, TRUE, False, "tmux blocks graphics", "set -g allow-passthrough on"),
        ("1", "xterm-kitty\t\t256,title", TRUE, False, "need truecolour", "With truecolour"),
        ("1", KITTY, {"TMUX": "x"}, False, "need truecolour", "With truecolour"),
        ("1", "xterm-256color\t\tRGB", TRUE, False, "does not speak the Kitty", ""),
        ("1", "xterm-256color\t\tRGB", {**TRUE, "KITTY_WINDOW_ID": "3"}, True, "", ""),
    ],
)
def test_detection_asks_tmux_and_says_what_is_missing(
    passthrough, client, env, usable, reason, hint
):
    asked: list[list[str]] = []
    t = tmux_graphics(env, _runner(f"{passthrough}\t{client}", asked))
    assert len(asked) == 1 and asked[0][:2] == ["display-message", "-p"]
    assert asked[0][2].startswith("#{allow-passthrough}\t#{client_termname}")
    assert t.usable(env) is usable
    assert reason in t.why_not(env) and (reason or t.why_not(env) == "")
    assert hint in t.hint(env) and (hint or t.hint(env) == "")


def test_detection_without_an_answer_from_tmux_is_half_blocks():
    t = tmux_graphics(TRUE, _runner(None, []))  # no tmux, no server, an error: nothing known
    assert not t.usable(TRUE) and not t.passthrough and not t.kitty
    assert choose_graphics("auto", env=TRUE, tmux=t).mode == "halfblock"


def test_auto_inside_tmux_chooses_wrapped_kitty_or_half_blocks_with_the_fix():
    ok = TmuxGraphics(passthrough=True, kitty=True, rgb=True, client="xterm-kitty")
    chosen = choose_graphics("auto", env=TRUE, tmux=ok)
    assert (chosen.mode, chosen.passthrough) == ("kitty", True)
    assert "tmux passes Kitty graphics" in chosen.reason
    blocked = TmuxGraphics(passthrough=False, kitty=True, rgb=True, client="xterm-kitty")
    fallback = choose_graphics("auto", env=TRUE, tmux=blocked)
    assert (fallback.mode, fallback.passthrough) == ("halfblock", False)
    assert "set -g allow-passthrough on" in fallback.hint
    # asked for by name: wrapped when tmux lets it through, and said why not when it does not
    assert choose_graphics("kitty", env=TRUE, tmux=ok).passthrough
    forced = choose_graphics("kitty", env=TRUE, tmux=blocked)
    assert forced.mode == "kitty" and not forced.passthrough
    assert "allow-passthrough on" in forced.reason


async def test_the_truecolour_hint_says_how_to_turn_tmux_graphics_on(samples_dir, monkeypatch):
    from advtui.cli import build_app

    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    app = build_app([str(samples_dir), "--device", "cpu", "--graphics", "halfblock"])
    fix = TmuxGraphics(passthrough=False, kitty=True, rgb=False).hint({})
    app.graphics = GraphicsChoice("halfblock", "auto: tmux blocks graphics", hint=fix)
    async with app.run_test(size=(100, 30)) as pilot:
        from .conftest import wait_for

        await wait_for(pilot, lambda: app.colour_hint is not None, what="the hint")
        await app.workers.wait_for_complete()
        assert "COLORTERM=truecolor" in app.colour_hint
        assert app.colour_hint.endswith(fix) and "set -g allow-passthrough on" in fix
