"""benchmarks/ plumbing on a tiny model: figures, ratios, JSON keys, and an honest floor.

Never asserts on times — only that the measurements run and are reported consistently.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from benchmarks.common import Figure, interleaved
from tests.conftest import make_tiny_classifier


def test_figure_ratio_target_and_json():
    fig = Figure("x", 2.0, 4.0, "ref", target=1.0)
    assert fig.ratio == 0.5 and fig.ok is True
    assert "0.50× ref" in fig.line() and "ok" in fig.line()
    assert Figure("y", 30.0, unit="ms", target=20.0).ok is False
    assert "n/a (why)" in Figure("z", None, note="why").line()
    json.dumps(fig.to_dict())


def test_interleaved_runs_each_warmup_plus_repeats():
    calls = {"a": 0, "b": 0}
    out = interleaved(
        {k: (lambda k=k: calls.__setitem__(k, calls[k] + 1)) for k in calls}, repeats=3
    )
    assert calls == {"a": 4, "b": 4} and set(out) == {"a", "b"}
    assert all(t.wall >= 0 and t.cpu >= 0 for t in out.values())


def test_attack_bench_on_tiny_model():
    from benchmarks.attack import bench_attacks

    figures, worst = bench_attacks(make_tiny_classifier(), torch.rand(2, 3, 16, 16), (1,), 1)
    assert len(figures) == 6 and all(f.value > 0 for f in figures)
    if worst is not None:  # torchattacks installed
        assert worst == max(f.ratio for f in figures if f.ref_name == "torchattacks")


@pytest.mark.parametrize("layer", [None, "conv"])
def test_explain_floor_computes_the_same_attributions(layer):
    from advtui.explain import Explainer
    from benchmarks.explain import floor_fn

    model = make_tiny_classifier()
    bg, x = torch.rand(3, 3, 16, 16), torch.rand(1, 3, 16, 16)
    explainer = Explainer(model, bg, layer=layer, batch_size=8)
    got = explainer.explain(x, classes=[4], nsamples=20).attributions[0]
    floor = floor_fn(explainer, x, 4, 20)().detach().numpy()
    np.testing.assert_allclose(floor, got, rtol=1e-4, atol=1e-7)


def test_explain_bench_reports_headline_ratios():
    pytest.importorskip("shap")
    from benchmarks.explain import bench_explain

    model = make_tiny_classifier()
    figures, headline = bench_explain(
        model, torch.rand(3, 3, 16, 16), torch.rand(1, 3, 16, 16), [(None, 50)], repeats=1
    )
    assert set(headline) == {"explain_vs_shap_default", "explain_vs_floor"}
    assert all(f.ratio is not None and f.ratio > 0 for f in figures)


def test_run_parses_sections():
    from benchmarks.run import parse_args

    assert "sweep" not in parse_args(["--quick"]).sections
    assert parse_args(["--only", "attack,rss"]).sections == ["attack", "rss"]
    with pytest.raises(SystemExit):
        parse_args(["--only", "nope"])


def test_colour_error_figure_orders_truecolour_dithered_nearest():
    from benchmarks.colours import run

    res = run()
    assert set(res) == {"80×24", "100×30", "160×50"}
    for size in res.values():
        blocks = {k.split(",")[0]: v for k, v in size.items() if k.endswith("2×2 cells")}
        assert blocks["truecolour"] < blocks["256 dithered"] < blocks["256 nearest"]


def test_half_block_bench_builds_the_same_picture_both_ways():
    pytest.importorskip("rich_pixels")
    from benchmarks.pixels import run

    res = run(repeats=1)
    for r in res.values():
        assert r["advtui_new_image_ms"] > 0 and r["rich_pixels_new_image_ms"] > 0
        assert abs(r["advtui_segments"] - r["rich_pixels_segments"]) <= r["advtui_segments"] // 50


def test_scale_benchmark_builds_a_flat_folder_and_a_synset_tree(tmp_path):
    from advtui.images import Found, folder_classes, walk_images
    from benchmarks.scale import make_folders

    flat, tree = make_folders(tmp_path, files=12, classes=4, per_class=2)
    assert len([f for f in walk_images(flat) if isinstance(f, Found)]) == 12
    found = [f for f in walk_images(tree) if isinstance(f, Found)]
    assert len(found) == 8
    assert len(folder_classes({f.folder for f in found}, 4)) == 4


@pytest.mark.slow
def test_tui_memory_bench_quick_mode_reports_a_ratio():
    from benchmarks.tui_memory import bench_tui_memory

    fig, data = bench_tui_memory(attacks=3, explanations=1, steps=1, nsamples=4)
    assert data["fresh"]["attacks"] == 1 and data["long"]["attacks"] == 3
    assert data["long"]["explanations"] == 1 and data["long"]["cached_results"] == 3
    assert fig.ratio == data["long"]["peak_mb"] / data["fresh"]["peak_mb"]
    assert data["long"]["cache_mb"] <= 96  # the cache's budget (advtui.tui.results)
    json.dumps(data)
