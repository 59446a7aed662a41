"""Detection against how close the target class is to the clean class (the paper's failure).

Saito & Wang report that detection fails when the target class is semantically close to the
true one. The closeness measured here is the one the ``nearest`` target mode uses: the cosine
similarity of the two classes' rows of the model's final linear layer
(:func:`advtui.attacks.targets.nearest_classes`). Each targeted row stores it
(``target_similarity``); rows of the modes whose registry spec has ``similarity_bins`` (random
and nearest targets: their targets span the range, runner-up's follow the clean logits) are
binned by it at equal counts, and every detector's pooled out-of-fold scores are scored per
bin against all clean rows, with bootstrap intervals over photos.

Torch-free at import (torch only inside :func:`target_similarities`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from advtui import registry
from advtui.eval.bootstrap import Resampler, detection_intervals, share_interval

#: Equal-count bins of the targeted rows' similarity.
SIMILARITY_BINS = 5


def target_similarities(embeddings, labels: Sequence[int], targets) -> list[float | None]:
    """Cosine similarity of each target's weight row to its label's (None: no target or no
    final linear layer). ``embeddings``: the class weight rows, or a
    :class:`~advtui.attacks.targets.NearestTargets` that holds them normalised (once per run)."""
    if targets is None or embeddings is None:
        return [None] * len(labels)
    import torch

    w = getattr(embeddings, "w", None)
    if w is None:
        w = torch.nn.functional.normalize(embeddings.detach().float(), dim=1)
    w = w.detach().cpu()
    t = torch.as_tensor([int(x) for x in targets], dtype=torch.long)
    lab = torch.as_tensor([int(x) for x in labels], dtype=torch.long)
    return [float(v) for v in (w[lab] * w[t]).sum(1)]


def fill_missing(rows: Sequence[Any], embeddings) -> int:
    """Give the targeted rows that lack ``target_similarity`` (stored by an advtui before it)
    their value, in memory; returns how many were filled."""
    todo = [
        r
        for r in rows
        if r.get("target") is not None and "target_similarity" not in r and "label" in r
    ]
    if not todo or embeddings is None:
        return 0
    sims = target_similarities(embeddings, [r["label"] for r in todo], [r["target"] for r in todo])
    for r, s in zip(todo, sims, strict=True):
        r["target_similarity"] = s
    return len(todo)


def binned_modes(targets: Sequence[str]) -> list[str]:
    """The run's target modes whose rows are binned by similarity."""
    return [
        t
        for t in targets
        if t in registry.TARGET_MODES and registry.TARGET_MODES[t].similarity_bins
    ]


def bin_edges(values: np.ndarray, bins: int = SIMILARITY_BINS) -> np.ndarray:
    """Equal-count edges (the ``bins`` quantiles; repeated values merge bins)."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    return edges if len(edges) > 1 else np.asarray([values.min(), values.max()])


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each value: ``edges[i] ≤ v < edges[i+1]``, the last bin closed."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def similarity_summary(
    oof: dict | None, targets: Sequence[str], res: Resampler | None, bins: int = SIMILARITY_BINS
) -> dict:
    """summary.json's ``target_similarity`` block from the pooled variant's out-of-fold scores
    (``oof`` as :func:`advtui.eval.metrics.summarize` keeps them: ``rows``, ``y``, ``groups``,
    ``detectors``, ``flags``)."""
    modes = binned_modes(targets)
    out: dict[str, Any] = {
        "modes": modes,
        "measure": "cosine similarity of the final-layer weight rows of target and clean class",
    }
    if not modes:
        out["note"] = "no random or nearest targets in this run"
        return out
    if not oof or not oof.get("rows"):
        out["note"] = "no pooled detection rows"
        return out
    rows, y = oof["rows"], np.asarray(oof["y"]).astype(int)
    groups = np.asarray([str(g) for g in oof["groups"]])
    sims = np.asarray(
        [
            np.nan if r.get("target_similarity") is None else float(r["target_similarity"])
            for r in rows
        ]
    )
    mode_of = np.asarray([r["variant"] for r in rows])
    adv = (y == 1) & np.isin(mode_of, modes) & np.isfinite(sims)
    out["n_adversarial"] = int(adv.sum())
    if not adv.any() or not (y == 0).any():
        out["note"] = "no successful random or nearest attack (or no clean rows) to bin"
        out["bins"] = []
        return out
    edges = bin_edges(sims[adv], bins)
    which = np.full(len(rows), -1)
    which[adv] = bin_index(sims[adv], edges)
    clean = y == 0
    if res is None:  # --bootstrap 0: point estimates only
        res = Resampler.make(groups, 0, 0)
    out["edges"] = [float(e) for e in edges]
    out["bins"] = []
    for b in range(len(edges) - 1):
        here = which == b
        mask = clean | here
        entry: dict[str, Any] = {
            "low": float(edges[b]),
            "high": float(edges[b + 1]),
            "n_adversarial": int(here.sum()),
            "photos": len(set(groups[here])),
            "mean_similarity": float(sims[here].mean()) if here.any() else None,
            "by_mode": {m: int((here & (mode_of == m)).sum()) for m in modes},
            "detectors": {},
        }
        for name, scores in (oof.get("detectors") or {}).items():
            flags = (oof.get("flags") or {}).get(name)
            iv = detection_intervals(res, y[mask], groups[mask], scores[mask], None)
            d: dict[str, Any] = {"roc_auc": iv["roc_auc"], "tpr_at_5fpr": iv["tpr_at_5fpr"]}
            tested = here & np.isfinite(scores)
            if flags is not None:
                d["detected"] = share_interval(res, groups[tested], flags[tested])
            entry["detectors"][name] = d
        out["bins"].append(entry)
    return out
