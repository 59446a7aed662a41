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
    rows = half_block_rows(photo, dither=True)
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
        view.dither = True
        await pilot.pause()
        dithered = [s for s in view.render_line(5) if s.text.startswith("▀")]
        assert dithered and all(s.style.color.type == ColorType.EIGHT_BIT for s in dithered)


# ---------------------------------------------------------------- graphics protocols


def test_auto_graphics_draws_half_blocks_inside_tmux_and_off_a_terminal():
    tmux = choose_graphics("auto", env={"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "tmux-256color"})
    assert tmux.mode == "halfblock" and "tmux" in tmux.reason
    assert choose_graphics("auto", env={"TERM": "xterm-kitty"}, tty=False).mode == "halfblock"
    assert choose_graphics("halfblock", env={"TERM": "xterm-kitty"}).mode == "halfblock"
    assert choose_graphics("kitty", env={"TMUX": "x"}).mode == "kitty"  # asked for: honoured


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
    assert plain.startswith("256 colours") and "COLORTERM=truecolor" in plain


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
