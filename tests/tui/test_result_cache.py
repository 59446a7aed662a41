"""The explorer's result cache keeps to its byte budget, and an evicted result is computed again."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from advtui.tui.resultcache import OVERHEAD, ResultCache, outcome_bytes

from .conftest import SIZE, make_app, wait_job, wait_ready


class _Result:
    def __init__(self, kb: int, success: bool = True) -> None:
        self.x = torch.zeros(kb * 256)  # kb KiB of float32
        self.x_adv = None
        self.maps = {"clean": np.zeros(0, np.float32)}
        self.attributions: dict = {}
        self.success = success


def test_the_cache_never_exceeds_its_budget_and_evicts_the_least_recently_used():
    one = outcome_bytes(_Result(100))
    assert one == 100 * 1024 + OVERHEAD
    cache = ResultCache(budget=3 * one)
    for i in range(10):
        cache[("img", "m", i)] = _Result(100, success=i % 2 == 0)
        cache.get(("img", "m", 0))  # used again and again: stays
        assert cache.bytes <= cache.budget
        assert cache.bytes == sum(outcome_bytes(o) for o in cache.values())
    assert len(cache) == 3 and cache.evicted == 7
    assert ("img", "m", 0) in cache and ("img", "m", 9) in cache and ("img", "m", 1) not in cache
    assert cache.get(("img", "m", 1)) is None  # evicted: the explorer computes it again
    assert cache.successes("img") == [i % 2 == 0 for i in range(10)]  # the marks outlive it
    big = ResultCache(budget=10)
    big[("a",)] = _Result(100)
    assert len(big) == 1  # the newest is kept whatever its size


async def test_an_evicted_result_is_attacked_again(tmp_path, monkeypatch):
    import advtui.tui.resultcache

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (60 * i, 90, 150)).save(folder / f"{i}.jpg")
    monkeypatch.setattr(advtui.tui.resultcache, "DEFAULT_BUDGET", 1)  # room for one result only
    app = make_app(str(folder))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        first_key, first = app.state.current_key, app.state.current_outcome
        assert first is not None
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("a")
        await wait_job(pilot)
        assert len(app.state.outcomes) == 1 and app.state.outcomes.get(first_key) is None  # evicted
        await pilot.press("k")
        await pilot.pause()
        assert app.state.current_key == first_key and app.state.current_outcome is None
        await pilot.press("a")  # computed again, the same seeded attack
        await wait_job(pilot)
        again = app.state.current_outcome
        assert again is not None and again is not first
        assert torch.equal(again.x_adv, first.x_adv)


async def test_explained_results_without_a_detector_drop_the_raw_attributions(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("RGB", (40, 40), (200, 90, 10)).save(folder / "a.jpg")
    app = make_app(str(folder))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_job(pilot)
        outcome = app.state.current_outcome
        assert outcome.maps and outcome.evidence  # what the pictures and `s` need stays
        assert app.state.detector is None and outcome.attributions == {}  # nothing needs them


async def test_footer_rebuilds_leave_no_key_widgets_behind(tmp_path):
    import gc
    import weakref

    from textual.widgets._footer import FooterKey

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        Image.new("RGB", (40, 40), (100 * i, 40, 90)).save(folder / f"{i}.jpg")
    # FooterKeys of apps that earlier tests in this process left to the garbage collector
    # are not this app's: count only those made after this point
    gc.collect()
    earlier = weakref.WeakSet(o for o in gc.get_objects() if isinstance(o, FooterKey))
    app = make_app(str(folder))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for key in ("a", "j", "a", "k", "a"):  # each job dims and restores keys: rebuilds
            await pilot.press(key)
            await wait_job(pilot)
            await pilot.pause()
        await pilot.pause(0.3)
        gc.collect()
        attached = len(app.query(FooterKey))
        alive = sum(isinstance(o, FooterKey) and o not in earlier for o in gc.get_objects())
        assert attached > 0 and alive == attached, (alive, attached)
