"""The ε grid (key ``b``): one adversarial picture + prediction per budget, the first success
marked, Esc cancels, results cached with the explorer's (tiny CNN)."""

from __future__ import annotations

import threading

import pytest
import torch

from advtui import registry
from advtui.errors import AttackError, FlagError
from advtui.settings import AttackSettings
from advtui.tui.epsgrid import L2_GRID, LINF_GRID, budgets_for, parse_eps_grid
from advtui.tui.gridscreen import EpsGridScreen

from .conftest import SIZE, make_app, wait_for, wait_ready

#: every native attack of the registry, and one torchattacks attack
METHODS = [*registry.ATTACKS, "ta:PGD"]


@pytest.fixture
def counted(monkeypatch):
    """Counts the calls of the pipeline's run_attack (the grid must go through it)."""
    import advtui.pipeline

    calls: list[float] = []
    real = advtui.pipeline.run_attack

    def counting(model, x, settings, **kwargs):
        calls.append(settings.eps)
        return real(model, x, settings, **kwargs)

    monkeypatch.setattr(advtui.pipeline, "run_attack", counting)
    return calls


def _detector(tmp_path, sample_paths) -> list[str]:
    from .test_evidence_adaptive import _fit_tiny_detector

    det = tmp_path / "det"
    det.mkdir()
    _fit_tiny_detector(det, sample_paths)
    return ["--detector", str(det)]


async def _open_grid(pilot) -> EpsGridScreen:
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, EpsGridScreen), what="grid")
    screen = pilot.app.screen
    assert isinstance(screen, EpsGridScreen)
    return screen


async def _finish(pilot, screen: EpsGridScreen) -> None:
    await wait_for(pilot, lambda: not screen.running, timeout=120, what="grid done")
    await screen.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("method", METHODS)
async def test_grid_fills_one_picture_and_prediction_per_budget_first_success_marked(
    samples_dir, sample_paths, tmp_path, counted, method
):
    spec = registry.attack_spec(method)
    # the adaptive attack also lowers the detector's logit: more steps to fool the model too
    extra = [*_detector(tmp_path, sample_paths), "--steps", "10"] if spec.needs_detector else []
    app = make_app(str(samples_dir), "--method", method, *extra)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        # the second photo: every attack fools the tiny CNN there within 16/255 (on the first,
        # NI-FGSM's look-ahead lands short even at 10 steps, exactly as torchattacks' does)
        await pilot.press("j")
        await wait_ready(pilot)
        screen = await _open_grid(pilot)
        await _finish(pilot, screen)
        want = L2_GRID if spec.norm == "L2" else LINF_GRID
        assert [s.eps for s in screen.settings] == list(want)
        assert sorted(counted) == sorted(want)  # one pipeline attack per budget
        assert all(o is not None for o in screen.outcomes), screen.status
        for cell, outcome, eps in zip(screen.cells, screen.outcomes, want, strict=True):
            assert outcome.settings.eps == eps and outcome.settings.method == spec.name
            assert cell.picture.image is not None  # the adversarial picture
            assert cell.picture.image.size == (outcome.x_adv.shape[2], outcome.x_adv.shape[1])
            top = outcome.adv_top5[0]
            caption = cell.caption_text
            assert top["label"] in caption and caption.startswith("✓" if outcome.success else "✗")
        successes = [i for i, o in enumerate(screen.outcomes) if o.success]
        assert successes, f"{method}: no budget fooled the tiny CNN up to 16/255"
        first = successes[0]
        assert screen.first == first
        assert [c.has_class("-first") for c in screen.cells] == [
            i == first for i in range(len(want))
        ]
        assert screen.cells[first].border_subtitle == "first success"  # 160 columns: room
        label = screen.cells[first].border_title
        assert f"first success at {label}" in screen.status


async def test_grid_results_are_cached_and_shared_with_the_attack_key(samples_dir, counted):
    app = make_app(str(samples_dir), "--method", "pgd")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        screen = await _open_grid(pilot)
        await _finish(pilot, screen)
        assert len(counted) == len(LINF_GRID) and screen.computed == len(LINF_GRID)
        at_4 = screen.outcomes[LINF_GRID.index(4 / 255)]
        await pilot.press("escape")  # nothing runs: closes
        await wait_for(pilot, lambda: not isinstance(app.screen, EpsGridScreen), what="closed")
        # a second open shows every budget at once and attacks nothing
        screen = await _open_grid(pilot)
        await _finish(pilot, screen)
        assert len(counted) == len(LINF_GRID) and screen.computed == 0
        again = screen.outcomes[LINF_GRID.index(4 / 255)]  # the cached result (unpacked from
        # the cache's uint8 form, so a new object with the same images)
        assert again.settings == at_4.settings and torch.equal(again.x_adv, at_4.x_adv)
        assert all(c.picture.image is not None for c in screen.cells)
        await pilot.press("b")
        await wait_for(pilot, lambda: not isinstance(app.screen, EpsGridScreen), what="closed")
        # the explorer at ε 4/255 shows the grid's result: `a` has nothing left to do
        app.state.settings = app.state.settings.with_(eps=4 / 255)
        app.refresh_view()
        await pilot.pause()
        shown = app.state.current_outcome
        assert shown.settings == at_4.settings and torch.equal(shown.x_adv, at_4.x_adv)
        assert app.check_action("attack", ()) is None


async def test_esc_cancels_the_grid_and_no_later_result_arrives(samples_dir, monkeypatch):
    import advtui.pipeline

    gate, real, calls = threading.Event(), advtui.pipeline.run_attack, []

    def second_waits(model, x, settings, **kwargs):
        calls.append(settings.eps)
        if len(calls) == 2:
            gate.wait(60)  # the second budget is held until Esc has been pressed
        return real(model, x, settings, **kwargs)

    monkeypatch.setattr(advtui.pipeline, "run_attack", second_waits)
    app = make_app(str(samples_dir), "--method", "bim")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        screen = await _open_grid(pilot)
        await wait_for(pilot, lambda: len(calls) == 2, what="second budget started")
        await wait_for(pilot, lambda: screen.outcomes[0] is not None, what="first result")
        assert screen.running
        await wait_for(pilot, lambda: (screen.progress or (0,))[0] == 1, what="progress")
        assert str(screen.query_one("#grid-status").render()).startswith("ε 2/255 (4 left)")
        await pilot.press("escape")
        assert not screen.running and screen.cancelled
        gate.set()  # the held attack now sees the stop and ends
        await screen.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert [o is not None for o in screen.outcomes] == [True] + [False] * 4
        assert len(calls) == 2  # no budget started after Esc
        assert screen.status.startswith("cancelled (1 of 5 budgets done)")
        assert [c.caption_text for c in screen.cells[1:]] == ["cancelled"] * 4
        assert isinstance(app.screen, EpsGridScreen)  # Esc cancelled; it did not close
        await pilot.press("escape")  # now nothing runs: closes
        await wait_for(pilot, lambda: not isinstance(app.screen, EpsGridScreen), what="closed")


async def test_eps_grid_flag_sets_the_budgets(samples_dir, counted):
    app = make_app(str(samples_dir), "--method", "fgsm", "--eps-grid", "3/255, 1/255")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        screen = await _open_grid(pilot)
        await _finish(pilot, screen)
        assert [s.eps for s in screen.settings] == [1 / 255, 3 / 255]
        assert [c.border_title for c in screen.cells] == ["ε 1/255", "ε 3/255"]


async def test_an_attack_that_sizes_its_own_perturbation_has_no_grid(samples_dir):
    app = make_app(str(samples_dir), "--method", "ta:DeepFool")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")  # says why instead of doing nothing
        await pilot.pause()
        assert not isinstance(app.screen, EpsGridScreen)
        assert any("ε does not apply" in text for _title, text in app.notices)


def test_parse_eps_grid_sorts_and_refuses_bad_budgets():
    assert parse_eps_grid("4/255,1/255,2/255,1/255") == (1 / 255, 2 / 255, 4 / 255)
    assert parse_eps_grid("0.5, 1") == (0.5, 1.0)
    for bad, why in [
        ("1/255,x", "expected numbers"),
        ("0,1/255", "> 0"),
        ("-1", "> 0"),
        (",", "at least one"),
        ("1/0", "expected numbers"),
    ]:
        with pytest.raises(FlagError, match=why):
            parse_eps_grid(bad)
    with pytest.raises(FlagError, match="at most"):
        parse_eps_grid(",".join(f"{n}/255" for n in range(1, 20)))


def test_budgets_follow_the_norm_and_refuse_an_linf_budget_over_one():
    assert budgets_for(AttackSettings(method="pgd")) == LINF_GRID
    assert budgets_for(AttackSettings(method="pgdl2", eps=0.5)) == L2_GRID
    assert budgets_for(AttackSettings(method="pgdl2", eps=0.5), (3.0,)) == (3.0,)
    with pytest.raises(AttackError, match="over 1"):
        budgets_for(AttackSettings(method="pgd"), (8.0,))
    with pytest.raises(AttackError, match="ε does not apply"):
        budgets_for(AttackSettings(method="ta:CW"))


def test_bad_eps_grid_flag_is_one_line_on_the_command_line():
    from advtui.cli.common import UsageError
    from advtui.cli.tui import tui_parser

    with pytest.raises(UsageError) as err:
        tui_parser().parse_args(["--eps-grid", "1/255,nope"])
    text = str(err.value)
    assert "\n" not in text and "--eps-grid: 'nope': expected numbers like" in text
