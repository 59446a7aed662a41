"""Half-block drawing: advtui's cached strips (``advtui.tui.pixels``) against rich-pixels.

    python -m benchmarks.pixels [--repeats N]

Both sides turn the same 224×224 photo, resized to a panel's pixel size, into Textual strips
(one per text row), which is the part a repaint would redo on a cache miss: a new image, a
resize or a theme change. advtui resizes bilinearly and builds run-length merged segments with
styles cached by colour pair (:func:`advtui.tui.pixels.half_block_rows`); rich-pixels
(``Pixels.from_image(img, resize=…)``, its default half-cell renderer) resizes nearest-neighbour
and builds one segment per cell with a style parsed from an ``rgb(…)`` string. Its segments are
split into lines and wrapped in strips, as a Textual widget keeping a strip cache would do.

Interleaved, minimum over repeats, process CPU time (see benchmarks/common.py). rich-pixels
is not a dependency of advtui any more: install it to run this (``pip install rich-pixels``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
#: (label, panel width in cells, panel height in cells): the clean panel at each terminal size
PANELS = (("80×24", 26, 11), ("100×30", 36, 17), ("160×50", 48, 22), ("240×70", 76, 32))


def _ours(img: Image.Image, pw: int, ph: int, cold: bool) -> list:
    from textual.strip import Strip

    from advtui.tui import pixels

    if cold:
        pixels._STYLES.clear()
    arr = np.asarray(img.resize((pw, ph), Image.Resampling.BILINEAR))
    return [Strip(row, pw) for row in pixels.half_block_rows(arr)]


def _rich_pixels(img: Image.Image, pw: int, ph: int, cold: bool = False) -> list:
    from rich.color import Color
    from rich.segment import Segment
    from rich.style import Style
    from rich_pixels import Pixels
    from textual.strip import Strip

    if cold:  # Rich's parse caches (4096 entries) would otherwise still hold this picture
        Style.parse.cache_clear()
        Color.parse.cache_clear()

    console = _console(pw)
    segments = list(console.render(Pixels.from_image(img, resize=(pw, ph))))
    return [Strip(line, pw) for line in Segment.split_lines(segments)]


_CONSOLES: dict = {}


def _console(width: int):
    import io

    from rich.console import Console

    if width not in _CONSOLES:
        _CONSOLES[width] = Console(width=width, color_system="truecolor", file=io.StringIO())
    return _CONSOLES[width]


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def _bytes(strips: list) -> int:
    """Bytes the strips cost on a truecolour terminal (SGR codes + text, UTF-8)."""
    from rich.color import ColorSystem

    return sum(
        len(seg.style.render(seg.text, color_system=ColorSystem.TRUECOLOR).encode())
        if seg.style
        else len(seg.text.encode())
        for strip in strips
        for seg in strip
    )


def _warm_with_other_photos(pw: int, ph: int) -> None:
    """The usual state when a new picture arrives: the style cache holds other photos' pairs."""
    from advtui.tui import pixels

    pixels._STYLES.clear()
    for p in sorted((ROOT / "samples").glob("*.jpg")):
        if p.name != "tabby_cat.jpg":
            _ours(Image.open(p).convert("RGB").resize((224, 224)), pw, ph, cold=False)


def run(repeats: int = 30) -> dict:
    img = Image.open(ROOT / "samples" / "tabby_cat.jpg").convert("RGB").resize((224, 224))
    out = {}
    for label, cols, rows in PANELS:
        pw, ph = min(cols, 2 * rows), min(cols, 2 * rows)  # a square photo fitted to the panel
        warm, new, cold, rp, rp_cold = [], [], [], [], []
        for _ in range(3):  # interleave, best of each
            warm.append(_best(lambda pw=pw, ph=ph: _ours(img, pw, ph, cold=False), repeats))
            cold.append(_best(lambda pw=pw, ph=ph: _ours(img, pw, ph, cold=True), repeats))
            _warm_with_other_photos(pw, ph)
            new.append(_best(lambda pw=pw, ph=ph: _ours(img, pw, ph, cold=False), 1))
            rp.append(_best(lambda pw=pw, ph=ph: _rich_pixels(img, pw, ph), repeats))
            rp_cold.append(_best(lambda pw=pw, ph=ph: _rich_pixels(img, pw, ph, True), repeats))
        ours_strips, rp_strips = _ours(img, pw, ph, cold=False), _rich_pixels(img, pw, ph)
        out[label] = {
            "pixels": f"{pw}×{ph}",
            "advtui_redraw_same_ms": min(warm) * 1e3,
            "advtui_new_image_ms": min(new) * 1e3,
            "advtui_empty_cache_ms": min(cold) * 1e3,
            "rich_pixels_same_ms": min(rp) * 1e3,
            "rich_pixels_new_image_ms": min(rp_cold) * 1e3,
            "advtui_segments": sum(len(s) for s in ours_strips),
            "rich_pixels_segments": sum(len(s) for s in rp_strips),
            "advtui_bytes": _bytes(ours_strips),
            "rich_pixels_bytes": _bytes(rp_strips),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    res = run(args.repeats)
    if args.json:
        print(json.dumps(res))
        return
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
