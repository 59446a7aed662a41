"""How far the half-block picture is from the photo: truecolour, 256-colour nearest, dithered.

    python -m benchmarks.colours [--json]

For every bundled photo (the model-size centre crop the explorer shows) and the clean panel's
picture size at 80×24, 100×30 and 160×50, three displayed pictures are built exactly as the
terminal gets them:

* truecolour: the photo resized (bilinear) to the panel's pixels, as ``PixelView`` draws it;
* 256 nearest: each of those pixels snapped to the colour Rich/Textual picks in a 256-colour
  terminal (``Color.downgrade(EIGHT_BIT)``), what advtui showed before dithering;
* 256 dithered: ``advtui.render.dither_to_xterm`` (Floyd–Steinberg onto xterm 16–255).

Both the photo and each displayed picture are box-blurred to the cell grid (one cell = 1×2
pixels; the photo is area-averaged from 224×224) and compared as mean CIE76 ΔE (Lab, D65).
The eye also blends neighbouring cells, so the same is reported on a grid of 2×2 cells.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
#: picture size (pixels) of the clean panel at each terminal size (square photos)
SIZES = {"80×24": 22, "100×30": 34, "160×50": 44}


def _lab(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def _box(rgb: np.ndarray, bw: int, bh: int) -> np.ndarray:
    a = rgb.astype(np.float64)
    h, w = (a.shape[0] // bh) * bh, (a.shape[1] // bw) * bw
    return a[:h, :w].reshape(h // bh, bh, w // bw, bw, 3).mean(axis=(1, 3))


def rich_256(rgb: np.ndarray) -> np.ndarray:
    """What a 256-colour terminal shows for truecolour cells (Rich's downgrade, per colour)."""
    from rich.color import Color, ColorSystem

    flat = rgb.reshape(-1, 3)
    cache: dict[tuple, tuple] = {}
    out = np.empty_like(flat)
    for i, px in enumerate(map(tuple, flat)):
        hit = cache.get(px)
        if hit is None:
            c = Color.from_rgb(*px).downgrade(ColorSystem.EIGHT_BIT)
            hit = cache[px] = tuple(c.get_truecolor())
        out[i] = hit
    return out.reshape(rgb.shape)


def _error(photo: np.ndarray, shown: np.ndarray, px: int, cells: int) -> float:
    """Mean ΔE between photo and shown picture averaged over ``cells``×``cells`` cell blocks."""
    bw, bh = cells, 2 * cells
    grid_w, grid_h = px // bw, px // bh
    # the part of the photo the whole blocks cover (the picture's last partial block is left out)
    box = (0, 0, photo.shape[1] * grid_w * bw / px, photo.shape[0] * grid_h * bh / px)
    ref = np.asarray(
        Image.fromarray(photo).resize((grid_w, grid_h), Image.Resampling.BOX, box=box),
        dtype=np.float64,
    )
    got = _box(shown, bw, bh)[:grid_h, :grid_w]
    return float(np.linalg.norm(_lab(ref) - _lab(got), axis=-1).mean())


def run() -> dict:
    from advtui.render import dither_to_xterm, xterm_rgb

    photos = []
    for p in sorted((ROOT / "samples").glob("*.jpg")):
        img = Image.open(p).convert("RGB")
        s = min(img.size)
        left, top = (img.width - s) // 2, (img.height - s) // 2
        img = img.crop((left, top, left + s, top + s)).resize((224, 224), Image.Resampling.BICUBIC)
        photos.append(np.asarray(img))
    out: dict = {}
    for label, px in SIZES.items():
        rows: dict[str, list[float]] = {}
        for photo in photos:
            true = np.asarray(Image.fromarray(photo).resize((px, px), Image.Resampling.BILINEAR))
            shown = {
                "truecolour": true,
                "256 nearest": rich_256(true),
                "256 dithered": xterm_rgb(dither_to_xterm(true)),
            }
            for name, pic in shown.items():
                for cells in (1, 2):
                    key = f"{name}, {'1 cell' if cells == 1 else '2×2 cells'}"
                    rows.setdefault(key, []).append(_error(photo, pic, px, cells))
        out[label] = {k: round(float(np.mean(v)), 2) for k, v in rows.items()}
    return out


def shots(folder: Path, px: int = 44) -> list[Path]:
    """PNGs (nearest-neighbour enlarged ×6) of the three displayed versions of two photos."""
    from advtui.render import dither_to_xterm, xterm_rgb

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("tabby_cat", "forest_valley"):
        img = Image.open(ROOT / "samples" / f"{name}.jpg").convert("RGB")
        s = min(img.size)
        left, top = (img.width - s) // 2, (img.height - s) // 2
        img = img.crop((left, top, left + s, top + s)).resize((px, px), Image.Resampling.BILINEAR)
        true = np.asarray(img)
        panels = [true, rich_256(true), xterm_rgb(dither_to_xterm(true))]
        strip = np.concatenate(
            [np.pad(p, ((0, 0), (0, 2), (0, 0)), constant_values=30) for p in panels], axis=1
        )
        path = folder / f"colours-{name}.png"
        Image.fromarray(strip).resize(
            (strip.shape[1] * 6, strip.shape[0] * 6), Image.Resampling.NEAREST
        ).save(path)
        written.append(path)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--shots", help="also write comparison PNGs into this folder")
    args = p.parse_args()
    res = run()
    if args.shots:
        shots(Path(args.shots))
    if args.json:
        print(json.dumps(res))
        return
    for label, r in res.items():
        print(label)
        for k, v in r.items():
            print(f"  {k:<28} ΔE {v:6.2f}")


if __name__ == "__main__":
    main()
