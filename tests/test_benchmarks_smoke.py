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
    from advtui.images import Found, walk_images
    from advtui.labels import folder_classes
    from benchmarks.scale import make_folders

    flat, tree = make_folders(tmp_path, files=12, classes=4, per_class=2)
    assert len([f for f in walk_images(flat) if isinstance(f, Found)]) == 12
    found = [f for f in walk_images(tree) if isinstance(f, Found)]
    assert len(found) == 8
    assert len(folder_classes({f.folder for f in found}, 4)) == 4


def test_chafa_output_is_parsed_back_into_its_pixels():
    """benchmarks.chafa reads chafa's half-block ANSI: ▄ = bg over fg, ▀ = fg over bg, a
    space both bg, █ both fg, SGR 0 resets; the result is xterm RGB per pixel."""
    from advtui.render import xterm_rgb
    from benchmarks.chafa import parse_ansi

    text = (
        "\x1b[?25l\x1b[0m\x1b[38;5;196;48;5;21m▄▀\x1b[48;5;46m \x1b[0m\x1b[38;5;226m█\n"
        "\x1b[38;5;16;48;5;231m▀▀\x1b[49m▄\x1b[39m▄\x1b[0m\n\x1b[?25h"
    )
    got = parse_ansi(text, 4, 4)
    want = np.array([[21, 196, 46, 226], [196, 21, 46, 226], [16, 16, 0, 0], [231, 231, 16, 7]])
    np.testing.assert_array_equal(got, xterm_rgb(want))
    with pytest.raises(ValueError, match="not 4×2"):
        parse_ansi("\x1b[0m▄▄\n", 4, 4)


def test_results_view_bench_opens_a_synthetic_run(tmp_path):
    from advtui.eval.browse import open_run
    from benchmarks.results_view import first_screen, full_index, make_run

    run_dir = make_run(tmp_path / "run", 60)
    assert first_screen(run_dir) > 0
    seconds, held = full_index(run_dir)
    assert seconds > 0 and held > 0
    run = open_run(run_dir)
    run.scan()
    assert len(run) == 60 and run.detectors == [
        "shap-lr",
        "shap-rf",
        "confidence",
        "squeeze",
        "mahalanobis",
    ]
    score, caught = run.scores(None, None)
    assert np.isfinite(score).all(axis=1).sum() == 60  # every row scored in the pooled block


def test_detector_bench_smoke_reports_every_detector_and_peak_rss():
    """The detector-phase benchmark's smoke case in a fresh process: a figure per registry
    detector that was fitted on every fold, the phase and its peak RSS."""
    from advtui.registry import DEFAULT_DETECTORS
    from benchmarks.detectors import QUICK, bench_detectors

    figures, res = bench_detectors(quick=True, threads=1)
    assert set(res["detectors"]) == set(DEFAULT_DETECTORS)
    assert all(d["folds"] == res["folds"] == QUICK[4] for d in res["detectors"].values())
    assert res["peak_rss_mb"] > 0 and res["phase_wall_s"] > 0
    names = [f.name for f in figures]
    assert "detector phase (all detectors)" in names and "detector phase peak RSS" in names


def test_run_knows_the_detector_section():
    from benchmarks.run import parse_args

    assert parse_args(["--only", "detectors"]).sections == ["detectors"]


def test_detector_bench_times_the_eval_whole_detector_phase():
    """``--summary MODES``: report.summarize on synthetic rows, every detector per mode."""
    from advtui.registry import DEFAULT_DETECTORS
    from benchmarks.detectors import run_summary

    res = run_summary(photos=24, classes=5, dims=8, width=16, folds=2, modes=3)
    assert res["rows"] == 24 * 4 and res["targets"] == ["untargeted", "random", "nearest"]
    assert set(res["pooled_auc"]) == set(DEFAULT_DETECTORS)
    assert all(v is not None and 0.0 <= v <= 1.0 for v in res["pooled_auc"].values())


@pytest.mark.slow
def test_tui_memory_bench_quick_mode_reports_a_ratio():
    from benchmarks.tui_memory import bench_tui_memory

    fig, data = bench_tui_memory(attacks=3, explanations=1, steps=1, nsamples=4)
    assert data["fresh"]["attacks"] == 1 and data["long"]["attacks"] == 3
    assert data["long"]["explanations"] == 1 and data["long"]["cached_results"] == 3
    assert fig.ratio == data["long"]["peak_mb"] / data["fresh"]["peak_mb"]
    assert data["long"]["cache_mb"] <= 96  # the cache's budget (advtui.tui.resultcache)
    json.dumps(data)
