"""The app factory takes a built model: the whole explorer pipeline on a tiny CNN."""

from __future__ import annotations

from .conftest import SIZE, make_app, tiny_imagenet_classifier, wait_job, wait_ready


async def test_injected_model_is_used_for_predictions_attacks_and_shap():
    model = tiny_imagenet_classifier()
    app = make_app("--steps", "2", classifier=model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.state.model is model
        entry = app.state.current_entry
        top5 = app.state.predictions[(str(entry.path), "tiny")]
        assert len(top5) == 5 and top5[0]["label"] in model.class_names
        await pilot.press("e")  # attack, then SHAP for both predictions
        await wait_job(pilot)
        outcome = app.state.current_outcome
        assert outcome is not None and outcome.model == "tiny" and outcome.steps_run <= 2
        assert set(outcome.evidence) == {"clean", "adversarial"}
        assert set(outcome.maps) == {"clean", "adversarial"}
