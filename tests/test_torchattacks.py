"""ta:NAME (torchattacks through the attack base), --attack-arg typing, norms beyond L∞."""

from __future__ import annotations

import inspect
import json
import sys
import threading

import pytest
import torch

from advtui.attacks import make_attack, quantize
from advtui.attacks.base import project_l2, quantize_l2
from advtui.errors import AttackError, Cancelled
from advtui.registry import TA_NAMES, attack_spec
from advtui.settings import AttackSettings, parse_eps
from tests.conftest import make_tiny_classifier

torchattacks = pytest.importorskip("torchattacks")  # the test extra installs it (pyproject)


def _grid_image(seed: int = 0, n: int = 3, size: int = 16) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=gen).float() / 255.0


def test_registry_facts_match_the_installed_torchattacks():
    """The torch-free tables (names, targeted support, eps argument) say what torchattacks does."""
    from torchattacks.attack import Attack as Base

    model = make_tiny_classifier()
    installed = {
        n
        for n in dir(torchattacks)
        if isinstance(getattr(torchattacks, n), type)
        and issubclass(getattr(torchattacks, n), Base)
        and n not in ("Attack", "MultiAttack", "LGV")
    }
    assert set(TA_NAMES) == installed
    for name in TA_NAMES:
        cls = getattr(torchattacks, name)
        spec = attack_spec(f"ta:{name.lower()}")
        assert spec.name == f"ta:{name}"  # case-insensitive, canonical spelling
        params = inspect.signature(cls.__init__).parameters
        assert spec.bounded == bool({"eps", "max_epsilon"} & set(params)), name
        assert spec.targeted == ("targeted" in cls(model).supported_mode), name


def test_attack_args_are_typed_from_the_signature_and_bad_ones_name_the_accepted_keys():
    model = make_tiny_classifier()
    cw = make_attack("ta:CW", model, attack_args=[("c", "0.5"), ("kappa", "2"), ("lr", "1/100")])
    assert cw.kwargs["c"] == 0.5 and cw.kwargs["kappa"] == 2 and cw.kwargs["lr"] == 0.01
    assert cw.kwargs["steps"] == 10 and not cw.bounded and cw.norm == "L2"
    assert make_attack("ta:CW", model, attack_args=[("steps", "50")]).steps == 50
    with pytest.raises(
        AttackError, match="unknown --attack-arg 'cc'; accepted keys: c, kappa, steps, lr"
    ):
        make_attack("ta:CW", model, attack_args=[("cc", "1")])
    with pytest.raises(AttackError, match="random_start='maybe': expected a bool"):
        make_attack("ta:PGD", model, attack_args=[("random_start", "maybe")])
    with pytest.raises(AttackError, match=r"decay='-1': must lie in \[0, 10\]"):
        make_attack("mifgsm", model, attack_args=[("decay", "-1")])
    assert make_attack("mifgsm", model, attack_args=[("decay", "0.25")]).decay == 0.25
    with pytest.raises(AttackError, match="unknown torchattacks attack 'Nope'; choose from .*CW"):
        make_attack("ta:Nope", model)
    # torchattacks' own check of a value becomes one line too
    with pytest.raises(AttackError, match="ta:AutoAttack: Not valid version"):
        make_attack("ta:AutoAttack", model, attack_args=[("version", "fast")])


def test_untargeted_only_attacks_refuse_a_target_in_one_line():
    model = make_tiny_classifier()
    with pytest.raises(AttackError, match="ta:DeepFool supports only untargeted attacks"):
        make_attack("ta:DeepFool", model)(_grid_image(n=1), torch.tensor([3]))
    with pytest.raises(AttackError, match="ta:DeepFool supports only untargeted attacks; drop"):
        AttackSettings.parse(method="ta:DeepFool", target="random")  # before any model loads
    assert AttackSettings.parse(method="ta:CW", target="random").method == "ta:CW"


def test_n_classes_keeps_autoattacks_nine_targets_and_fits_small_models():
    assert make_attack("ta:APGDT", make_tiny_classifier(10)).kwargs["n_classes"] == 10
    assert make_attack("ta:FAB", make_tiny_classifier(4)).kwargs["n_classes"] == 4
    big = make_attack("ta:AutoAttack", make_tiny_classifier(4), attack_args=[("n_classes", "3")])
    assert big.kwargs["n_classes"] == 3


def test_without_torchattacks_ta_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchattacks", None)  # import fails
    with pytest.raises(AttackError, match=r'pip install "advtui\[attacks\]"'):
        make_attack("ta:CW", make_tiny_classifier())


def test_seed_drives_random_starts_and_stop_cancels():
    model = make_tiny_classifier()
    x = _grid_image(1)
    a = make_attack("ta:PGD", model, eps=8 / 255, steps=3, seed=1)(x).x_adv
    b = make_attack("ta:PGD", model, eps=8 / 255, steps=3, seed=1)(x).x_adv
    c = make_attack("ta:PGD", model, eps=8 / 255, steps=3, seed=2)(x).x_adv
    assert torch.equal(a, b) and not torch.equal(a, c)
    stop = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 2:
            stop.set()

    with pytest.raises(Cancelled):
        make_attack("ta:PGD", model, steps=50)(x, progress=progress, stop=stop)
    assert seen == [1, 2]


def test_l2_attacks_stay_in_the_l2_ball_on_the_8bit_grid():
    model = make_tiny_classifier()
    x = _grid_image(2)
    for eps in (0.05, 0.3, 1.5):
        result = make_attack("ta:PGDL2", model, eps=eps, steps=5)(x)
        assert float(result.l2.max()) <= eps + 1e-9
        scaled = result.x_adv * 255
        assert torch.allclose(scaled, scaled.round(), atol=1e-4)
        assert 0 <= float(result.x_adv.min()) and float(result.x_adv.max()) <= 1
    # an unbounded attack: no ball, [0, 1] and the grid only
    cw = make_attack("ta:CW", model, steps=5, attack_args=[("c", "10"), ("lr", "0.1")])(x)
    assert torch.allclose(cw.x_adv * 255, (cw.x_adv * 255).round(), atol=1e-4)


def test_quantize_l2_rounds_toward_x_nearest_to_the_lower_level_first():
    x = torch.full((1, 3, 1, 2), 100 / 255)
    d = torch.tensor([0.55, 0.95, 0.95, 0.0, 0.0, 0.0]).view(1, 3, 1, 2) / 255
    eps = float(d.norm())  # 1.452/255; nearest rounding (1, 1, 1) has norm √3 > ε
    q = quantize_l2(x + d, x, eps)
    # 0.55 is nearest its lower level: it alone goes down, (0, 1, 1) has norm √2 ≤ ε
    levels = ((q - x) * 255).round().flatten().tolist()
    assert levels == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert float((q - x).norm()) <= eps + 1e-9
    # within budget: plain nearest rounding, as quantize does
    assert torch.equal(quantize_l2(x + d, x, 1.0), quantize(x + d, x, 1.0))
    # the projection scales δ into the ball and keeps [0, 1]
    p = project_l2(torch.full((1, 3, 1, 2), 2.0), torch.zeros(1, 3, 1, 2), 0.5)
    assert float(p.flatten().norm()) == pytest.approx(0.5) and float(p.max()) <= 1


def test_eps_is_an_l2_radius_for_l2_attacks():
    assert parse_eps("1.5", "L2") == 1.5 and parse_eps("128/255", "L2") == pytest.approx(128 / 255)
    with pytest.raises(AttackError, match="L2 radius"):
        parse_eps("-1", "L2")
    with pytest.raises(AttackError, match=r"\[0, 1\]"):
        parse_eps("1.5", "Linf")
    s = AttackSettings.parse(method="ta:Square", eps="2", attack_args=[("norm", "l2")])
    assert s.norm == "L2" and s.eps == 2.0 and s.eps_label == "ε₂ 2"
    assert AttackSettings.parse(method="ta:CW").eps_label == "ε —"  # sizes its own δ
    assert AttackSettings.parse(method="mifgsm").eps_label == "ε 8/255"
    with pytest.raises(AttackError, match="--eps bounds Linf or L2"):
        AttackSettings.parse(method="ta:FAB", attack_args=[("norm", "L1")])


def test_attack_records_carry_norms_and_attack_args(tmp_path):
    from advtui.pipeline import run_attack, save_outcome

    model = make_tiny_classifier()
    x = _grid_image(4, n=1)[0]
    s = AttackSettings.parse(
        method="ta:PGDL2", eps="0.5", steps=3, attack_args=[("random_start", "false")]
    )
    out = run_attack(model, x, s)
    rec = out.to_json()
    assert rec["norm"] == "L2" and rec["eps"] == 0.5
    assert rec["attack_args"] == {"random_start": "false"}
    d = (out.x_adv - out.x).double()
    assert rec["l2"] == pytest.approx(float(d.norm())) and rec["l2"] <= 0.5 + 1e-9
    assert rec["linf"] == pytest.approx(float(d.abs().max()))
    assert rec["l0"] == int((d.abs().amax(0) > 0).sum())
    assert out.perturbation_title.endswith(f"‖δ‖₂ = {rec['l2']:.3g}")
    save_outcome(out, tmp_path)
    from PIL import Image

    assert (
        Image.open(tmp_path / "perturbation.png").text["advtui:perturbation"]
        == out.perturbation_title
    )
    cw = run_attack(model, x, AttackSettings.parse(method="ta:CW", steps=2)).to_json()
    assert cw["eps"] is None and cw["norm"] == "L2"
    json.dumps(rec)


def test_advtui_attacks_lists_the_registry(capsys):
    from advtui.cli import main

    assert main(["attacks", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in listing["attacks"]}
    ta = {r["name"]: r for r in listing["torchattacks"]}
    assert len(ta) == len(TA_NAMES)
    assert ta["ta:CW"] == {"name": "ta:CW", "norm": "L2", "bounded": False, "targeted": True}
    assert ta["ta:DeepFool"]["targeted"] is False
    assert {"fgsm", "bim", "mifgsm", "pgd", "bim-seed"} <= set(rows)
    assert rows["mifgsm"]["norm"] == "Linf" and "decay" in {
        p["name"] for p in rows["mifgsm"]["params"]
    }
    assert main(["attacks"]) == 0
    text = capsys.readouterr().out
    assert "ta:NAME" in text and "decay=1.0" in text and 'pip install "advtui[attacks]"' in text


def test_deepfool_with_a_target_refuses_before_loading_the_model(capsys, tmp_path):
    from advtui.cli import main

    code = main(["attack", "no-such.png", "--method", "ta:DeepFool", "--target", "random"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert (
        err == "advtui: error: ta:DeepFool supports only untargeted attacks; drop --target random"
    )
    code = main(["attack", "no-such.png", "--method", "ta:CW", "--attack-arg", "cc=1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith("accepted keys: c, kappa, steps, lr") and "\n" not in err


@pytest.mark.slow
def test_done_when_lines_on_the_real_model(real_model, sample_paths, tmp_path, capsys):
    """The issue's done-when runs (few steps): ta:MIFGSM and mifgsm runner-up within ε with
    the saved PNG still adversarial; ta:CW reports l2."""
    from advtui.cli import main
    from advtui.images import load_tensor

    image = str(sample_paths[0])
    for method in ("ta:MIFGSM", "mifgsm"):
        out = tmp_path / method.replace(":", "-")
        args = ["attack", image, "--method", method, "--target", "runner-up", "--steps", "5"]
        assert main([*args, "--json", "--out", str(out)]) == 0
        rec = json.loads(capsys.readouterr().out)
        assert rec["success"] and rec["linf"] <= 8 / 255 and rec["norm"] == "Linf"
        assert rec["l2"] > 0 and rec["l0"] > 0
        saved = real_model.logits(load_tensor(out / "adversarial.png", 224)[None]).argmax(1)
        assert int(saved[0]) == rec["target"]["index"]
    cw = ["attack", image, "--method", "ta:CW", "--attack-arg", "c=1", "--attack-arg", "steps=5"]
    assert main([*cw, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["method"] == "ta:CW" and rec["steps"] == 5 and rec["eps"] is None
    assert rec["norm"] == "L2" and rec["l2"] >= 0 and rec["attack_args"] == {"c": "1"}
