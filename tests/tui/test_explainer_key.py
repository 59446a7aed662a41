"""Pilot: ``x`` cycles the explainer; panels, evidence title and saved files name the method."""

from __future__ import annotations

import json

import pytest
from rich.text import Text

from advtui import registry
from advtui.tui.pixels import PixelView
from advtui.tui.screens import KEYS
from advtui.tui.widgets import EvidenceTable

from .conftest import SIZE, make_app, wait_for, wait_job, wait_ready

pytestmark = pytest.mark.slow


def title(app, wid: str) -> str:
    """A panel's border title as plain text."""
    return Text.from_markup(str(app.query_one(f"#{wid}", PixelView).border_title)).plain


async def test_x_cycles_the_explainer_and_e_explains_with_it(small_folder, tmp_path):
    out = tmp_path / "out"
    app = make_app(str(small_folder), "--out", str(out))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("j")  # a readable photo
        await wait_ready(pilot)
        assert app.state.explainer_label == "SHAP"
        assert title(app, "p-shap-clean").startswith("SHAP clean")

        await pilot.press("x")
        await wait_ready(pilot)
        assert app.state.explainer_label == "IG"
        assert str(app.query_one("#evidence").border_title) == "IG evidence (top class)"
        assert title(app, "p-shap-clean").startswith("IG clean")

        await pilot.press("e")  # attack, then IG on both images
        await wait_job(pilot)
        outcome = app.state.current_outcome
        assert outcome.explainer == "ig"
        assert set(app.query_one(EvidenceTable).columns) == {"clean", "adversarial"}
        assert title(app, "p-shap-adv").startswith("IG adversarial")
        assert app.check_action("explain", ()) is None  # explained with IG already

        await pilot.press("x")  # saliency: the IG maps keep their name until e
        await wait_ready(pilot)
        assert app.state.explainer_label == "saliency"
        assert title(app, "p-shap-clean").startswith("IG clean")
        assert app.check_action("explain", ()) is True
        await pilot.press("e")
        await wait_job(pilot)
        assert app.state.current_outcome.explainer == "saliency"
        assert title(app, "p-shap-clean").startswith("saliency clean")

        await pilot.press("s")
        await wait_for(pilot, lambda: not app.state.saving, what="save")
        (folder,) = out.iterdir()
        files = {p.name for p in folder.iterdir()}
        assert {"saliency_clean.png", "saliency_adversarial.png"} <= files
        assert not {f for f in files if f.startswith("shap_")}
        assert json.loads((folder / "result.json").read_text())["explainer"] == "saliency"

        names = list(registry.EXPLAINERS)  # the cycle is the registry's order: round to SHAP again
        await pilot.press(*["x"] * (len(names) - names.index("saliency")))
        await wait_ready(pilot)
        assert app.state.explainer_label == "SHAP"
        assert app.state.explainer_error is None


async def test_explainer_flag_starts_the_explorer_on_that_method(samples_dir):
    app = make_app(str(samples_dir), "--explainer", "smoothgrad")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.explainer_label == "SmoothGrad"
        assert str(app.query_one("#legend").border_title) == "SmoothGrad colour scale"


def test_x_is_bound_and_in_the_help_screen():
    from advtui.tui.app import AdvtuiApp

    assert any(b.key == "x" and b.action == "cycle_explainer" for b in AdvtuiApp.BINDINGS)
    (help_x,) = [what for key, what in KEYS if key == "x"]
    assert all(s.label in help_x for s in registry.EXPLAINERS.values())
