"""Every detector's out-of-fold score of every scored row: ``OUT/oof_scores.npz``.

The summary cross-validates each detector on one data set per (ε, target mode) and on all
modes pooled (:mod:`advtui.eval.report`); the scores each row got from the fold model that
did not see its photo are what the ROC curves, the TPR at 5 % FPR and the explorer's results
view (``advtui OUT``) are made of. This file keeps them, written atomically with the summary:

* ``meta`` — JSON: ``version``, ``fpr_budget`` and one entry per block (``eps``, ``variant``,
  ``detectors``), in the order of the arrays;
* ``B/line`` — block B's rows as 0-based line numbers of ``results.jsonl``;
* ``B/y`` — 1 adversarial (a successful attack), 0 clean;
* ``B/score`` — (rows, detectors) float64 out-of-fold scores (NaN: not scored);
* ``B/threshold`` — per detector, the score at the pooled ROC curve's 5 %-FPR point: a row
  is *caught* (flagged) when its score is ≥ it, so the caught share of the adversarial rows
  is the summary's ``tpr_at_5fpr`` (``inf``: no such point, nothing flagged).

Torch-free; reading needs numpy only (the ROC helpers here need no scikit-learn either).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advtui.errors import AdvtuiError
from advtui.images import atomic_write_bytes

SCORES = "oof_scores.npz"
VERSION = 1
#: The false-positive rate of the caught/missed verdicts (advtui.detect.base.FPR_BUDGET).
FPR_BUDGET = 0.05


class ScoresError(AdvtuiError):
    """oof_scores.npz cannot be read."""


def roc_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at each distinct score, highest threshold first, starting at
    (0, 0, inf) — scikit-learn's ``roc_curve`` with ``drop_intermediate=False``. Non-finite
    scores are left out."""
    y, s = np.asarray(y).astype(int), np.asarray(s, dtype=np.float64)
    m = np.isfinite(s)
    y, s = y[m], s[m]
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.zeros(0, int)
    tp, fp = np.cumsum(y)[last], np.cumsum(1 - y)[last]
    npos, nneg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    fpr = np.r_[0.0, fp / nneg]
    tpr = np.r_[0.0, tp / npos]
    return fpr, tpr, np.r_[np.inf, s[last]]


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under an ROC curve (trapezoids)."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def threshold_at_fpr(y: np.ndarray, s: np.ndarray, budget: float = FPR_BUDGET) -> float | None:
    """The highest threshold whose TPR is the largest at an FPR ≤ ``budget``: ``s ≥ t``
    flags rows at :func:`advtui.detect.base.tpr_at_fpr`'s point. None without both classes."""
    y = np.asarray(y).astype(int)
    m = np.isfinite(np.asarray(s, dtype=np.float64))
    if len(np.unique(y[m])) < 2:
        return None
    fpr, tpr, thr = roc_points(y, s)
    ok = np.flatnonzero(fpr <= budget + 1e-12)
    return float(thr[ok[np.argmax(tpr[ok])]])


def _detector_oof(oof: Mapping) -> dict[str, np.ndarray]:
    dets = oof.get("detectors") or {}
    if dets:
        return dict(dets)
    return {
        k: v
        for k, v in (("lr", oof.get("lr")), ("confidence", oof.get("confidence_baseline")))
        if v is not None
    }


def write_scores(folder: str | Path, sweep_oof: Mapping, line_of: Mapping) -> Path:
    """Write ``folder/oof_scores.npz`` from ``{eps: {variant: oof}}`` (the summary's
    out-of-fold dicts, each with ``keys``: the rows' keys) and ``line_of`` (key → line)."""
    arrays: dict[str, Any] = {}
    blocks: list[dict] = []
    for eps, by_variant in sweep_oof.items():
        for variant, oof in by_variant.items():
            b = len(blocks)
            dets = _detector_oof(oof)
            y = np.asarray(oof["y"]).astype(np.int8)
            lines = np.asarray([line_of.get(tuple(k), -1) for k in oof["keys"]], dtype=np.int64)
            score = np.full((len(y), len(dets)), np.nan)
            thr = np.full(len(dets), np.inf)
            for j, s in enumerate(dets.values()):
                s = np.asarray(s, dtype=np.float64)
                score[:, j] = s
                t = threshold_at_fpr(y, s)
                thr[j] = math.inf if t is None else t
            arrays |= {f"{b}/line": lines, f"{b}/y": y, f"{b}/score": score, f"{b}/threshold": thr}
            blocks.append({"eps": eps, "variant": variant, "detectors": list(dets)})
    meta = {"version": VERSION, "fpr_budget": FPR_BUDGET, "blocks": blocks}
    buf = io.BytesIO()
    np.savez(buf, **({"meta": np.asarray(json.dumps(meta))} | arrays))
    path = Path(folder) / SCORES
    atomic_write_bytes(path, buf.getvalue())  # uncompressed: read at once
    return path


@dataclass
class Block:
    """One cross-validated data set: an ε and a variant (a target mode or ``pooled``)."""

    eps: str
    variant: str
    detectors: list[str]
    line: np.ndarray  # (n,) int64 lines of results.jsonl
    y: np.ndarray  # (n,) int8
    score: np.ndarray  # (n, len(detectors)) float64
    threshold: np.ndarray  # (len(detectors),) float64

    def caught(self) -> np.ndarray:
        """(n, detectors) bool: flagged at the 5 %-FPR threshold (NaN scores: False)."""
        with np.errstate(invalid="ignore"):
            return self.score >= self.threshold[None, :]

    def scores(self, detector: str) -> np.ndarray:
        return self.score[:, self.detectors.index(detector)].astype(np.float64)


def read_scores(folder: str | Path) -> list[Block]:
    """The blocks of ``folder/oof_scores.npz`` ([] when absent); ScoresError when damaged."""
    path = Path(folder) / SCORES
    if not path.exists():
        return []
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return [
                Block(
                    str(b["eps"]),
                    str(b["variant"]),
                    [str(d) for d in b["detectors"]],
                    z[f"{i}/line"],
                    z[f"{i}/y"],
                    z[f"{i}/score"],
                    z[f"{i}/threshold"],
                )
                for i, b in enumerate(meta["blocks"])
            ]
    except Exception as exc:  # noqa: BLE001 - any damage is one line
        raise ScoresError(
            f"{path.name}: unreadable ({type(exc).__name__}); no detector scores"
        ) from None
