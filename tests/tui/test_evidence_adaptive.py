"""With a detector loaded, the evidence table shows its P(adversarial) for the clean image, the
plain attack and the adaptive attack of the current image side by side (tiny CNN)."""

from __future__ import annotations

import numpy as np
import pytest

from advtui.tui.widgets import ConfidenceTable, EvidenceTable

from .conftest import SIZE, make_app, tiny_imagenet_classifier, wait_job, wait_ready

pytest.importorskip("advtui.detect")


def _fit_tiny_detector(folder, photos) -> None:
    """The paper's detector on the tiny CNN: sorted SHAP quantiles of the sample photos and of
    their PGD adversarials (what ``advtui eval`` fits on a real model)."""
    import torch

    from advtui.attacks import make_attack
    from advtui.detect.features import sorted_features
    from advtui.detect.saved import fit_detector
    from advtui.explain.shap import Explainer
    from advtui.images import load_tensor

    model = tiny_imagenet_classifier()
    x = torch.stack([load_tensor(p, model.input_size) for p in photos])
    adv = make_attack("pgd", model, eps=8 / 255, steps=3)(x, seeds=list(range(len(x)))).x_adv
    explainer = Explainer(model, x[:4])
    feats = [
        np.stack([sorted_features(a) for a in explainer.explain(v, nsamples=8).attributions])
        for v in (x, adv)
    ]
    y = np.r_[np.zeros(len(x)), np.ones(len(x))]
    fit_detector(np.concatenate(feats), y, {"fixed": {"model": "tiny", "nsamples": 8}}).save(folder)


def _lines(table: EvidenceTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def _p_row(table: EvidenceTable) -> list[str]:
    """The cells of the P(adversarial) row (the table's last line), split on runs of spaces."""
    line = _lines(table)[-1].strip()
    assert line.startswith(("P(adversarial)", "P(adv)")), line
    return [c for c in line.split("  ") if c.strip()][1:]


@pytest.mark.parametrize(("size", "beside"), [(SIZE, True), ((80, 24), False)])
async def test_clean_plain_and_adaptive_scores_side_by_side(
    small_folder, sample_paths, tmp_path, size, beside
):
    det_dir = tmp_path / "det"
    det_dir.mkdir()
    _fit_tiny_detector(det_dir, sample_paths)
    app = make_app(str(small_folder), "--detector", str(det_dir), "--method", "pgd")
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        assert app.state.detector is not None
        await pilot.press("j")  # past the corrupt file to a photo
        await pilot.pause()
        if size == (80, 24):
            await pilot.press("v")  # the narrow layout shows the evidence in the SHAP view
            await pilot.pause()
        table = app.query_one(EvidenceTable)
        await pilot.press("e")  # the plain attack (PGD), explained and scored
        await wait_job(pilot)
        assert list(table.headers.values()) == ["clean", "PGD", "adaptive"]
        assert table.placeholders == {"adaptive": "press m\n→ adaptive\nthen e"}
        assert _p_row(table)[-1].strip() == "—"
        shown = _lines(table)  # the hint reads down the adaptive column, below its header
        assert [line.split()[-2:] for line in shown[1:4]] == [
            ["press", "m"],
            ["→", "adaptive"],
            ["then", "e"],
        ]

        await pilot.press("m")  # PGD is the cycle's last plain method: next is adaptive
        await pilot.pause()
        assert app.state.settings.method == "adaptive"
        assert table.placeholders == {"adaptive": "press e"}  # the plain column stays
        assert set(table.verdicts) == {"clean", "adversarial"}
        await pilot.press("e")  # the adaptive attack at the same settings
        await wait_job(pilot, timeout=300)

        entry = app.state.current_entry
        plain = app.state.outcomes[app.state.key_for(entry, app.state.settings.with_(method="pgd"))]
        adaptive = app.state.current_outcome
        assert adaptive.settings.method == "adaptive" and plain.settings.method == "pgd"
        expected = {
            "clean": app.state.detector.score(plain.attributions["clean"]),
            "adversarial": app.state.detector.score(plain.attributions["adversarial"]),
            "adaptive": app.state.detector.score(adaptive.attributions["adversarial"]),
        }
        assert table.placeholders == {}
        assert table.verdicts == pytest.approx(expected, abs=1e-9)
        assert app.state.detector.score(adaptive.attributions["clean"]) == pytest.approx(
            expected["clean"], abs=1e-9
        )  # the same clean image, the same SHAP draws
        shown = _p_row(table)
        assert len(shown) == 3
        for cell, column in zip(shown, ("clean", "adversarial", "adaptive"), strict=True):
            assert cell.strip().endswith(f"{expected[column]:.2f}"), (cell, expected)
        header = _lines(table)[0].split()
        assert header == ["clean", "PGD", "adaptive"]
        assert all(len(line.rstrip()) <= table.size.width for line in _lines(table))
        # wide: the three-column table sits beside the confidence table and ends on its row
        # (at 80×24 the two are not side by side)
        bottom = app.query_one(ConfidenceTable).region.bottom
        assert (table.region.bottom == bottom) == beside
