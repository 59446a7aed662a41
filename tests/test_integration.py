"""The real default model (EfficientNet-Lite0) end to end on the bundled samples."""

from __future__ import annotations

import json
import re

import pytest
import torch

from advtui import registry
from advtui.attacks import TARGET_MODES, make_attack, select_targets
from advtui.images import load_tensor
from advtui.pipeline import AttackSettings, run_attack, save_outcome
from advtui.registry import ATTACKS

EXPECTED = re.compile(r"^\| `(?P<file>[^`]+)` \|")


@pytest.fixture(scope="module")
def batch(real_model, sample_paths):
    paths = sample_paths[:3]
    return paths, torch.stack([load_tensor(p, real_model.input_size) for p in paths])


def test_samples_are_classified_as_attributed(real_model, sample_paths, samples_dir):
    """Each sample's top-1 is the class named in samples/ATTRIBUTION.md."""
    text = (samples_dir / "ATTRIBUTION.md").read_text()
    assert 10 <= len(sample_paths) <= 20
    x = torch.stack([load_tensor(p, 224) for p in sample_paths])
    top1 = [real_model.label(int(i)) for i in real_model.logits(x).argmax(1)]
    for path, label in zip(sample_paths, top1, strict=True):
        assert path.stat().st_size <= 200_000
        assert path.name in text
        section = text.split(path.name, 1)[1][:1500]
        assert label in section, f"{path.name}: model says {label!r}, ATTRIBUTION.md disagrees"


NATIVE = sorted(n for n, s in ATTACKS.items() if not s.needs_detector)
#: each iterative method with one target mode, generated from the registry (a new attack is
#: picked up without editing this file): the methods in registry order take the target modes
#: in turn, starting from the first targeted one, so every method and, with at least as many
#: methods as modes, every mode is shown to succeed on the real model (the rules themselves
#: are checked for every pair on a tiny net)
_ITERATIVE = [n for n, s in ATTACKS.items() if not s.needs_detector and not s.single_step]
_MODES = sorted(TARGET_MODES, key=lambda m: not registry.TARGET_MODES[m].targeted)
SUCCESS_PAIRS = {m: _MODES[i % len(_MODES)] for i, m in enumerate(_ITERATIVE)}


def _attack_and_check_rules(model, x, method: str, mode: str, steps: int = 5):
    """Attack ``x`` and assert the rules every attack keeps: the budget in its norm, valid
    pixels on the 8-bit grid, the stored prediction is the re-classified one, and a target
    never equals the clean class."""
    l2 = ATTACKS[method].norm == "L2"
    eps = 3.0 if l2 else 8 / 255  # an L2 radius for L2 attacks (L2 of a full 8/255 δ: 12.2)
    clean = model.logits(x)
    target = select_targets(
        mode, clean, model.class_names, seed=0, embeddings=model.class_embeddings()
    )
    result = make_attack(method, model, eps=eps, steps=steps)(x, target)
    assert float((result.l2 if l2 else result.linf).max()) <= eps + 1e-6
    assert 0.0 <= float(result.x_adv.min()) and float(result.x_adv.max()) <= 1.0
    assert torch.allclose(result.x_adv * 255, (result.x_adv * 255).round(), atol=1e-4)
    assert torch.equal(result.adv_logits.argmax(1), model.logits(result.x_adv).argmax(1))
    assert target is None or not bool((target == clean.argmax(1)).any())
    return result


@pytest.mark.parametrize("method", NATIVE)
@pytest.mark.parametrize("mode", TARGET_MODES)
def test_rules_hold_for_every_method_and_target_mode(method, mode, sample_paths):
    """Every native attack × every target mode keeps the rules (a tiny CNN on real photos:
    the rules do not depend on the model; success does, and is checked below)."""
    from tests.conftest import make_tiny_classifier

    model = make_tiny_classifier(10, size=32)
    x = torch.stack([load_tensor(p, model.input_size) for p in sample_paths[:3]])
    _attack_and_check_rules(model, x, method, mode)


def test_every_method_and_mode_is_covered_by_a_real_model_success_check():
    iterative = {m for m in NATIVE if not ATTACKS[m].single_step}
    assert set(SUCCESS_PAIRS) == iterative
    assert set(SUCCESS_PAIRS.values()) == set(TARGET_MODES)


@pytest.mark.parametrize(("method", "mode"), sorted(SUCCESS_PAIRS.items()))
def test_iterative_attacks_succeed_on_the_real_model(real_model, batch, method, mode):
    """At 8/255 (L2 3.0) an iterative attack beats the undefended model in 5 steps, keeping
    every rule; a random far class may need more steps on one photo."""
    _, x = batch
    result = _attack_and_check_rules(real_model, x, method, mode)
    needed = len(x) - 1 if mode == "random" else len(x)
    assert int(result.success.sum()) >= needed, (
        f"{method}/{mode} failed on {(~result.success).sum()} images"
    )


def test_targeted_pgd_reaches_random_targets_on_samples(real_model, sample_paths):
    x = torch.stack([load_tensor(p, 224) for p in sample_paths[::4]])
    clean = real_model.logits(x)
    target = select_targets("random", clean, real_model.class_names, seed=1)
    result = make_attack("pgd", real_model, eps=8 / 255, steps=10)(x, target)
    assert bool((result.adv_pred == target).all())
    assert bool(result.success.all()) and not bool(result.rounding_undid.any())


def test_saved_adversarial_png_reclassifies_as_target(real_model, sample_paths, tmp_path):
    x = load_tensor(sample_paths[0], 224)
    settings = AttackSettings.parse(method="pgd", eps="8/255", steps=10, target="African elephant")
    outcome = run_attack(real_model, x, settings, image=sample_paths[0].name)
    assert outcome.success and outcome.target["label"] == "African elephant"
    save_outcome(outcome, tmp_path)
    reloaded = load_tensor(tmp_path / "adversarial.png", 224)
    assert torch.equal(reloaded, outcome.x_adv), "the PNG must hold exactly the attacked pixels"
    assert real_model.label(int(real_model.logits(reloaded[None]).argmax())) == "African elephant"
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["target"] == {"index": 386, "label": "African elephant"} and data["success"] is True
    assert {p.name for p in tmp_path.iterdir()} == {
        "clean.png",
        "adversarial.png",
        "perturbation.png",
        "result.json",
    }
