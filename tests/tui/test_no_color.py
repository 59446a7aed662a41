"""NO_COLOR: the maps keep the sign of the evidence in shades of grey, and the legend says so."""

from __future__ import annotations

import numpy as np
from PIL import Image
from textual.widgets import Static

from advtui.render import heatmap_rgb
from advtui.tui.pixels import PixelView
from advtui.tui.widgets import ColorScale

from .conftest import SIZE, make_app, wait_job, wait_ready


def test_the_colourless_scale_tells_for_from_against():
    v = np.array([[-1.0, -0.5, 0.0, 0.5, 1.0]], dtype=np.float32)
    rgb = heatmap_rgb(v, scale=1.0, mono=True)[0].astype(int)
    assert (rgb[:, 0] == rgb[:, 1]).all() and (rgb[:, 1] == rgb[:, 2]).all()  # grey only
    grey = rgb[:, 0]
    assert list(grey) == sorted(grey, reverse=True)  # light (against) … dark (for)
    assert grey[0] == 255 and grey[-1] <= 1 and abs(int(grey[2]) - 128) <= 1
    # equal evidence for and against look different (colour would have told them apart)
    assert abs(int(grey[1]) - int(grey[3])) > 100


async def test_no_color_maps_are_signed_greys_and_the_legend_says_what_is_seen(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("NO_COLOR", "1")
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("RGB", (40, 40), (200, 120, 40)).save(folder / "a.jpg")
    app = make_app(str(folder))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_job(pilot)
        await pilot.pause()
        assert app.no_color
        maps = app.state.current_outcome.maps
        for pid, variant in (("p-shap-clean", "clean"), ("p-shap-adv", "adversarial")):
            img = np.asarray(app.query_one(f"#{pid}", PixelView).image.convert("RGB"), int)
            assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
            m = np.asarray(maps[variant])
            m = m.sum(axis=0) if m.ndim == 3 else m
            assert (m > 0).any() and (m < 0).any()  # evidence both ways ...
            assert img.min() < 120 and img.max() > 136, (img.min(), img.max())  # ... both shown
        legend = str(app.query_one("#legend-note", Static).render())
        assert "dark = evidence for the top class, light = against" in legend
        assert "red" not in legend and "blue" not in legend
        bar = app.query_one(ColorScale).build(60).plain
        assert "light: against" in bar and "dark: for" in bar
