"""Pictures that survive SSH and tmux: the graphics choice, Kitty/Sixel output, 256-colour
dithering and the truecolour hint; and the class picker's Enter (lean: no model)."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image
from rich.color import ColorType
from textual.app import App, ComposeResult
from textual.geometry import Region

from advtui.render import dither_to_xterm, nearest_xterm, xterm_palette, xterm_rgb
from advtui.tui.graphics import GraphicsView, choose_graphics, truecolour_hint
from advtui.tui.pixels import PixelView, half_block_rows

from .conftest import wait_for


def _photo(samples_dir, size=(48, 48)) -> np.ndarray:
    img = Image.open(samples_dir / "tabby_cat.jpg").convert("RGB").resize(size)
    return np.asarray(img)


# ---------------------------------------------------------------- palette and dithering


def test_xterm_palette_is_the_fixed_cube_and_grey_ramp():
    pal = xterm_palette()
    assert pal.shape == (240, 3)
    assert tuple(pal[0]) == (0, 0, 0)  # colour 16
    assert tuple(pal[196 - 16]) == (255, 0, 0)  # colour 196
    assert tuple(pal[231 - 16]) == (255, 255, 255)
    assert tuple(pal[232 - 16]) == (8, 8, 8) and tuple(pal[255 - 16]) == (238, 238, 238)


def test_dithering_to_16_colours_uses_xterm_defaults():
    flat = np.zeros((4, 4, 3), dtype=np.uint8)
    flat[:] = (205, 0, 0)  # xterm's default colour 1
    assert (dither_to_xterm(flat, 16) == 1).all()
    grey = np.full((8, 8, 3), 64, dtype=np.uint8)  # between black (0) and grey (8): a mix
    assert set(np.unique(dither_to_xterm(grey, 16))) == {0, 8}


def test_dithering_keeps_a_flat_palette_colour_and_uses_only_16_to_255():
    flat = np.zeros((6, 5, 3), dtype=np.uint8)
    flat[:] = (95, 135, 175)  # exactly cube colour 16 + 36*1 + 6*2 + 3 = 67
    assert (dither_to_xterm(flat) == 67).all()
    rng = np.random.default_rng(0)
    idx = dither_to_xterm(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    assert idx.min() >= 16 and idx.max() <= 255


def test_dithering_preserves_local_mean_colour_better_than_nearest(samples_dir):
    photo = _photo(samples_dir)

    def blurred_error(shown: np.ndarray, k: int = 4) -> float:
        def box(a):
            a = a.astype(np.float64)
            return a.reshape(12, k, 12, k, 3).mean(axis=(1, 3))

        return float(np.sqrt(((box(shown) - box(photo)) ** 2).sum(-1)).mean())

    dithered = blurred_error(xterm_rgb(dither_to_xterm(photo)))
    nearest = blurred_error(xterm_rgb(nearest_xterm(photo)))
    assert dithered < 0.6 * nearest


def test_half_block_rows_with_dither_draws_palette_colours(samples_dir):
    photo = _photo(samples_dir, (8, 4))
    rows = half_block_rows(photo, palette=256)
    idx = dither_to_xterm(photo)
    assert len(rows) == 2
    cells = [(s.style.color, s.style.bgcolor, len(s.text)) for s in rows[0]]
    expanded = [(fg, bg) for fg, bg, n in cells for _ in range(n)]
    assert len(expanded) == 8
    for x, (fg, bg) in enumerate(expanded):
        assert fg.type == ColorType.EIGHT_BIT and bg.type == ColorType.EIGHT_BIT
        assert (fg.number, bg.number) == (idx[0, x], idx[1, x])


class _One(App):
    def __init__(self, view) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


def _segments(widget) -> str:
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "".join(seg.text for line in lines for seg in line)


async def test_pixel_view_dithers_when_set_to_and_not_otherwise(samples_dir):
    view = PixelView(Image.fromarray(_photo(samples_dir)))
    async with _One(view).run_test(size=(30, 12)) as pilot:
        await pilot.pause()
        truecolour = view.render_line(5)
        assert any(s.style and s.style.color.type == ColorType.TRUECOLOR for s in truecolour)
        view.palette = 256
        await pilot.pause()
        dithered = [s for s in view.render_line(5) if s.text.startswith("▀")]
        assert dithered and all(s.style.color.type == ColorType.EIGHT_BIT for s in dithered)
        assert all(16 <= s.style.bgcolor.number <= 255 for s in dithered)
        view.palette = 16
        await pilot.pause()
        sixteen = [s for s in view.render_line(5) if s.text.startswith("▀")]
        assert sixteen and all(s.style.color.type == ColorType.STANDARD for s in sixteen)
        assert all(0 <= s.style.bgcolor.number <= 15 for s in sixteen)


# ---------------------------------------------------------------- graphics protocols


def test_auto_graphics_draws_half_blocks_inside_tmux_and_off_a_terminal():
    from advtui.tui.tmux import TmuxGraphics

    no = TmuxGraphics(passthrough=False, kitty=False, rgb=False)  # tmux's answers, injected
    env = {"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "tmux-256color"}
    tmux = choose_graphics("auto", env=env, tmux=no)
    assert tmux.mode == "halfblock" and "tmux" in tmux.reason
    assert choose_graphics("auto", env={"TERM": "xterm-kitty"}, tty=False).mode == "halfblock"
    assert choose_graphics("halfblock", env={"TERM": "xterm-kitty"}).mode == "halfblock"
    assert choose_graphics("kitty", env={"TMUX": "x"}, tmux=no).mode == "kitty"  # honoured
    # a terminal that names no graphics support is not asked (asking costs 0.1–0.3 s)
    plain = choose_graphics("auto", env={"TERM": "xterm-256color"}, tty=True)
    assert plain.mode == "halfblock" and "TERM=xterm-256color" in plain.reason


async def test_graphics_kitty_writes_the_kitty_protocol(samples_dir, monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", out)  # textual-image sends images to the terminal
    view = GraphicsView("kitty")
    async with _One(view).run_test(size=(40, 16)) as pilot:
        view.show(Image.open(samples_dir / "tabby_cat.jpg").convert("RGB"))
        await pilot.pause()
        await pilot.pause()
        placeholders = _segments(view.picture)
        size = view.picture.size
    written = out.getvalue()
    assert "\x1b_G" in written and "f=100" in written  # image data: PNG over the protocol
    assert "a=p" in written and "U=1" in written  # a virtual placement …
    assert chr(0x10EEEE) in placeholders  # … shown through Unicode placeholders
    assert 0 < size.width <= 40 and 0 < size.height <= 16  # fitted into the panel


async def test_graphics_sixel_writes_sixel_data(samples_dir):
    view = GraphicsView("sixel")
    async with _One(view).run_test(size=(40, 16)) as pilot:
        view.show(Image.open(samples_dir / "tabby_cat.jpg").convert("RGB"))
        await pilot.pause()
        await pilot.pause()
        written = "".join(_segments(w) for w in view.picture.query("*"))
    start = written.index("\x1bP")  # DCS … q: sixel data starts
    end = written.index("\x1b\\", start)  # ST: it ends
    sixel = written[start:end]
    assert "q" in sixel[:12] and sixel.count("#") > 10  # colour registers and their pixels


async def test_graphics_view_shows_messages_without_a_picture():
    view = GraphicsView("sixel", message="press a to attack")
    async with _One(view).run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        assert "press a to attack" in _segments(view)
        assert not view.picture.display or view.picture.size.area == 0


# ---------------------------------------------------------------- truecolour hint


def test_truecolour_hint_names_the_exact_fix():
    assert truecolour_hint("truecolor", env={}) is None
    tmux = truecolour_hint("256", env={"TMUX": "x"}, features="256,bpaste,title")
    assert "set -as terminal-features ',*:RGB'" in tmux and "COLORTERM=truecolor" in tmux
    passes = truecolour_hint("256", env={"TMUX": "x"}, features="256,RGB,title")
    assert "COLORTERM=truecolor" in passes and "terminal-features" not in passes
    plain = truecolour_hint("256", env={"TERM": "xterm-256color"})
    assert plain.startswith("256 colours") and plain.endswith("on the remote side).")


# ---------------------------------------------------------------- class picker

NAMES = ["goldfish", "electric guitar", "electric fan", "African elephant", "tabby cat"]


class _Picker(App):
    def __init__(self) -> None:
        super().__init__()
        self.picked: list[int | None] = []

    def on_mount(self) -> None:
        from advtui.tui.screens import ClassPicker

        self.push_screen(ClassPicker(NAMES), self.picked.append)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("goldfish", 0), ("guitar", 1), ("3", 3), ("electric fan", 2)],
)
async def test_class_picker_takes_an_exact_or_unique_match(typed, expected):
    app = _Picker()
    async with app.run_test() as pilot:
        await pilot.press(*typed, "enter")
        await pilot.pause()
        assert app.picked == [expected]


async def test_class_picker_keeps_an_ambiguous_query_open():
    app = _Picker()
    async with app.run_test() as pilot:
        await pilot.press(*"ele", "enter")
        await pilot.pause()
        assert app.picked == []
        assert type(app.screen).__name__ == "ClassPicker"
        assert "ambiguous" in app.screen.note
        await pilot.press("down", "enter")  # a match chosen with the arrows is taken
        await pilot.pause()
        assert len(app.picked) == 1 and app.picked[0] in (1, 2, 3)


# ---------------------------------------------------------------- a 256-colour session


async def test_a_256_colour_terminal_gets_dithered_pictures_and_one_hint(samples_dir, monkeypatch):
    from advtui.cli import build_app

    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    app = build_app([str(samples_dir), "--device", "cpu"])
    async with app.run_test(size=(100, 30)) as pilot:
        clean = app.query_one("#p-clean", PixelView)
        await wait_for(pilot, lambda: clean.image is not None, what="the clean picture")
        await wait_for(pilot, lambda: app.colour_hint is not None, what="the hint")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert clean.palette == 256
        art = [s for y in range(clean.size.height) for s in clean.render_line(y)]
        cells = [s for s in art if s.text.startswith("▀")]
        assert cells and all(s.style.color.type == ColorType.EIGHT_BIT for s in cells)
        assert "COLORTERM=truecolor" in app.colour_hint
        assert "256 colours, dithered" in app.display_text


async def test_graphics_sixel_flag_draws_the_explorer_pictures_as_sixels(small_folder):
    from advtui.cli import build_app

    app = build_app([str(small_folder), "--device", "cpu", "--graphics", "sixel"])
    assert app.graphics.mode == "sixel"
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state.listed, what="listing")
        await wait_for(pilot, lambda: all(e.scanned for e in app.state.entries), what="scan")
        await pilot.press("j")  # the first file is the corrupt one
        clean = app.query_one("#p-clean", GraphicsView)
        await wait_for(pilot, lambda: clean.image is not None, what="the clean picture")
        await pilot.pause()
        written = "".join(_segments(w) for w in clean.picture.query("*"))
        assert "\x1bP" in written and "\x1b\\" in written  # a DCS … ST sixel image
        await pilot.press("question_mark")
        await pilot.pause()
        assert "Sixel (--graphics sixel)" in app.display_text
        await app.workers.wait_for_complete()
