"""The figures Saito & Wang (2020) report, printed beside advtui's in the detection tables.

*Explaining Away Attacks Against Neural Networks* (arXiv:2003.05748), Sections 1 and 4: a
classifier on the sorted SHAP values of the top class detects untargeted attacks at 99.81 %
and targeted attacks at 99.87 % accuracy, on ImageNet with Inception-v3 and BIM. They report
accuracy only: no ROC-AUC, TPR at a false-positive rate, or interval, so none is shown.
"""

from __future__ import annotations

PAPER: dict = {
    "source": "Saito & Wang 2020 (arXiv:2003.05748)",
    "model": "Inception-v3",
    "attack": "BIM",
    "detector": "classifier on sorted SHAP values",
    "data": "ImageNet",
    "rows": [
        {"variant": "untargeted", "accuracy": 0.9981},
        {"variant": "targeted", "accuracy": 0.9987},
    ],
    "not_reported": ["roc_auc", "tpr_at_5fpr", "intervals"],
}


def paper_label() -> str:
    """``Saito & Wang 2020 (arXiv:2003.05748) — Inception-v3, BIM``."""
    return f"{PAPER['source']} — {PAPER['model']}, {PAPER['attack']}"
