"""The explorer's result cache keeps to its byte budget, and an evicted result is computed again."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from PIL import Image

from advtui.tui.resultcache import HOT, OVERHEAD, ResultCache, outcome_bytes

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


@dataclasses.dataclass
class _Images:
    x: torch.Tensor
    x_adv: torch.Tensor
    maps: dict = dataclasses.field(default_factory=dict)
    attributions: dict = dataclasses.field(default_factory=dict)
    success: bool = True


def _on_grid(seed: int) -> _Images:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (3, 32, 32), generator=g).float() / 255
    x_adv = (x * 255 + torch.randint(-8, 9, x.shape, generator=g)).clamp(0, 255).round() / 255
    return _Images(x, x_adv)


def test_results_past_the_hot_ones_hold_uint8_images_and_come_back_bit_for_bit():
    made = {i: _on_grid(i) for i in range(HOT + 3)}
    float_bytes = outcome_bytes(made[0])
    cache = ResultCache(budget=10 * float_bytes)
    for i, o in made.items():
        cache[("img", i)] = o
    stored = dict(cache.items())
    cold = [i for i in made if stored[("img", i)].x.dtype == torch.uint8]
    assert cold == list(range(3))  # all but the HOT newest are packed
    assert cache.bytes == sum(outcome_bytes(o) for o in cache.values())
    packed_bytes = outcome_bytes(stored[("img", 0)])
    assert packed_bytes - OVERHEAD == (float_bytes - OVERHEAD) // 4
    back = cache.get(("img", 0))
    assert back.x.dtype == torch.float32 and torch.equal(back.x, made[0].x)
    assert torch.equal(back.x_adv, made[0].x_adv)
    assert cache.get(("img", 0)) is back  # in use: one object (the pictures' cache keys on it)
    # using it made it recent: the oldest hot one is packed now, the LRU order is the use order
    assert list(cache) == [("img", i) for i in (1, 2, 3, 4, 0)]
    assert dict(cache.items())[("img", 3)].x.dtype == torch.uint8
    assert dict(cache.items())[("img", 4)].x.dtype == torch.float32


def test_an_image_off_the_8_bit_grid_stays_float():
    off = _on_grid(0)
    off.x = off.x + 0.3 / 255  # not k/255: packing would change it
    cache = ResultCache()
    cache[("off",)] = off
    for i in range(HOT + 1):
        cache[("img", i)] = _on_grid(i)
    kept = dict(cache.items())[("off",)]
    assert kept.x.dtype == torch.float32 and torch.equal(kept.x, off.x)
    assert kept.x_adv.dtype == torch.uint8  # its adversarial is on the grid: packed
    assert torch.equal(cache.get(("off",)).x_adv, off.x_adv)


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


async def test_stepping_back_to_a_packed_result_shows_the_same_images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(HOT + 2):
        Image.new("RGB", (40, 40), (50 * i, 90, 150)).save(folder / f"{i}.jpg")
    app = make_app(str(folder))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("a")
        await wait_job(pilot)
        first = app.state.current_outcome
        x, x_adv = first.x.clone(), first.x_adv.clone()
        for _ in range(HOT + 1):
            await pilot.press("j")
            await pilot.pause()
            await pilot.press("a")
            await wait_job(pilot)
        stored = dict(app.state.outcomes.items())[app.state.key_for(app.state.entries[0])]
        assert stored.x.dtype == torch.uint8  # the oldest result is packed now
        await pilot.press("home")
        await pilot.pause()
        back = app.state.current_outcome
        assert back is not None and back.x_adv.dtype == torch.float32
        assert torch.equal(back.x, x) and torch.equal(back.x_adv, x_adv)
