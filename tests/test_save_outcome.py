"""save_outcome writes SHAP heatmaps with a legend at one shared scale, and records the scale."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from advtui.explain.evidence import Evidence
from advtui.pipeline import AttackSettings, Outcome, save_outcome
from advtui.render import heatmap_image, heatmap_legend, heatmap_scale

SIZE = 32


def _evidence(index: int, label: str) -> Evidence:
    return Evidence(index, label, 1e-4, 1.0, -0.5, 0.2, 3.0, 0.9)


def _outcome(explained: bool = True) -> Outcome:
    rng = np.random.default_rng(0)
    x = torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    x_adv = (x + 4 / 255).clamp(0, 1)
    o = Outcome(
        image="cat.jpg",
        model="tiny",
        settings=AttackSettings(),
        alpha=2 / 255,
        x=x,
        x_adv=x_adv,
        clean_top5=[{"index": 1, "label": "tabby", "prob": 0.9}],
        adv_top5=[{"index": 2, "label": "toaster", "prob": 0.8}],
        target=None,
        success=True,
        linf=4 / 255,
        rounding_undid=False,
        steps_run=10,
    )
    if explained:
        # the adversarial map is 5× stronger: the shared scale is its percentile
        o.maps = {
            "clean": rng.normal(0, 1e-4, (SIZE, SIZE)).astype(np.float32),
            "adversarial": rng.normal(0, 5e-4, (SIZE, SIZE)).astype(np.float32),
        }
        o.evidence = {"clean": _evidence(1, "tabby"), "adversarial": _evidence(2, "toaster")}
    return o


def test_heatmaps_keep_map_pixels_at_the_shared_scale_with_a_legend(tmp_path):
    o = _outcome()
    written = save_outcome(o, tmp_path)
    scale = max(heatmap_scale(m) for m in o.maps.values())
    assert o.shap_scale == scale == pytest.approx(heatmap_scale(o.maps["adversarial"]))
    bars = []
    for variant, label in [("clean", "tabby"), ("adversarial", "toaster")]:
        path = tmp_path / f"shap_{variant}.png"
        assert path in written
        with Image.open(path) as im:
            info = dict(im.info)
            arr = np.asarray(im.convert("RGB"))
        np.testing.assert_array_equal(
            arr[:SIZE, :SIZE], np.asarray(heatmap_image(o.maps[variant], scale=scale))
        )
        legend = heatmap_legend(SIZE, scale, title=f"class: {label} ({variant})")
        assert arr.shape[0] == SIZE + legend.image.height
        x0, y0, x1, y1 = legend.bar
        bar = arr[SIZE + y0 : SIZE + y1 + 1, x0 : x1 + 1]
        assert tuple(bar[0, 0]) == (0, 139, 251) and tuple(bar[0, -1]) == (255, 0, 81)
        assert tuple(bar[0, (x1 - x0) // 2]) == (255, 255, 255)
        bars.append(bar)
        assert float(info["advtui:shap_scale"]) == scale
        assert info["advtui:map_box"] == f"0 0 {SIZE} {SIZE}"
        assert info["advtui:class"] == label
    np.testing.assert_array_equal(*bars)  # one scale, one bar
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["shap_scale"] == scale and data == o.to_json()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp files left"


def test_result_json_keys_unchanged_without_maps(tmp_path):
    o = _outcome(explained=False)
    save_outcome(o, tmp_path)
    data = json.loads((tmp_path / "result.json").read_text())
    assert "shap_scale" not in data and "evidence" not in data
    assert o.shap_scale is None
    assert {p.name for p in tmp_path.iterdir()} == {
        "clean.png",
        "adversarial.png",
        "perturbation.png",
        "result.json",
    }
