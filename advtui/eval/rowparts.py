"""The parts of one ``advtui eval`` row, computed by :class:`advtui.eval.loop.ImageRows`
(and the adaptive pass): which image it is (:func:`row_id`, :func:`attack_seed`), the fields
every row has (:func:`base_row`, :func:`clean_row`, :func:`pred_fields`), its explanation
(:class:`Explainers`, as ``advtui attack --explain`` computes it) and the detector inputs beside
SHAP (:func:`row_extras`: squeezing distances, penultimate features; :func:`transfer_fields`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

from advtui.eval.config import EvalConfig
from advtui.eval.dataset import Item
from advtui.eval.rows import ExplainedFields, ItemFields, PredFields, Row, TransferFields

#: Per-image seeds lie in [0, ATTACK_SEEDS).
ATTACK_SEEDS = 40_000


def attack_seed(seed: int, image: str | bytes) -> int:
    """The seed of one row's image (its relative path as on disk, plus ``#view``, e.g.
    ``photo.jpg#c80``): random target, PGD's random start and SHAP draws. Rows store it as
    ``attack_seed``, so ``advtui attack IMG --seed D …`` reproduces a row (docs/eval.md,
    "Reproduce a row").

    Hashes the name's raw bytes (:func:`advtui.names.name_bytes`), so any name a filesystem
    allows has a stable seed, undecodable bytes included; for a UTF-8 name those bytes are its
    UTF-8 encoding, the seed earlier versions gave."""
    from advtui.names import name_bytes

    # below 40 000: SHAP draws chunk c with numpy seed D·100003 + c, which must stay < 2³²
    return zlib.crc32(f"{seed}:".encode() + name_bytes(image)) % ATTACK_SEEDS


def row_id(image: str) -> str:
    """The ``image`` field of a row for the item id ``image``: the name escaped
    (:func:`advtui.names.safe_name`), so results.jsonl is valid UTF-8 and safe to print.
    A backslash is doubled first, so the id stays one-to-one: a file named ``a<ESC>.jpg``
    (``a\\x1b.jpg``) and one literally named ``a\\x1b.jpg`` (``a\\\\x1b.jpg``) are two rows."""
    from advtui.names import safe_name

    return safe_name(image.replace("\\", "\\\\"))


def rid(it: Item) -> str:
    return row_id(it.image)


def transfer_fields(transfer, x, x_adv, targets) -> list[TransferFields] | None:
    """Per image, what ``transfer`` (another classifier) says of the clean and the adversarial
    image: ``transfer_success`` = its adversarial prediction is the target (targeted) or differs
    from its own clean prediction (untargeted). None without a transfer model."""
    if transfer is None:
        return None
    clean = transfer.logits(x).argmax(1).tolist()
    adv = transfer.logits(x_adv).argmax(1).tolist()
    out: list[TransferFields] = []
    for j, (c, a) in enumerate(zip(clean, adv, strict=True)):
        ok = a == int(targets[j]) if targets is not None else a != c
        out.append(
            {
                "transfer_model": transfer.name,
                "transfer_clean_pred": c,
                "transfer_pred": a,
                "transfer_pred_label": transfer.label(a),
                "transfer_success": bool(ok),
            }
        )
    return out


def penultimate_dim(model) -> int:
    """Width of the model's penultimate features (0 when it has no final linear layer)."""
    fc = model.final_linear() if hasattr(model, "final_linear") else None
    return int(fc.in_features) if fc is not None else 0


@dataclass
class RowExtras:
    """The per-row detector inputs beside SHAP of a batch: squeezing distances (N, 2) and
    penultimate features (N, D) or None."""

    squeeze: list[list[float]]
    features: torch.Tensor | None

    def fields(self, j: int) -> ExplainedFields:
        parts = self.squeeze[j]
        return {"squeeze": max(parts), "squeeze_parts": parts}

    def penultimate(self, j: int):
        return None if self.features is None else self.features[j].cpu().numpy()


def row_extras(model, x: torch.Tensor) -> RowExtras:
    """Squeezing scores and penultimate features of images ``x`` (one forward each for x and
    its two squeezed versions)."""
    from advtui.detect.squeeze import squeeze_scores

    logits, feats = (
        model.logits_and_features(x) if hasattr(model, "logits_and_features") else (None, None)
    )
    probs = None if logits is None else logits.softmax(1)
    parts = squeeze_scores(model, x.to(model.device), probs)
    return RowExtras([[float(v) for v in row] for row in parts], feats)


class Explainers:
    """SHAP for each image exactly as ``advtui attack IMG --explain``/``explain`` and the
    explorer compute it: the background is :func:`advtui.explain.background_from_folder` over
    ``--background DIR`` or else the photo's own folder, up to 8 images spread over it, the
    explained photo left out; the seed is the row's ``attack_seed`` (what ``--seed`` gives
    those commands). So a row's evidence is what the explorer's ``--detector`` verdict sees.

    Leaving the photo out matters: expected gradients integrate from background images to
    the input; with the clean photo in the background its clean attribution would lose the
    (zero) path from itself while its adversarial twin would not — a difference a detector
    could learn that has nothing to do with the attack. Backgrounds of the last
    ``batch_size`` photos are kept (one load per photo and batch).
    """

    def __init__(self, model, cfg: EvalConfig, note: Callable[[str], None] | None = None) -> None:
        self.model, self.cfg = model, cfg
        self._backgrounds: dict[Path, torch.Tensor] = {}
        self._keep = max(8, cfg.batch_size)
        self._note = note
        self._noted: set[str] = set()

    def _tell(self, line: str) -> None:
        """Pass a note on once (every photo of a folder shares its unreadable neighbours)."""
        if self._note is not None and line not in self._noted:
            self._noted.add(line)
            self._note(line)

    def background(self, photo: Path) -> torch.Tensor:
        from advtui.explain import background_for_image

        photo = Path(photo)
        bg = self._backgrounds.pop(photo, None)
        if bg is None:
            bg = background_for_image(
                photo, self.model.load_size, self.cfg.background, note=self._tell
            )
        self._backgrounds[photo] = bg  # most recent last
        while len(self._backgrounds) > self._keep:
            self._backgrounds.pop(next(iter(self._backgrounds)))
        return bg

    def explainer(self, it: Item):
        """The explainer of item ``it`` (``--explainer``, built by
        :func:`advtui.explain.make_explainer`): its photo's background (SHAP only), its row's
        seed."""
        from advtui.explain import make_explainer

        return make_explainer(
            self.cfg.explainer,
            self.model,
            lambda: self.background(it.path),
            seed=attack_seed(self.cfg.seed, it.image),
            **self.cfg.explainer_params(),
        )

    def explain(self, x: torch.Tensor, classes: list[int], items: list[Item], stop):
        """Attributions and evidence for ``x`` in order, item ``items[i]`` for ``x[i]``."""
        attributions, evidence = [None] * len(x), [None] * len(x)
        for i, it in enumerate(items):
            e = self.explainer(it).explain(
                x[i : i + 1], [classes[i]], nsamples=self.cfg.nsamples, stop=stop
            )
            attributions[i], evidence[i] = e.attributions[0], e.evidence[0]
        return SimpleNamespace(attributions=attributions, evidence=evidence)


def attribution_shape(model, layer: str | None) -> list[int]:
    """The (C, h, w) shape of one attribution: the image, or the input of ``layer``."""
    size = model.load_size
    if not layer:
        return [3, size, size]
    seen: list[list[int]] = []
    hook = model.get_layer(layer).register_forward_pre_hook(
        lambda _m, inp: seen.append(list(inp[0].shape[1:]))
    )
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        hook.remove()
    return seen[0] if seen else []


def base_row(it: Item, seed: int) -> ItemFields:
    """The fields that say which image a row is about (every row has them)."""
    return {
        "image": rid(it),
        "attack_seed": attack_seed(seed, it.image),
        "source": row_id(str(it.path)),
        "view": it.view,
        "group": row_id(it.group),
        "position": it.position,
        "label_source": it.label_source,
    }


def clean_row(
    model, it: Item, seed: int, pred: int, probs: torch.Tensor, logits: torch.Tensor, label: int
) -> Row:
    """The fields every clean row has (``status`` and, if explained, ``evidence`` are added)."""
    return {
        **base_row(it, seed),
        **pred_fields(model, pred, probs, logits),
        "variant": "clean",
        "eps": None,
        "eps_255": None,
        "label": int(label),
    }


def pred_fields(model, pred: int, probs: torch.Tensor, logits: torch.Tensor) -> PredFields:
    return {
        "pred": int(pred),
        "pred_label": model.label(int(pred)),
        "confidence": float(probs[pred]),
        "logit": float(logits[pred]),
    }
