"""Target modes are specs: each one's function is found through its lazy path, and what the
rest of the program asks (targeted? needs the final layer?) is a field, for every mode."""

from __future__ import annotations

import inspect

import pytest
import torch

from advtui import registry
from advtui.attacks import select_targets
from advtui.errors import AttackError
from advtui.settings import AttackSettings

MODES = list(registry.TARGET_MODES.values())
LOGITS = torch.tensor([[0.0, 5.0, 4.0, 1.0], [3.0, 0.0, 1.0, 2.0], [1.0, 2.0, 0.0, 3.0]])
NAMES = ["a", "b", "c", "d"]
EMB = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [1.0, 0.1]])


@pytest.mark.parametrize("spec", MODES, ids=lambda s: s.name)
def test_every_mode_runs_its_specs_function(spec):
    fn = registry.load(spec.path)
    assert callable(fn) and "clean_logits" in inspect.signature(fn).parameters
    direct = fn(LOGITS, seed=[4, 5, 6], embeddings=EMB)
    chosen = select_targets(spec.name, LOGITS, NAMES, seed=[4, 5, 6], embeddings=EMB)
    if not spec.targeted:
        assert direct is None and chosen is None
        assert not registry.is_targeted(spec.name)
        assert not AttackSettings.parse(target=spec.name).is_targeted
        return
    assert registry.is_targeted(spec.name)
    assert torch.equal(direct, chosen) and chosen.dtype == torch.long
    assert not bool((chosen == LOGITS.argmax(1)).any()), "a target is never the clean class"


@pytest.mark.parametrize("spec", [s for s in MODES if s.needs_embeddings], ids=lambda s: s.name)
def test_modes_that_compare_classes_refuse_a_model_without_a_final_layer(spec):
    with pytest.raises(AttackError, match=spec.name):
        select_targets(spec.name, LOGITS, NAMES, embeddings=None)


@pytest.mark.parametrize("spec", [s for s in MODES if not s.needs_embeddings], ids=lambda s: s.name)
def test_the_other_modes_need_no_embeddings(spec):
    select_targets(spec.name, LOGITS, NAMES, embeddings=None)


def test_a_class_name_or_index_is_a_targeted_non_mode():
    assert registry.is_targeted("d") and registry.is_targeted("2")
    assert select_targets("d", LOGITS, NAMES).tolist() == [3, 3, 3]
    assert "d" not in registry.TARGET_MODES


def test_the_modes_keep_their_targets():
    """The functions behind the specs choose what the if-chain chose (fixed values)."""
    assert select_targets("runner-up", LOGITS, NAMES).tolist() == [2, 3, 1]
    assert select_targets("nearest", LOGITS, NAMES, embeddings=EMB).tolist() == [2, 3, 0]
    random = select_targets("random", torch.zeros(1, 10) + torch.arange(10.0), NAMES, seed=3)
    assert int(random[0]) == int(torch.randint(9, (1,), generator=torch.Generator().manual_seed(3)))
