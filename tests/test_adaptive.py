"""The adaptive attack on the SHAP detector, on a tiny CNN with ReLU/ReLU6 modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from advtui.attacks import make_attack
from advtui.attacks.adaptive import SmoothReLU6, smooth_copy
from advtui.detect.features import sorted_features
from advtui.detect.saved import fit_detector
from advtui.errors import AttackError
from advtui.explain.shap import Explainer
from advtui.models import Classifier

EPS = 32 / 255
Q = 64  # detector quantiles


class _Net(nn.Module):
    def __init__(self, k: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.act2 = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, k)

    def forward(self, x):
        return self.fc(self.pool(self.act2(self.conv2(self.act(self.conv(x))))).flatten(1))


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = Classifier(
        _Net(),
        name="tiny-relu",
        input_size=16,
        mean=(0.5,) * 3,
        std=(0.25,) * 3,
        class_names=[f"class {i}" for i in range(10)],
    ).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (14, 3, 16, 16), generator=g).float() / 255  # on the 8-bit grid
    bg = torch.randint(0, 256, (4, 3, 16, 16), generator=g).float() / 255
    pgd = make_attack("pgd", model, eps=EPS, steps=5)
    fit = pgd(x[:12], seeds=list(range(12)))
    X = np.concatenate([_features(model, bg, x[:12]), _features(model, bg, fit.x_adv)])
    detector = fit_detector(X, np.r_[np.zeros(12), np.ones(12)])
    return model, bg, x[12:], detector


def _features(model, bg, xs, seed: int = 0) -> np.ndarray:
    e = Explainer(model, bg, seed=seed).explain(xs, nsamples=16)
    return np.stack([sorted_features(a, Q) for a in e.attributions])


def test_adaptive_loss_lowers_the_detector_score_within_the_budget(setup):
    model, bg, x, detector = setup
    seeds = [0, 1]
    plain = make_attack("pgd", model, eps=EPS, steps=5)(x, seeds=seeds)
    attack = make_attack(
        "adaptive", model, eps=EPS, steps=5, detector=detector, background=bg, weight=10.0
    )
    adaptive = attack(x, seeds=seeds)
    assert attack.smoothed == 2  # the ReLU and the ReLU6 module got softplus surrogates
    # scored as the detector sees images: a fresh SHAP draw (seed 5), not the attack's
    p_plain = detector.score_features(_features(model, bg, plain.x_adv, seed=5))
    p_adaptive = detector.score_features(_features(model, bg, adaptive.x_adv, seed=5))
    assert p_adaptive.mean() < p_plain.mean() - 0.2, (p_plain, p_adaptive)
    assert (p_adaptive < p_plain).all()
    # the budget, the 8-bit grid and re-classification hold as for every attack
    assert (adaptive.linf <= EPS + 1e-9).all()
    levels = adaptive.x_adv.double() * 255
    assert (levels - levels.round()).abs().max() < 1e-3  # float32 n/255, up to rounding
    assert adaptive.x_adv.min() >= 0 and adaptive.x_adv.max() <= 1
    with torch.no_grad():
        assert torch.equal(adaptive.adv_logits.argmax(1), model(adaptive.x_adv).argmax(1))
    assert len(attack.trace) == 5 and all(len(z) == 2 for z in attack.trace)


def test_weight_zero_is_plain_pgd(setup):
    model, bg, x, detector = setup
    plain = make_attack("pgd", model, eps=EPS, steps=3)(x, seeds=[0, 1])
    same = make_attack(
        "adaptive", model, eps=EPS, steps=3, detector=detector, background=bg, weight=0.0
    )(x, seeds=[0, 1])
    assert torch.equal(plain.x_adv, same.x_adv)


def test_smooth_copy_leaves_the_model_alone_and_approximates_it(setup):
    model = setup[0]
    smooth, n = smooth_copy(model, beta=50.0)
    assert n == 2 and isinstance(smooth.backbone.act2, SmoothReLU6)
    assert isinstance(model.backbone.act2, nn.ReLU6)  # the original is untouched
    x = setup[2]
    with torch.no_grad():
        assert torch.allclose(smooth(x), model(x), atol=0.05)


def test_adaptive_needs_a_pixel_level_detector(setup):
    model, bg, _x, detector = setup
    with pytest.raises(AttackError, match="needs a fitted detector"):
        make_attack("adaptive", model, eps=EPS)
    detector.params = {"layer": "_blocks.3"}
    try:
        with pytest.raises(AttackError, match="pixel-level"):
            make_attack("adaptive", model, eps=EPS, detector=detector, background=bg)
    finally:
        detector.params = {}


def test_finite_difference_hvp_equals_double_backprop(setup):
    from advtui.attacks.adaptive import ShapDetectorLogit

    model, bg, x, detector = setup
    smooth, _ = smooth_copy(model, beta=10.0)
    # values from the smooth copy too: then the two ways compute the same derivative
    f = ShapDetectorLogit(smooth, smooth, detector, bg, nsamples=8, chunk=4)
    z_exact, g_exact = f.value_and_grad(x[:1], 3, 7, hessian="exact")
    z_fd, g_fd = f.value_and_grad(x[:1], 3, 7, hessian="fd")
    assert z_exact == z_fd
    assert float((g_exact - g_fd).norm() / g_exact.norm()) < 1e-2


def test_adaptive_table_shows_every_number_of_five_detectors_in_a_log_width():
    """A log or pipe gets 132 columns (advtui eval); five detectors must not be cut to '0.47→0…'."""
    from rich.console import Console

    from advtui.eval.adaptive_report import adaptive_table

    names = ["shap-lr", "shap-rf", "confidence", "squeeze", "mahalanobis"]
    before = {n: {"roc_auc": 0.78, "tpr_at_5fpr": 0.47} for n in names}
    after = {n: {"roc_auc": 0.76, "tpr_at_5fpr": 0.33} for n in names}
    entry = {
        "plain_attack_success_rate": 1.0,
        "attack_success_rate": 0.875,
        "before": before,
        "after": after,
    }
    summary = {"adaptive": {"runner-up": entry, "untargeted": entry}}
    console = Console(width=100, record=True, color_system=None)
    console.print(adaptive_table(summary))
    text = console.export_text()
    assert "…" not in text
    for n in names:
        assert n in text
    assert text.count("0.78→0.76") == 2 * len(names)
    assert text.count("0.47→0.33") == 2 * len(names)
    assert text.count("100%→88%") == 2
