"""The trained detectors: SHAP-LR (the paper's), SHAP-RF and the confidence baseline (each
reads its spec's ``features`` column)."""

from __future__ import annotations

from advtui.detect.base import LearnedDetector


class ShapLR(LearnedDetector):
    """Logistic regression on the sorted-attribution quantiles (Saito & Wang 2020)."""

    name = "shap-lr"
    kind = "lr"


class ShapRF(LearnedDetector):
    """Random forest on the sorted-attribution quantiles."""

    name = "shap-rf"
    kind = "rf"


class Confidence(LearnedDetector):
    """Logistic regression on the top-1 logit and the log-odds of its probability."""

    name = "confidence"
    kind = "lr"
