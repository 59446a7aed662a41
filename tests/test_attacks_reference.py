"""Native attacks against the torchattacks attack their spec names as ``reference`` (the
registry decides which: a new attack with a reference is checked without editing this file),
and the base loop's look-ahead hook (``_grad_point``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from advtui.attacks import make_attack
from advtui.attacks.bim import BIM
from advtui.registry import ATTACKS
from tests.conftest import make_tiny_classifier

REFERENCED = sorted(n for n, s in ATTACKS.items() if s.reference)


def _grid_image(seed: int = 0, n: int = 3, size: int = 16) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=gen).float() / 255.0


def test_the_registry_names_references_for_the_signed_gradient_attacks():
    assert {"fgsm", "bim", "mifgsm"} <= set(REFERENCED)


@pytest.mark.parametrize("method", REFERENCED)
@pytest.mark.parametrize("targeted", [False, True], ids=["untargeted", "targeted"])
def test_native_attack_equals_its_torchattacks_reference(method, targeted):
    """The same images as torchattacks with the same ε, α, steps and the attack's own
    defaults, through the same 8-bit rounding and re-classification; a different α changes
    them, so the comparison is not vacuous."""
    pytest.importorskip("torchattacks")
    model = make_tiny_classifier()
    x = _grid_image()
    target = torch.tensor([1, 2, 3]) if targeted else None
    kw = {"eps": 6 / 255, "alpha": 2 / 255, "steps": 5}
    ours = make_attack(method, model, **kw)(x, target)
    ref = make_attack(ATTACKS[method].reference, model, **kw)(x, target)
    assert torch.equal(ours.x_adv, ref.x_adv)
    assert torch.equal(ours.adv_logits, ref.adv_logits)
    if target is not None:  # our targets reach torchattacks' targeted API
        assert torch.equal(ref.target, target) and torch.equal(ours.target, target)
    assert float((ours.x_adv - x).abs().max()) > 0  # it moved
    if not ATTACKS[method].single_step:
        other = make_attack(ATTACKS[method].reference, model, **(kw | {"alpha": 1 / 255}))
        assert not torch.equal(other(x, target).x_adv, ours.x_adv)


class _SameValues(BIM):
    """BIM whose gradient point is a new tensor equal to the iterate (not the same object)."""

    def _grad_point(self, x_adv, state):
        return x_adv * 1.0


class _FixedPoint(BIM):
    """Takes every gradient at the fixed image ``c`` (a differentiable function of x_adv)."""

    c = torch.full((2, 3, 16, 16), 0.25)

    def _grad_point(self, x_adv, state):
        return x_adv - x_adv.detach() + self.c.to(x_adv)


@pytest.mark.parametrize("early_stop", [False, True])
def test_a_grad_point_equal_to_the_iterate_changes_nothing(early_stop):
    model = make_tiny_classifier()
    x = _grid_image(1, n=4)
    plain = BIM(model, eps=16 / 255, steps=6, early_stop=early_stop)(x)
    hooked = _SameValues(model, eps=16 / 255, steps=6, early_stop=early_stop)(x)
    assert torch.equal(plain.x_adv, hooked.x_adv)
    assert torch.equal(plain.clean_logits, hooked.clean_logits)
    assert plain.steps_run == hooked.steps_run


def test_the_gradient_is_taken_at_the_hooks_point_and_labels_at_the_iterate():
    """Every step follows sign(∇ at c); the clean logits (and so the label the loss moves away
    from, and early stopping) come from the image itself, not from the point."""
    model = make_tiny_classifier()
    x = _grid_image(2, n=2)
    with torch.no_grad():
        labels = model(x).argmax(1)
    c = _FixedPoint.c.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(c), labels, reduction="sum"), c)
    eps, alpha, steps = 8 / 255, 1 / 255, 3
    result = _FixedPoint(model, eps=eps, alpha=alpha, steps=steps)(x)
    expected = (x + steps * alpha * grad.sign()).clamp(0, 1)
    assert torch.allclose(result.x_adv, torch.round(expected * 255) / 255, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(result.clean_logits, model(x), atol=1e-5)


def test_nifgsm_without_momentum_is_bim_and_with_it_differs_from_mifgsm():
    """decay μ = 0: no look-ahead and no momentum, i.e. BIM; μ = 1 looks ahead, so its
    images differ from MI-FGSM's (same ε, α, steps)."""
    model = make_tiny_classifier()
    x = _grid_image(3)
    kw = {"eps": 8 / 255, "alpha": 2 / 255, "steps": 6}
    bim = make_attack("bim", model, **kw)(x)
    assert torch.equal(
        make_attack("nifgsm", model, attack_args=[("decay", "0")], **kw)(x).x_adv, bim.x_adv
    )
    ni, mi = make_attack("nifgsm", model, **kw)(x), make_attack("mifgsm", model, **kw)(x)
    assert not torch.equal(ni.x_adv, mi.x_adv)
