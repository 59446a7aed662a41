"""advtui's 256-colour half-block picture against chafa's, by the same block-average error.

    python -m benchmarks.chafa [--json] [--photos DIR [--limit N]]

chafa (``apt-get install chafa``) is the reference terminal-graphics renderer. For each photo
(the model-size 224×224 centre crop the explorer shows) and the clean panel's picture size at
80×24, 100×30 and 160×50 (:data:`benchmarks.colours.SIZES`), two 256-colour pictures of the
same cells are built:

* chafa: ``chafa --format symbols --symbols vhalf --colors 256 --size Wx(H/2) --stretch`` on
  the crop, its ANSI output parsed back into pixels (each ``▀``/``▄``/space/``█`` cell is two
  pixels, its foreground and background palette colours; xterm's default RGB for 0–15);
* advtui: what ``PixelView`` draws in a 256-colour terminal — the crop resized (bilinear) to
  the panel's pixels, then :func:`advtui.render.dither_to_xterm`.

Both are scored by :func:`benchmarks.colours._error`: the photo and the picture box-averaged
to blocks of 1×1 and 2×2 cells, mean CIE76 ΔE (lower is closer to the truecolour photo).
chafa is also run with ``--dither diffusion`` (its own error diffusion) and with
``--color-space din99d`` (colours matched in a perceptual space) for comparison.
Without chafa on PATH the benchmark prints one line and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.colours import ROOT, SIZES, _error

_SGR = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
UPPER, LOWER, FULL = "▀", "▄", "█"


def crop(path: Path, size: int = 224) -> np.ndarray:
    """The explorer's view of a photo: centre square, resized to ``size`` (bicubic)."""
    img = Image.open(path).convert("RGB")
    s = min(img.size)
    left, top = (img.width - s) // 2, (img.height - s) // 2
    img = img.crop((left, top, left + s, top + s)).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img)


def parse_ansi(text: str, width: int, height: int) -> np.ndarray:
    """chafa's half-block output → (2·rows, width, 3) uint8 pixels (256-colour SGR only)."""
    from advtui.render import xterm_rgb

    fg, bg = 7, 0
    rows: list[list[tuple[int, int]]] = [[]]
    pos = 0
    for m in _SGR.finditer(text + "\x1b[0m"):
        for ch in text[pos : m.start()]:
            if ch == "\n":
                rows.append([])
            elif ch == "\r":
                continue
            elif ch == UPPER:
                rows[-1].append((fg, bg))
            elif ch == LOWER:
                rows[-1].append((bg, fg))
            elif ch == FULL:
                rows[-1].append((fg, fg))
            elif ch == " ":
                rows[-1].append((bg, bg))
            else:
                raise ValueError(f"unexpected character {ch!r} in chafa's output")
        pos = m.end()
        if m.group(2) != "m":
            continue  # cursor show/hide and the like
        params = [int(p) if p else 0 for p in m.group(1).split(";")]
        i = 0
        while i < len(params):
            p = params[i]
            if p == 0:
                fg, bg = 7, 0
            elif p in (38, 48) and i + 2 < len(params) and params[i + 1] == 5:
                if p == 38:
                    fg = params[i + 2]
                else:
                    bg = params[i + 2]
                i += 2
            elif p == 39:
                fg = 7
            elif p == 49:
                bg = 0
            i += 1
    rows = [r for r in rows if r]
    cells = np.array(rows, dtype=np.int64)  # (rows, width, 2): top, bottom index
    if cells.shape[:2] != (height // 2, width):
        raise ValueError(
            f"chafa drew {cells.shape[1]}×{cells.shape[0]} cells, not {width}×{height // 2}"
        )
    pix = np.empty((cells.shape[0] * 2, width), dtype=np.int64)
    pix[0::2], pix[1::2] = cells[..., 0], cells[..., 1]
    return xterm_rgb(pix)


def chafa_picture(png: Path, px: int, *extra: str) -> np.ndarray:
    """chafa's 256-colour half-block rendering of ``png`` at px×px pixels (px/2 rows)."""
    out = subprocess.run(
        [
            "chafa",
            "--format", "symbols",
            "--symbols", "vhalf",
            "--colors", "256",
            "--size", f"{px}x{px // 2}",
            "--stretch",
            "--animate", "off",
            *extra,
            str(png),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )  # fmt: skip
    return parse_ansi(out.stdout, px, px)


def advtui_picture(photo: np.ndarray, px: int) -> np.ndarray:
    """What the explorer draws at 256 colours: bilinear to the panel, then dithered."""
    from advtui.render import dither_to_xterm, xterm_rgb

    shown = np.asarray(Image.fromarray(photo).resize((px, px), Image.Resampling.BILINEAR))
    return xterm_rgb(dither_to_xterm(shown))


def run(photos: list[Path]) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        crops = []
        for i, p in enumerate(photos):
            c = crop(p)
            png = Path(tmp) / f"{i}.png"
            Image.fromarray(c).save(png)
            crops.append((c, png))
        for label, px in SIZES.items():
            scores: dict[str, list[float]] = {}
            for photo, png in crops:
                shown = {
                    "chafa": chafa_picture(png, px),
                    "chafa --dither diffusion": chafa_picture(png, px, "--dither", "diffusion"),
                    "chafa --color-space din99d": chafa_picture(png, px, "--color-space", "din99d"),
                    "advtui dithered": advtui_picture(photo, px),
                }
                for name, pic in shown.items():
                    for cells in (1, 2):
                        key = f"{name}, {'1 cell' if cells == 1 else '2×2 cells'}"
                        scores.setdefault(key, []).append(_error(photo, pic, px, cells))
            out[label] = {k: round(float(np.mean(v)), 2) for k, v in scores.items()}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--photos", help="a folder of photos instead of the bundled samples")
    p.add_argument(
        "--limit", type=int, default=10, help="photos from --photos, evenly spaced by name"
    )
    args = p.parse_args()
    if shutil.which("chafa") is None:
        print("benchmarks.chafa: skipped, chafa is not installed (apt-get install chafa)")
        return
    if args.photos:
        exts = {".jpg", ".jpeg", ".png"}
        found = sorted(q for q in Path(args.photos).iterdir() if q.suffix.lower() in exts)
        step = max(1, len(found) // max(1, args.limit))
        photos = found[::step][: args.limit]
    else:
        photos = sorted((ROOT / "samples").glob("*.jpg"))
    res = run(photos)
    if args.json:
        print(json.dumps({"photos": len(photos), **res}))
        return
    print(f"{len(photos)} photos")
    for label, r in res.items():
        print(label)
        for k, v in r.items():
            print(f"  {k:<40} ΔE {v:6.2f}")


if __name__ == "__main__":
    sys.exit(main())
