"""Eval at 1,000 classes costs per image what it costs at 15: nothing scans the classes per
row (class names, the ``nearest`` target's similarities, label look-ups). Counted, not timed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import torch

from advtui.attacks import NearestTargets, nearest_classes, resolve_class, select_targets
from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval
from tests.conftest import make_tiny_classifier


class CountingNames(Sequence[str]):
    """Class names that count every name read (an iteration reads them all)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names, self.reads = list(names), 0

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i):  # type: ignore[override]
        got = self.names[i]
        self.reads += len(got) if isinstance(i, slice) else 1
        return got

    def __iter__(self) -> Iterator[str]:
        self.reads += len(self.names)
        return iter(self.names)


def test_an_eval_at_1000_classes_reads_a_few_names_per_row_and_normalises_once(
    samples_dir, tmp_path, monkeypatch
):
    model = make_tiny_classifier(num_classes=1000, size=16)
    names = CountingNames(model.class_names)
    model.class_names = names  # type: ignore[assignment]
    normalised = []
    real = torch.nn.functional.normalize
    monkeypatch.setattr(
        torch.nn.functional, "normalize", lambda *a, **k: normalised.append(1) or real(*a, **k)
    )
    cfg = EvalConfig(
        folder=str(samples_dir),
        out=str(tmp_path / "run"),
        n=4,
        targets=["untargeted", "random", "nearest"],
        eps=["8/255"],
        method="bim",
        steps=1,
        nsamples=2,
        batch_size=2,
        detectors=["confidence"],
        plots=False,
        folds=2,
    )
    names.reads = 0
    rows = run_eval(cfg, model).store.rows
    assert len(rows) >= 4
    # a per-row scan would read 1,000 names per row; a row reads its prediction's and target's
    assert names.reads <= 5 * len(rows), names.reads
    assert len(normalised) == 1  # the nearest targets' weight vectors: once per run


def test_nearest_targets_equal_nearest_classes_and_compute_each_class_once(monkeypatch):
    emb = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    table = NearestTargets(emb)
    for c in range(50):
        assert table(c) == nearest_classes(emb, c, 1)[0]
    from advtui.attacks import targets

    want = [nearest_classes(emb, c, 1)[0] for c in (3, 3, 7, 3, 7, 3)]
    calls = []
    real = targets._nearest
    monkeypatch.setattr(targets, "_nearest", lambda *a: calls.append(a[1]) or real(*a))
    logits = torch.zeros(6, 50)
    logits[torch.arange(6), torch.tensor([3, 3, 7, 3, 7, 3])] = 1.0
    got = select_targets("nearest", logits, [str(i) for i in range(50)], embeddings=table)
    assert got.tolist() == want
    assert calls == []  # the table had them all already
    fresh = NearestTargets(emb)
    select_targets("nearest", logits, [str(i) for i in range(50)], embeddings=fresh)
    assert calls == [3, 7]  # each distinct class once, not each image


def test_resolving_many_labels_by_name_scans_the_classes_once():
    names = CountingNames([f"class {i}" for i in range(1000)])
    for i in range(0, 1000, 10):
        assert resolve_class(f"Class {i}", names) == i
    assert names.reads <= 1000 + 100  # one scan to build the table, then a read per label
    with pytest.raises(Exception, match="ambiguous"):
        resolve_class("class 1", CountingNames(["class 1", "Class 1"]))
