"""`s` never overwrites: one folder per image path, any file name the file system allows."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from .conftest import SIZE, make_app, wait_for, wait_job, wait_ready


def _photo(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 40), colour).save(path)


async def _attack_and_save_each(app) -> list[Path]:
    """Attack and save every listed image in turn; the folders the notifications name."""
    folders = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for i in range(len(app.state.entries)):
            if i:
                await pilot.press("j")
                await pilot.pause()
            await pilot.press("a")
            await wait_job(pilot)
            await pilot.press("s")
            await wait_for(pilot, lambda: not app.state.saving, what="save")
            await pilot.pause()
            saved = [m for t, m in app.notices if t == "saved"]
            assert len(saved) == i + 1, list(app.notices)
            folders.append(Path(saved[-1].rsplit(" files to ", 1)[1]))
    return folders


async def test_same_stem_and_same_name_in_two_folders_save_to_two_folders(tmp_path):
    folder = tmp_path / "imgs"
    _photo(folder / "bird.jpg", (200, 30, 30))
    _photo(folder / "bird.png", (30, 200, 30))
    _photo(folder / "a" / "x.jpg", (30, 30, 200))
    _photo(folder / "b" / "x.jpg", (200, 200, 30))
    out = tmp_path / "out"
    app = make_app(str(folder), "--out", str(out))
    folders = await _attack_and_save_each(app)
    assert len(app.state.entries) == 4
    assert len(set(folders)) == 4 and sorted(out.iterdir()) == sorted(folders)
    for f in folders:
        assert {"clean.png", "adversarial.png", "result.json"} <= {p.name for p in f.iterdir()}
    names = sorted(f.name for f in folders)
    assert sum(n.startswith("bird-") for n in names) == 2
    assert sum(n.startswith("x-") for n in names) == 2


async def test_a_251_byte_file_name_saves_and_a_second_save_keeps_the_first(tmp_path):
    folder = tmp_path / "imgs"
    long = folder / ("é" * 125 + "z.jpg")  # 251 bytes + ".jpg": the longest name allowed
    assert len(long.name.encode()) == 255
    _photo(long, (120, 60, 200))
    out = tmp_path / "out"
    app = make_app(str(folder), "--out", str(out))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        for _ in range(2):  # the same image and settings twice: two folders, none replaced
            await pilot.press("s")
            await wait_for(pilot, lambda: not app.state.saving, what="save")
            await pilot.pause()
    errors = [m for t, m in app.notices if t == "error"]
    assert not errors, errors
    folders = sorted(out.iterdir())
    assert len(folders) == 2, folders
    for f in folders:
        assert len(f.name.encode()) <= 255 and f.name.startswith("é")
        assert (f / "result.json").is_file()


def test_save_folder_names_are_bounded_and_distinct(tmp_path):
    from advtui.tui.saving import MAX_NAME, save_folder

    a = save_folder(tmp_path, tmp_path / "a" / "x.jpg", "pgd-eps8-10steps-untargeted")
    b = save_folder(tmp_path, tmp_path / "b" / "x.jpg", "pgd-eps8-10steps-untargeted")
    assert a != b and a.name.startswith("x-") and b.name.startswith("x-")
    a.mkdir()
    again = save_folder(tmp_path, tmp_path / "a" / "x.jpg", "pgd-eps8-10steps-untargeted")
    assert again.name == a.name + "-2"  # an existing folder is never reused
    huge = save_folder(tmp_path, tmp_path / ("€" * 83 + ".jpg"), "pgd-eps8-10steps-untargeted")
    assert len(huge.name.encode()) <= MAX_NAME and huge.name.startswith("€")
    shutil.rmtree(a)
