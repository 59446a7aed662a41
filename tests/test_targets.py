from __future__ import annotations

import pytest
import torch

from advtui.attacks import class_matches, nearest_classes, resolve_class, select_targets
from advtui.errors import AttackError
from advtui.models import imagenet_classes

NAMES = imagenet_classes()


def test_resolve_class_exact_index_and_fuzzy():
    assert NAMES[resolve_class("African elephant", NAMES)] == "African elephant"
    assert resolve_class("african_ELEPHANT", NAMES) == resolve_class("African elephant", NAMES)
    assert resolve_class("386", NAMES) == 386
    assert NAMES[resolve_class("espreso", NAMES)] == "espresso"  # typo


def test_resolve_class_ambiguous_lists_matches():
    with pytest.raises(AttackError) as err:
        resolve_class("cat", NAMES)
    msg = str(err.value)
    assert "ambiguous" in msg and "\n" not in msg
    assert "tiger cat" in msg or "Persian cat" in msg


def test_resolve_class_unknown_and_out_of_range():
    with pytest.raises(AttackError, match="unknown class"):
        resolve_class("qqqqzzzz", NAMES)
    with pytest.raises(AttackError, match="unknown class"):
        resolve_class("nosuchclass", NAMES)  # not "ambiguous: sunglass, hourglass"
    with pytest.raises(AttackError, match="out of range"):
        resolve_class(1000, NAMES)


def test_class_matches_ranks_prefix_first():
    hits = class_matches("ele", NAMES, limit=5)
    assert hits and all("ele" in name.lower() for _, name in hits)
    assert class_matches("Indian elephant", NAMES, 3)[0][1] == "Indian elephant"
    assert "jeep" not in [n for _, n in class_matches("eleph", NAMES)]
    assert NAMES[resolve_class("afrcan elephant", NAMES)] == "African elephant"


def test_select_targets_modes():
    logits = torch.tensor([[0.0, 5.0, 4.0, 1.0], [3.0, 0.0, 1.0, 2.0]])
    names = ["a", "b", "c", "d"]
    assert select_targets("untargeted", logits, names) is None
    assert select_targets("runner-up", logits, names).tolist() == [2, 3]
    assert select_targets("d", logits, names).tolist() == [3, 3]
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [1.0, 0.1]])
    assert select_targets("nearest", logits, names, embeddings=emb).tolist() == [2, 3]
    with pytest.raises(AttackError, match="nearest"):
        select_targets("nearest", logits, names, embeddings=None)


def test_random_targets_are_seeded_and_never_the_clean_class():
    logits = torch.randn(200, 10)
    a = select_targets("random", logits, [str(i) for i in range(10)], seed=3)
    b = select_targets("random", logits, [str(i) for i in range(10)], seed=3)
    assert torch.equal(a, b)
    assert not bool((a == logits.argmax(1)).any())
    per_image = select_targets("random", logits[:2], [str(i) for i in range(10)], seed=[5, 6])
    alone = select_targets("random", logits[1:2], [str(i) for i in range(10)], seed=[6])
    assert int(per_image[1]) == int(alone[0]), "a per-image seed must not depend on the batch"


def test_nearest_classes_on_real_embeddings(real_model):
    emb = real_model.class_embeddings()
    african = resolve_class("African elephant", real_model.class_names)
    near = [real_model.class_names[i] for i in nearest_classes(emb, african, 3)]
    assert {"Indian elephant", "tusker"} & set(near)


def test_a_query_that_names_a_class_and_more_resolves_to_it():
    names = ["tabby", "tiger cat", "Persian cat", "African elephant", "Indian elephant"]
    assert resolve_class("tabby cat", names) == 0
    assert resolve_class("persian cat kitten", names) == 2
    assert resolve_class("an African elephant", names) == 3
    with pytest.raises(AttackError, match="ambiguous"):
        resolve_class("elephant", names)
