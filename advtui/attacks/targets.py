"""Choosing target classes for targeted attacks.

Modes (the registry's :data:`~advtui.registry.TARGET_MODES`, one function each below):
  * ``untargeted`` — no target: move away from the clean prediction.
  * ``random`` — a uniformly random class other than the clean prediction (seeded).
  * ``runner-up`` — the second most confident class on the clean image.
  * ``nearest`` — the class most similar to the clean prediction, by cosine similarity of the
    classifier's final-layer weight vectors (the directions the model uses to score each
    class). Offline and model-specific: for EfficientNet-Lite0 the nearest class to
    "African elephant" is "Indian elephant"/"tusker", to "tabby" "tiger cat".
  * anything else — a class by name (fuzzy, case-insensitive) or by index.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import torch

from advtui import registry
from advtui.errors import AttackError


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def _scored(query: str, class_names: Sequence[str]) -> list[tuple[float, int]]:
    """(score, index) best first; score bands: 0 exact, 1 prefix, 2 word prefix, 3 substring,
    3.5 every word of the class is in the query, 4–5 fuzzy (4 + 1 − similarity ratio)."""
    q = _norm(query)
    scored: list[tuple[float, int]] = []
    for i, name in enumerate(class_names):
        n = _norm(name)
        if n == q:
            score = 0.0
        elif n.startswith(q):
            score = 1.0 + len(n) / 1000
        elif any(w.startswith(q) for w in n.split()):
            score = 2.0 + len(n) / 1000
        elif q in n:
            score = 3.0 + len(n) / 1000
        elif set(n.split()) <= set(q.split()):  # the query names it and more: "tabby cat"
            score = 3.5 - len(n) / 1000  # the longest such class first
        else:
            ratio = difflib.SequenceMatcher(None, q, n).ratio()
            if ratio < 0.75:  # looser lets "nosuchclass" match "sunglass"
                continue
            score = 5.0 - ratio
        scored.append((score, i))
    scored.sort()
    return scored


def class_matches(query: str, class_names: Sequence[str], limit: int = 10) -> list[tuple[int, str]]:
    """Classes matching ``query`` best first: exact, prefix, word prefix, substring, then fuzzy."""
    if not _norm(query):
        return list(enumerate(class_names))[:limit]
    return [(i, class_names[i]) for _, i in _scored(query, class_names)[:limit]]


def resolve_class(query: str | int, class_names: Sequence[str]) -> int:
    """A class index from a name (fuzzy) or an index; AttackError lists close matches.

    A name resolves when it matches one class exactly, or is the prefix/word/substring of
    exactly one class, or — for typos — is clearly closer to one class than to any other.
    """
    if isinstance(query, int) or str(query).strip().isdigit():
        index = int(query)
        if not 0 <= index < len(class_names):
            raise AttackError(f"class index {index} out of range 0..{len(class_names) - 1}")
        return index
    text = str(query).strip()
    exact = _exact_names(class_names).get(_norm(text), [])
    if len(exact) == 1:  # what the scan below returns first, without scanning every class
        return exact[0]
    scored = _scored(text, class_names)
    if not scored:
        raise AttackError(
            f"unknown class {text!r}: no close match among {len(class_names)} classes"
        )
    exact = [i for s, i in scored if s == 0.0]
    if len(exact) == 1:
        return exact[0]
    textual = [i for s, i in scored if s < 4.0]
    if len(textual) == 1:
        return textual[0]
    if not textual:
        best = scored[0][0]
        second = scored[1][0] if len(scored) > 1 else 5.0
        if best <= 4.2 and second - best >= 0.1:
            return scored[0][1]
    shown = ", ".join(f"{class_names[i]!r} ({i})" for _, i in scored[:5])
    raise AttackError(f"class {text!r} is ambiguous: {shown}; give the full name or the index")


def nearest_classes(embeddings: torch.Tensor, index: int, k: int = 5) -> list[int]:
    """The ``k`` classes whose weight vectors are most cosine-similar to class ``index``."""
    return _nearest(torch.nn.functional.normalize(embeddings.float(), dim=1), index, k)


def _nearest(w: torch.Tensor, index: int, k: int) -> list[int]:
    sims = w @ w[index]
    sims[index] = -float("inf")
    return sims.topk(k).indices.tolist()


class NearestTargets:
    """The ``nearest`` target of each class, for a whole run: the weight vectors are
    normalised once and each class's nearest class is computed the first time it is asked for
    (one classes × D product per distinct class, never per image), with the values
    :func:`nearest_classes` gives."""

    def __init__(self, embeddings: torch.Tensor) -> None:
        self.w = torch.nn.functional.normalize(embeddings.float(), dim=1)
        self._of: dict[int, int] = {}

    def __call__(self, index: int) -> int:
        index = int(index)
        if index not in self._of:
            self._of[index] = _nearest(self.w, index, 1)[0]
        return self._of[index]


_EXACT: dict[int, tuple[Sequence[str], dict[str, list[int]]]] = {}


def _exact_names(class_names: Sequence[str]) -> dict[str, list[int]]:
    """Normalised class name → indices, built once per class list (kept by identity, so a
    list of labels resolved one line at a time never rescans the classes)."""
    hit = _EXACT.get(id(class_names))
    if hit is not None and hit[0] is class_names:
        return hit[1]
    table: dict[str, list[int]] = {}
    for i, name in enumerate(class_names):
        table.setdefault(_norm(name), []).append(i)
    if len(_EXACT) > 8:
        _EXACT.clear()
    _EXACT[id(class_names)] = (class_names, table)
    return table


def select_targets(
    mode: str,
    clean_logits: torch.Tensor,
    class_names: Sequence[str],
    *,
    seed: int | Sequence[int] = 0,
    embeddings: torch.Tensor | NearestTargets | None = None,
) -> torch.Tensor | None:
    """Target class per image (N,) for ``mode``, or None for an untargeted mode. A mode of
    :data:`advtui.registry.TARGET_MODES` runs its spec's function; anything else is a class
    name or index. ``embeddings``: the final layer's weight vectors, or (for a run of many
    batches) their :class:`NearestTargets`, which computes each class's nearest class once.

    ``seed`` may be one int for the batch or one per image (so a row's random target does not
    depend on its batch).
    """
    spec = registry.TARGET_MODES.get(mode)
    if spec is None:
        index = resolve_class(mode, class_names)
        return torch.full(
            (clean_logits.shape[0],), index, dtype=torch.long, device=clean_logits.device
        )
    if spec.needs_embeddings and embeddings is None:
        raise AttackError(f"target {mode!r} needs a final linear layer to compare classes")
    return registry.load(spec.path)(clean_logits, seed=seed, embeddings=embeddings)


# One function per target mode (the registry's TargetSpec.path): the clean logits (N, classes),
# ``seed`` (one int, or one per image) and ``embeddings`` in, (N,) target classes or None out.


def no_target(clean_logits: torch.Tensor, **_: object) -> None:
    """``untargeted``: no target; the attack moves away from the clean prediction."""
    return None


def random_target(
    clean_logits: torch.Tensor, *, seed: int | Sequence[int] = 0, **_: object
) -> torch.Tensor:
    """``random``: a uniformly random class other than the clean prediction, from one
    generator seeded with ``seed`` for the batch, or one per image with a seed per image."""
    n, num_classes = clean_logits.shape
    pred = clean_logits.argmax(1)
    seeds = [int(seed)] * n if isinstance(seed, int) else [int(s) for s in seed]
    out = []
    gen = torch.Generator().manual_seed(seeds[0])
    for i in range(n):
        if not isinstance(seed, int):
            gen = torch.Generator().manual_seed(seeds[i])
        t = int(torch.randint(num_classes - 1, (1,), generator=gen))
        out.append(t + 1 if t >= int(pred[i]) else t)  # skip the clean prediction
    return torch.tensor(out, dtype=torch.long, device=clean_logits.device)


def runner_up_target(clean_logits: torch.Tensor, **_: object) -> torch.Tensor:
    """``runner-up``: the second most confident clean class."""
    return clean_logits.topk(2, dim=1).indices[:, 1]


def nearest_target(
    clean_logits: torch.Tensor,
    *,
    embeddings: torch.Tensor | NearestTargets | None = None,
    **_: object,
) -> torch.Tensor:
    """``nearest``: the class whose final-layer weight vector is most cosine-similar to the
    clean prediction's."""
    if embeddings is None:
        raise AttackError("target 'nearest' needs a final linear layer to compare classes")
    nearest = embeddings if isinstance(embeddings, NearestTargets) else NearestTargets(embeddings)
    return torch.tensor(
        [nearest(int(p)) for p in clean_logits.argmax(1)],
        dtype=torch.long,
        device=clean_logits.device,
    )
