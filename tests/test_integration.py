"""The real default model (EfficientNet-Lite0) end to end on the bundled samples."""

from __future__ import annotations

import json
import re

import pytest
import torch

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


@pytest.mark.parametrize("method", sorted(n for n, s in ATTACKS.items() if not s.needs_detector))
@pytest.mark.parametrize("mode", TARGET_MODES)
def test_invariants_for_every_method_and_target_mode(real_model, batch, method, mode):
    _, x = batch
    l2 = ATTACKS[method].norm == "L2"
    eps = 3.0 if l2 else 8 / 255  # an L2 radius for L2 attacks (L2 of a full 8/255 δ: 12.2)
    clean = real_model.logits(x)
    target = select_targets(
        mode, clean, real_model.class_names, seed=0, embeddings=real_model.class_embeddings()
    )
    result = make_attack(method, real_model, eps=eps, steps=5)(x, target)
    assert float((result.l2 if l2 else result.linf).max()) <= eps + 1e-6
    assert 0.0 <= float(result.x_adv.min()) and float(result.x_adv.max()) <= 1.0
    assert torch.allclose(result.x_adv * 255, (result.x_adv * 255).round(), atol=1e-4)
    assert torch.equal(result.adv_logits.argmax(1), real_model.logits(result.x_adv).argmax(1))
    # a target must differ from the clean class
    assert target is None or not bool((target == clean.argmax(1)).any())
    if method != "fgsm":  # iterative attacks at 8/255 beat an undefended model, even in 5 steps
        needed = (
            len(x) - 1 if mode == "random" else len(x)
        )  # a random far class may need more steps
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
