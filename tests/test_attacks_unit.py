"""Attacks on a tiny CNN with exact expected tensors (no real model needed)."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from advtui.attacks import make_attack, parse_fraction, quantize
from advtui.attacks.bim import BIM
from advtui.attacks.fgsm import FGSM
from advtui.attacks.pgd import PGD
from advtui.errors import AttackError, Cancelled
from advtui.registry import ATTACKS
from tests.conftest import make_tiny_classifier


def _grid_image(seed: int = 0, n: int = 2, size: int = 16) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=gen).float() / 255.0


def _grad(model, x, labels, target=None):
    x = x.clone().requires_grad_(True)
    goal = target if target is not None else labels
    loss = F.cross_entropy(model(x), goal, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    return g


@pytest.mark.parametrize("eps", ["8/255", 4 / 255, "0.02"])
def test_parse_fraction_accepts_fractions_and_floats(eps):
    assert parse_fraction(eps) == pytest.approx(eval(str(eps)) if "/" in str(eps) else float(eps))


@pytest.mark.parametrize("bad", ["abc", "2", "-1/255", "1/0", "nan"])
def test_parse_fraction_rejects_bad_values(bad):
    with pytest.raises(AttackError):
        parse_fraction(bad, "eps")


def test_fgsm_equals_eps_sign_gradient_by_hand():
    model = make_tiny_classifier()
    x = _grid_image()
    eps = 4 / 255
    labels = model(x).argmax(1)
    expected = (x + eps * _grad(model, x, labels).sign()).clamp(0, 1)
    expected = quantize(expected, x, eps)
    result = FGSM(model, eps=eps)(x)
    torch.testing.assert_close(result.x_adv, expected, rtol=0, atol=1e-7)
    # on the grid, the FGSM step moves every pixel with nonzero gradient by exactly 4/255 (or clips)
    moved = (result.x_adv - x).abs() * 255
    interior = (x > eps) & (x < 1 - eps)
    assert torch.allclose(moved[interior], torch.full_like(moved[interior], 4.0), atol=1e-4)


def test_fgsm_targeted_descends_target_loss():
    model = make_tiny_classifier()
    x = _grid_image()
    target = torch.tensor([3, 7])
    eps = 2 / 255
    labels = model(x).argmax(1)
    expected = quantize((x - eps * _grad(model, x, labels, target).sign()).clamp(0, 1), x, eps)
    result = FGSM(model, eps=eps)(x, target)
    torch.testing.assert_close(result.x_adv, expected, rtol=0, atol=1e-7)


def test_bim_steps_from_previous_iterate_and_projects_each_step():
    model = make_tiny_classifier()
    x = _grid_image(1)
    eps, alpha, steps = 3 / 255, 2 / 255, 4
    labels = model(x).argmax(1)
    xa = x.clone()
    for _ in range(steps):  # the reference loop, by hand
        xa = xa + alpha * _grad(model, xa, labels).sign()
        xa = torch.min(torch.max(xa, x - eps), x + eps).clamp(0, 1)
    result = BIM(model, eps=eps, alpha=alpha, steps=steps)(x)
    torch.testing.assert_close(result.x_adv, quantize(xa, x, eps), rtol=0, atol=1e-6)
    assert result.steps_run == steps


def test_pgd_random_start_is_seeded_and_differs_from_bim():
    model = make_tiny_classifier()
    x = _grid_image(2)
    a = PGD(model, eps=8 / 255, steps=3, seed=1)(x).x_adv
    b = PGD(model, eps=8 / 255, steps=3, seed=1)(x).x_adv
    c = PGD(model, eps=8 / 255, steps=3, seed=2)(x).x_adv
    d = BIM(model, eps=8 / 255, steps=3)(x).x_adv
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, d)


@pytest.mark.parametrize("method", sorted(n for n, s in ATTACKS.items() if not s.needs_detector))
@pytest.mark.parametrize("eps", [1 / 255, 5.5 / 255, 16 / 255])
def test_invariants_linf_range_and_8bit_grid(method, eps):
    model = make_tiny_classifier()
    x = _grid_image(3, n=4)
    result = make_attack(method, model, eps=eps, steps=5)(x)
    size = result.l2 if ATTACKS[method].norm == "L2" else result.linf  # what ε bounds
    assert float(size.max()) <= eps + 1e-6
    assert float(result.x_adv.min()) >= 0 and float(result.x_adv.max()) <= 1
    scaled = result.x_adv * 255
    assert torch.allclose(scaled, scaled.round(), atol=1e-4), "result must lie on the 8-bit grid"


def test_quantize_keeps_ball_when_eps_is_off_grid():
    x = torch.full((1, 3, 2, 2), 100 / 255)
    x_adv = x + 5.6 / 255  # rounds to 106/255, outside a 5.5/255 ball
    q = quantize(x_adv, x, 5.5 / 255)
    assert torch.allclose(q * 255, torch.full_like(q, 105.0), atol=1e-4)


def test_attack_restores_training_mode_and_does_not_touch_grads():
    model = make_tiny_classifier().train()
    PGD(model, eps=4 / 255, steps=2)(_grid_image())
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_progress_is_reported_each_step_and_stop_cancels():
    model = make_tiny_classifier()
    seen = []
    BIM(model, eps=4 / 255, steps=5)(_grid_image(), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 5) for i in range(1, 6)]

    stop = threading.Event()

    def stop_after_two(done, total):
        if done == 2:
            stop.set()

    with pytest.raises(Cancelled):
        BIM(model, eps=4 / 255, steps=50)(_grid_image(), progress=stop_after_two, stop=stop)


def test_early_stop_freezes_images_that_already_succeeded():
    model = make_tiny_classifier()
    x = _grid_image(4, n=3)
    full = BIM(model, eps=32 / 255, steps=20)(x)
    early = BIM(model, eps=32 / 255, steps=20, early_stop=True)(x)
    assert bool(full.success.all()) and bool(early.success.all())
    # every image succeeds within a few steps: the early-stopped loop ends there, the full one
    # runs its 20 steps and walks on to the edge of the ε-ball (both fail without early stop)
    assert full.steps_run == 20 and early.steps_run < 20
    assert (early.linf < full.linf - 1e-6).all(), (early.linf, full.linf)
    # a frozen image is the iterate of the step it succeeded at: the same attack stopped after
    # the early run's steps (same α) gives the last image to succeed exactly
    alpha = 2.5 * (32 / 255) / 20
    again = BIM(model, eps=32 / 255, steps=early.steps_run, alpha=alpha)(x)
    assert any(torch.equal(early.x_adv[i], again.x_adv[i]) for i in range(len(x)))


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.rand(1, 1, 8, 8), "expected images"),
        (torch.rand(1, 3, 8, 8) * 2, "[0, 1]"),
        (torch.full((1, 3, 8, 8), float("nan")), "NaN"),
    ],
)
def test_bad_inputs_raise_attack_error(bad, message):
    with pytest.raises(AttackError, match=message.replace("[", r"\[").replace("]", r"\]")):
        FGSM(make_tiny_classifier(), eps=0.01)(bad)


def test_unknown_method_and_bad_steps():
    model = make_tiny_classifier()
    with pytest.raises(AttackError, match="unknown attack"):
        make_attack("cw", model)
    with pytest.raises(AttackError, match="steps"):
        make_attack("bim", model, steps=0)


def test_default_alpha_is_madry_rule():
    model = make_tiny_classifier()
    assert PGD(model, eps=8 / 255, steps=10).alpha == pytest.approx(2 / 255)
    assert FGSM(model, eps=8 / 255, steps=10).alpha == pytest.approx(8 / 255)


def test_pgd_per_image_seeds_make_the_start_independent_of_the_batch():
    model = make_tiny_classifier()
    x = _grid_image(5, n=3)
    pgd = PGD(model, eps=8 / 255, steps=3, seed=0)
    start = pgd.start_point(x, seeds=[11, 12, 13])
    for i, s in enumerate((11, 12, 13)):  # image i starts as a batch of one with seed s
        assert torch.equal(
            start[i : i + 1], PGD(model, eps=8 / 255, seed=s).start_point(x[i : i + 1])
        )
    # the same image gets the same start (and result) in any batch, at any position
    full = pgd(x, seeds=[11, 12, 13])
    part = pgd(x[[2, 0]], seeds=[13, 11])
    torch.testing.assert_close(part.x_adv, full.x_adv[[2, 0]], rtol=0, atol=1e-6)
    # without seeds the batch keeps one seeded draw: unchanged for the TUI and `advtui attack`
    gen = torch.Generator().manual_seed(0)
    noise = torch.empty(x.shape).uniform_(-8 / 255, 8 / 255, generator=gen)
    assert torch.equal(pgd.start_point(x), (x + noise).clamp(0, 1))
    with pytest.raises(AttackError, match="2 seeds for 3 images"):
        pgd(x, seeds=[1, 2])
    # attacks without a random start ignore per-image seeds
    assert torch.equal(
        BIM(model, eps=8 / 255, steps=3)(x, seeds=[1, 2, 3]).x_adv,
        BIM(model, eps=8 / 255, steps=3)(x).x_adv,
    )


def _counting(model):
    """``model`` with a counter of forward passes (batch-size independent)."""
    calls = []
    model.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    return calls


def test_given_clean_logits_spare_pgd_its_clean_forward_and_change_nothing():
    model = make_tiny_classifier()
    calls = _counting(model)
    x = _grid_image(7, n=2)
    pgd = PGD(model, eps=8 / 255, steps=3, seed=0)
    plain = pgd(x)
    n_plain = len(calls)
    calls.clear()
    with torch.no_grad():
        logits = model(x)
    calls.clear()
    given = pgd(x, clean_logits=logits)
    assert len(calls) == n_plain - 1  # no clean forward of its own
    assert torch.equal(given.x_adv, plain.x_adv)
    torch.testing.assert_close(given.clean_logits, plain.clean_logits)
    calls.clear()
    pgd(x, clean_logits=logits[:1])  # wrong batch: ignored, computed again
    assert len(calls) == n_plain


def test_run_attack_untargeted_does_not_classify_the_clean_image_twice():
    from advtui.pipeline import AttackSettings, run_attack

    model = make_tiny_classifier()
    calls = _counting(model)
    x = _grid_image(3, n=1)[0]
    fgsm = run_attack(model, x, AttackSettings(method="fgsm", eps=4 / 255, target="untargeted"))
    # FGSM's one gradient step runs at x: its logits are the clean ones; then the result
    assert len(calls) == 2
    with torch.no_grad():
        probs = model(x[None]).softmax(1)[0]
    assert fgsm.clean_top5[0]["index"] == int(probs.argmax())
    assert fgsm.clean_top5[0]["prob"] == pytest.approx(float(probs.max()), abs=1e-6)
    calls.clear()
    run_attack(model, x, AttackSettings(method="pgd", eps=4 / 255, steps=2, target="runner-up"))
    # targets need the clean logits first; PGD reuses them: 1 + 2 steps + 1 or 2 results
    assert 4 <= len(calls) <= 5


def test_linf_of_whole_pixel_levels_is_exact():
    model = make_tiny_classifier()
    x = _grid_image(9, n=2)
    result = PGD(model, eps=8 / 255, steps=3, seed=1)(x)
    assert result.linf.dtype == torch.float64
    assert torch.all(result.linf <= 8 / 255)  # no float32 overshoot (0.0313725769 > 8/255)
    assert float(result.linf.max()) == 8 / 255  # PGD uses the whole ball here


class _Quadratic(torch.nn.Module):
    """Logits ``[0, Σ cᵢ(xᵢ − mᵢ)² − 10]`` of a 3-pixel image (one pixel per channel): the
    gradient of pixel 0 (c = −1) changes sign once a step crosses m₀, pixel 1's (c = +1, m = 0)
    never does, pixel 2 has none. The clean prediction is class 0."""

    def __init__(self, x0: float, alpha: float) -> None:
        super().__init__()
        self.register_buffer("c", torch.tensor([-1.0, 1.0, 0.0]))
        self.register_buffer("m", torch.tensor([x0 + 0.75 * alpha, 0.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (self.c * (x.flatten(1) - self.m) ** 2).sum(1) - 10.0
        return torch.stack([torch.zeros_like(s), s], 1)


def test_mifgsm_momentum_keeps_the_first_direction_where_bim_turns_back():
    from advtui.attacks.mifgsm import MIFGSM

    x0, alpha, eps = 128 / 255, 2 / 255, 4 / 255
    model = _Quadratic(x0, alpha)
    x = torch.full((1, 3, 1, 1), x0)
    # step 1: ∂s/∂x = (+1.5, +256, 0)/255 → both pixels +α (130/255).
    # step 2: pixel 0 is past m₀: ∂s/∂x₀ = −0.5·2/255; BIM turns back to 128/255, while MI-FGSM's
    # velocity g₀ = 3/259 − 1/261 > 0 (L1-normalised gradients) keeps going to 132/255.
    mi = MIFGSM(model, eps=eps, alpha=alpha, steps=2)(x)
    bim = BIM(model, eps=eps, alpha=alpha, steps=2)(x)
    torch.testing.assert_close(
        mi.x_adv, torch.tensor([132.0, 132.0, 128.0]).view(1, 3, 1, 1) / 255, rtol=0, atol=1e-7
    )
    torch.testing.assert_close(
        bim.x_adv, torch.tensor([128.0, 132.0, 128.0]).view(1, 3, 1, 1) / 255, rtol=0, atol=1e-7
    )
    # μ = 0 is BIM exactly
    no_momentum = MIFGSM(model, eps=eps, alpha=alpha, steps=2, decay=0.0)(x)
    assert torch.equal(no_momentum.x_adv, bim.x_adv)


def test_mifgsm_matches_the_reference_update_by_hand_on_the_tiny_cnn():
    from advtui.attacks.mifgsm import MIFGSM

    model = make_tiny_classifier()
    x = _grid_image(6)
    eps, alpha, steps, mu = 6 / 255, 2 / 255, 4, 0.8
    labels = model(x).argmax(1)
    xa, g = x.clone(), torch.zeros_like(x)
    for _ in range(steps):  # Dong et al. 2018, Algorithm 1
        grad = _grad(model, xa, labels)
        g = mu * g + grad / grad.abs().sum(dim=(1, 2, 3), keepdim=True)
        xa = torch.min(torch.max(xa + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
    result = MIFGSM(model, eps=eps, alpha=alpha, steps=steps, decay=mu)(x)
    torch.testing.assert_close(result.x_adv, quantize(xa, x, eps), rtol=0, atol=1e-6)


def test_pgdl2_matches_the_reference_loop_and_stays_in_the_l2_ball():
    from advtui.attacks.base import project_l2, quantize_l2
    from advtui.attacks.pgdl2 import PGDL2

    model = make_tiny_classifier()
    x = _grid_image(8)
    eps, alpha, steps = 0.4, 0.15, 4
    attack = PGDL2(model, eps=eps, alpha=alpha, steps=steps, seed=3)
    start = attack.start_point(x)
    d0 = (start - x).flatten(1).norm(dim=1)
    assert bool((d0 <= eps + 1e-6).all()) and bool((d0 > 0).all())  # a random start in the ball
    labels = model(x).argmax(1)
    xa = start
    for _ in range(steps):  # Madry et al.'s L2 update, by hand
        g = _grad(model, xa, labels)
        xa = project_l2(xa + alpha * g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1), x, eps)
    result = attack(x)
    torch.testing.assert_close(result.x_adv, quantize_l2(xa, x, eps), rtol=0, atol=1e-6)
    assert float(result.l2.max()) <= eps + 1e-9
