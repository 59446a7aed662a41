"""The explorer's SHAP evidence equals the CLI pipeline's, and the detector's live verdict."""

from __future__ import annotations

import numpy as np
import pytest

from advtui.tui.widgets import EvidenceTable

from .conftest import SIZE, make_app, tiny_imagenet_classifier, wait_job, wait_ready


async def test_evidence_equals_the_cli_pipeline(small_folder):
    """Same attack, same leave-the-photo-out background, same seed → same numbers (on the
    tiny CNN: the pipelines must agree whatever the model)."""
    from advtui.explain import Explainer, background_from_folder
    from advtui.images import load_tensor
    from advtui.pipeline import explain_outcome, run_attack

    model = tiny_imagenet_classifier()
    app = make_app(str(small_folder), classifier=model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("e")
        await wait_job(pilot)
        tui = app.state.current_outcome
        path = app.state.entries[1].path
        settings = app.state.settings

    x = load_tensor(path, model.input_size)
    cli = run_attack(model, x, settings, image=str(path))
    bg = background_from_folder(small_folder, model.input_size, exclude=[path])
    explain_outcome(Explainer(model, bg, seed=settings.seed), cli, nsamples=8)
    assert tui.adv_top5 == cli.adv_top5
    for variant in ("clean", "adversarial"):
        a, b = tui.evidence[variant], cli.evidence[variant]
        assert a.class_index == b.class_index
        np.testing.assert_allclose(
            [a.mean_shap, a.pos_sum, a.neg_sum, a.top5_share],
            [b.mean_shap, b.pos_sum, b.neg_sum, b.top5_share],
            rtol=1e-4,
            atol=1e-9,
        )


def _fit_detector(folder, params: dict) -> None:
    from advtui.detect.features import N_QUANTILES
    from advtui.detect.saved import fit_detector

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (20, N_QUANTILES)), rng.normal(1, 1, (20, N_QUANTILES))])
    y = np.array([0] * 20 + [1] * 20)
    fit_detector(X, y, params).save(folder)


async def test_detector_verdicts_appear_in_the_evidence_table(small_folder, tmp_path):
    pytest.importorskip("advtui.detect")
    det_dir = tmp_path / "det"
    det_dir.mkdir()
    _fit_detector(det_dir, {"fixed": {"model": "tiny", "nsamples": 50}})
    app = make_app(str(small_folder), "--detector", str(det_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.detector is not None
        # fitted at nsamples=50, the tests run at 8: the user is warned
        warnings = [m for _, m in app.notices]
        assert any("--nsamples 50 (here 8): restart with --nsamples 50" in w for w in warnings)
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("e")
        await wait_job(pilot)
        outcome = app.state.current_outcome
        table = app.query_one(EvidenceTable)
        assert table.detector
        shown = "\n".join(table.render_line(y).text for y in range(table.size.height))
        for variant in ("clean", "adversarial"):
            expected = app.state.detector.score(outcome.attributions[variant])
            assert table.verdicts[variant] == pytest.approx(expected)
            assert 0.0 <= expected <= 1.0
            assert f"{expected:.2f}" in shown.splitlines()[-1]  # the detector row
        assert shown.splitlines()[-1].lstrip().startswith("P(adversarial)")
        assert str(table.border_subtitle).startswith("P(adversarial) by the SHAP-LR detector")


async def test_a_bad_detector_is_reported_and_the_app_keeps_working(small_folder, tmp_path):
    pytest.importorskip("advtui.detect")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "detector.json").write_text("{not json")
    app = make_app(str(small_folder), "--detector", str(bad))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.detector is None
        assert any("unreadable detector" in m for _, m in app.notices)
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("e")
        await wait_job(pilot)
        assert set(app.query_one(EvidenceTable).columns) == {"clean", "adversarial"}
        assert not app.query_one(EvidenceTable).detector


async def test_adaptive_joins_the_method_cycle_only_with_a_detector(small_folder, tmp_path):
    from advtui.settings import METHODS

    assert "adaptive" not in METHODS  # without a detector the cycle never offers it
    det_dir = tmp_path / "det"
    det_dir.mkdir()
    _fit_detector(det_dir, {"fixed": {"model": "efficientnet-lite0", "nsamples": 8}})
    app = make_app(str(small_folder), "--detector", str(det_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.detector is not None
        seen = []
        for _ in range(len(METHODS) + 1):
            await pilot.press("m")
            await pilot.pause()
            seen.append(app.state.settings.method)
        assert "adaptive" in seen and set(seen) == set(METHODS) | {"adaptive"}
