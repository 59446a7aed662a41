"""Finding, loading and validating images: every bad kind gives a one-line ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from advtui.errors import ImageError
from advtui.images import find_images, load_image, load_tensor, resize_center_crop, save_png, to_pil


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def test_find_images_sorted_by_extension_skipping_dirs_and_hidden(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.webp", "d.txt", ".hidden.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.jpg").mkdir()
    assert [p.name for p in find_images(tmp_path)] == ["a.jpg", "b.PNG", "c.webp"]


def test_find_images_errors(tmp_path):
    with pytest.raises(ImageError, match="no such folder"):
        find_images(tmp_path / "missing")
    with pytest.raises(ImageError, match="no images found"):
        find_images(tmp_path)
    (tmp_path / "f.jpg").write_bytes(b"x")
    with pytest.raises(ImageError, match="not a folder"):
        find_images(tmp_path / "f.jpg")


@pytest.mark.parametrize(
    "mode, fill",
    [
        ("L", 128),
        ("LA", (128, 0)),
        ("RGBA", (10, 20, 30, 0)),
        ("CMYK", (0, 0, 0, 0)),
        ("I;16", 65535),
        ("1", 1),
    ],
)
def test_odd_modes_become_rgb(tmp_path, mode, fill):
    path = _save(
        Image.new(mode, (20, 10), fill),
        tmp_path / "x.png" if mode != "CMYK" else tmp_path / "x.tiff",
    )
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (20, 10)
    if mode == "RGBA":  # fully transparent → composited on white
        assert img.getpixel((0, 0)) == (255, 255, 255)
    if mode == "I;16":  # 16-bit full scale → 8-bit full scale
        assert img.getpixel((0, 0)) == (255, 255, 255)


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0] * 256)
    img.info["transparency"] = 0
    path = _save(img, tmp_path / "p.png", transparency=0)
    assert load_image(path).getpixel((0, 0)) == (255, 255, 255)


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    r, g, b = load_image(path).getpixel((4, 4))
    assert r > 200 and b < 50


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = _save(img, tmp_path / "rot.jpg", exif=exif.tobytes())
    assert load_image(path).size == (20, 40)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.jpg", b"", "empty file"),
        ("text.png", b"hello, I am not an image\n" * 10, "not an image"),
    ],
)
def test_bad_files(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as err:
        load_image(path)
    assert "\n" not in str(err.value) and name in str(err.value)


def test_truncated_and_corrupt(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        buf, "JPEG"
    )
    data = buf.getvalue()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="trunc.jpg"):
        load_image(tmp_path / "trunc.jpg")
    corrupt = bytearray(data)
    corrupt[200:600] = b"\x00" * 400
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(corrupt[8:100]))
    with pytest.raises(ImageError, match="corrupt.png"):
        load_image(tmp_path / "corrupt.png")


def test_missing_directory_named_like_image_and_bomb(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path / "dir.jpg")
    path = _save(Image.new("L", (3000, 3000)), tmp_path / "big.png")
    with pytest.raises(ImageError, match="too large"):
        load_image(path, max_pixels=1_000_000)


def test_resize_center_crop_and_tensor_roundtrip(tmp_path):
    img = Image.new("RGB", (400, 200), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 100, 200))  # blue left quarter is cropped away
    out = resize_center_crop(img, 64)
    assert out.size == (64, 64)
    assert out.getpixel((32, 32)) == (255, 0, 0)
    path = _save(img, tmp_path / "r.png")
    x = load_tensor(path, 64)
    assert tuple(x.shape) == (3, 64, 64) and float(x.max()) <= 1 and float(x.min()) >= 0
    save_png(to_pil(x), tmp_path / "out" / "x.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "x.png")), np.asarray(out))


def test_atomic_write_respects_umask_and_leaves_no_temp(tmp_path):
    import os
    import stat

    from advtui.images import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
