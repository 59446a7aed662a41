"""The rows of ``advtui eval``'s ``results.jsonl``, typed: the one list of their fields.

A row is one (image, variant, ε) result. Every row has :class:`ItemFields` (which image) and
:class:`VariantFields` (which variant and ε); the other groups are present on the rows they
describe (``total=False``), so a reader uses ``row.get`` for them:

* :class:`OutcomeFields` — ``status`` on every finished row, ``error`` on unreadable ones,
  ``f`` (set by the store) on every stored row;
* :class:`PredFields` — the classification, on every readable row;
* :class:`ExplainedFields` — SHAP evidence and the other detectors' inputs, on rows with
  ``status`` ``ok``;
* :class:`AdversarialFields` — the attack, on every adversarial row;
* :class:`AdaptiveFields` — the adaptive attack, on ``MODE+adaptive`` rows;
* :class:`TransferFields` — the ``--transfer-to`` model's verdict, on adversarial rows of a
  run with ``--transfer-to``.

:class:`Row` is all of them. docs/eval.md documents each field (*Fields of results.jsonl*);
a test keeps that table and :data:`FIELDS` equal. Torch-free (numpy only when type checking).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    import numpy as np

#: A finished row's ``status``.
Status = Literal["ok", "attack-failed", "misclassified", "unreadable"]


class ItemFields(TypedDict):
    """Which image (every row; ``advtui.eval.rowparts.base_row``)."""

    image: str  # the item id, escaped: "photo.jpg" or "photo.jpg#c80"
    attack_seed: int  # the image's seed (random target, PGD start, SHAP draws)
    source: str  # the photo's path, escaped
    view: str  # "full", "flip", "c80", …
    group: str  # all views of one photo share it (never split across folds)
    position: int  # photo order (the seed protocol's split by index)
    label_source: str  # where ``label`` came from: "labels", "folder", "filename", "clean-top1"


class VariantFields(TypedDict):
    """Which variant and ε (every row)."""

    variant: str  # "clean", a target mode, or "MODE+adaptive"
    eps: float | None  # None on clean rows
    eps_255: str | None  # ε as text ("8/255"); None on clean rows


class OutcomeFields(TypedDict, total=False):
    """How the row ended and where its features are."""

    status: Status
    error: str  # unreadable rows: why
    f: int | None  # index of the row's feature vector (set by the store; None: no features)


class PredFields(TypedDict, total=False):
    """The classification of the row's image (every readable row; ``advtui.eval.rowparts.pred_fields``)."""

    label: int  # the class the row is about: true label (clean) or clean prediction
    pred: int
    pred_label: str
    confidence: float  # softmax probability of ``pred``
    logit: float  # logit of ``pred``


class ExplainedFields(TypedDict, total=False):
    """The attribution record and the other detectors' inputs (rows with status ``ok``)."""

    evidence: dict[str, Any]  # advtui.explain.evidence.Evidence.to_dict()
    squeeze: float  # feature-squeezing score: the larger of squeeze_parts
    squeeze_parts: list[float]  # [5-bit depth, 2×2 median] L1 distances


class AdversarialFields(TypedDict, total=False):
    """The attack (every adversarial row)."""

    target: int | None  # None for untargeted
    target_label: str | None
    target_similarity: float | None  # cosine of target's and label's final-layer rows
    success: bool
    linf: float  # norms of the final 8-bit perturbation
    l2: float
    l0: int
    steps_run: int
    rounding_undid: bool  # 8-bit rounding undid a success
    clean_confidence: float  # the clean image's confidence in ``label``


class AdaptiveFields(TypedDict, total=False):
    """The adaptive attack against the fold's SHAP detector (``MODE+adaptive`` rows)."""

    fold: int
    adaptive_weight: float
    eot: int
    detector_logit_trace: list[float]  # the detector's logit at each step
    detector_p: float  # the attacked detector's P(adversarial) on the row's own SHAP


class TransferFields(TypedDict, total=False):
    """What the ``--transfer-to`` model says (adversarial rows; ``transfer_fields``)."""

    transfer_model: str
    transfer_clean_pred: int
    transfer_pred: int
    transfer_pred_label: str
    transfer_success: bool


class Row(
    ItemFields,
    VariantFields,
    OutcomeFields,
    PredFields,
    ExplainedFields,
    AdversarialFields,
    AdaptiveFields,
    TransferFields,
    total=False,
):
    """One row of ``results.jsonl``."""


#: Every field a row may have, group by group (the order of docs/eval.md's table).
FIELDS: tuple[str, ...] = tuple(Row.__annotations__)

#: What identifies a row: (image, variant, ε as text or None for clean rows).
RowKey = tuple[str, str, "str | None"]

#: What an engine yields per row: (row, SHAP feature vector or None, penultimate features or
#: None); the store writes the vectors and sets ``f``.
RowOut = tuple[Row, "np.ndarray | None", "np.ndarray | None"]
