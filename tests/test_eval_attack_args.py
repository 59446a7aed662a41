"""``advtui eval --attack-arg``: typed and range-checked by the attack's spec before the model
loads, part of the run's parameters (``--resume`` compares them), and carried to every row's
attack; the spec, not the method's name, decides which resume keys a run records."""

from __future__ import annotations

import json
import shlex

import pytest
import torch

from advtui import registry
from advtui.cli import eval as cli_eval
from advtui.cli import sub_parser
from advtui.eval.config import EvalConfig
from advtui.eval.dataset import EvalError
from advtui.eval.loop import _make_attack, run_eval
from advtui.eval.store import StoreError, mismatch_message
from tests.conftest import make_tiny_classifier


def _cfg(samples_dir, out, **kw) -> EvalConfig:
    base = dict(
        folder=str(samples_dir),
        out=str(out),
        n=2,
        targets=["untargeted"],
        eps=["16/255"],
        steps=3,
        nsamples=2,
        batch_size=4,
        detectors=["confidence"],
        folds=2,
        plots=False,
        bootstrap=0,
    )
    return EvalConfig(**(base | kw))


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_classifier(num_classes=10, size=16)


def test_the_flag_reaches_the_config_and_the_resume_command(samples_dir):
    argv = ["eval", str(samples_dir), "--out", "o", "--method", "mifgsm"]
    argv += ["--attack-arg", "decay=0.5", "--attack-arg", "decay=0.25"]
    args = sub_parser().parse_args(argv)
    cfg = cli_eval.config_from_args(args)
    assert tuple(cfg.attack_args) == (("decay", "0.5"), ("decay", "0.25"))
    words = shlex.split(cli_eval.resume_command(args))
    assert words[-5:] == ["--attack-arg", "decay=0.5", "--attack-arg", "decay=0.25", "--resume"]
    again = cli_eval.config_from_args(sub_parser().parse_args(words[1:]))
    assert tuple(again.attack_args) == tuple(cfg.attack_args)


@pytest.mark.parametrize(
    ("method", "pairs", "message"),
    [
        ("mifgsm", [("decay", "fast")], "mifgsm: --attack-arg decay='fast': expected a float"),
        ("mifgsm", [("decay", "11")], "must lie in [0, 10]"),
        ("mifgsm", [("beta", "1")], "unknown --attack-arg 'beta'; accepted keys: decay"),
        (None, [("decay", "1")], "pgd: unknown --attack-arg 'decay'; accepted keys: none"),
        ("mifgsm", [("steps", "5")], "--attack-arg steps: eval sets it with --steps"),
        ("ta:PGD", [("eps", "0.1")], "--attack-arg eps: eval sets it with --eps/--eps-sweep"),
    ],
)
def test_bad_attack_args_fail_in_one_line_before_the_model_loads(
    samples_dir, tmp_path, method, pairs, message
):
    with pytest.raises(EvalError) as err:
        _cfg(samples_dir, tmp_path / "o", method=method, attack_args=pairs).precheck()
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_seed_protocol_checks_against_its_own_attack(samples_dir, tmp_path):
    with pytest.raises(EvalError, match=f"{registry.SEED_ATTACK}: unknown --attack-arg"):
        _cfg(samples_dir, tmp_path / "o", protocol="seed", attack_args=[("decay", "1")]).precheck()


def test_the_typed_args_are_a_fixed_param_and_only_when_given(samples_dir, tmp_path, tiny):
    given = _cfg(samples_dir, tmp_path / "a", method="mifgsm", attack_args=[("decay", ".5")])
    fixed = given.resolved(tiny).params(tiny)["fixed"]
    assert fixed["attack_args"] == {"decay": 0.5}
    plain = _cfg(samples_dir, tmp_path / "b", method="mifgsm").resolved(tiny)
    assert "attack_args" not in plain.params(tiny)["fixed"]  # older runs resume as before


@pytest.mark.parametrize("method", [n for n, s in registry.ATTACKS.items() if not s.needs_detector])
def test_the_random_start_key_comes_from_the_spec(samples_dir, tmp_path, tiny, method):
    """Stored runs keep their keys: ``random_start`` for the attacks whose spec records a
    start rule (PGD's ``per-image``), none for the others (pgdl2 runs never had one)."""
    fixed = _cfg(samples_dir, tmp_path / "o", method=method).precheck().params(tiny)["fixed"]
    assert fixed["method"] == method
    assert fixed.get("random_start") == (registry.ATTACKS[method].start_rule or None)
    assert (method == registry.DEFAULT_ATTACK) == ("random_start" in fixed)


def test_the_args_reach_every_rows_attack(samples_dir, tmp_path, tiny):
    cfg = _cfg(samples_dir, tmp_path / "o", method="mifgsm", attack_args=[("decay", "0")])
    cfg = cfg.resolved(tiny)
    attack = _make_attack(cfg, tiny, 16 / 255)
    assert attack.decay == 0.0
    x = torch.rand(2, 3, 16, 16)
    bim = _make_attack(
        _cfg(samples_dir, tmp_path / "p", method="bim").resolved(tiny), tiny, 16 / 255
    )
    assert torch.equal(attack(x).x_adv, bim(x).x_adv)  # μ = 0 is BIM: the value was used


def test_resume_refuses_other_attack_args_and_names_the_flags(samples_dir, tmp_path, tiny):
    out = tmp_path / "run"
    run_eval(_cfg(samples_dir, out, method="mifgsm", attack_args=[("decay", "0.5")]), tiny)
    stored = json.loads((out / "run.json").read_text())["fixed"]
    assert stored["attack_args"] == {"decay": 0.5}
    same = _cfg(samples_dir, out, method="mifgsm", attack_args=[("decay", "1/2")], resume=True)
    run_eval(same, tiny)  # typed values compare: 1/2 is 0.5
    with pytest.raises(StoreError) as err:
        run_eval(
            _cfg(samples_dir, out, method="mifgsm", attack_args=[("decay", "2")], resume=True), tiny
        )
    assert str(err.value).endswith("pass --attack-arg decay=0.5, or use another --out")
    with pytest.raises(StoreError, match="pass --attack-arg decay=0.5"):
        run_eval(_cfg(samples_dir, out, method="mifgsm", resume=True), tiny)


def test_mismatch_message_drops_args_a_stored_run_lacked():
    msg = mismatch_message([("attack_args", None, {"decay": 0.5})])
    assert msg.endswith("drop --attack-arg, or use another --out")
    msg = mismatch_message([("attack_args", {"eps_list": [1.0, 2.0]}, None)])
    assert "pass --attack-arg eps_list=1.0,2.0" in msg
