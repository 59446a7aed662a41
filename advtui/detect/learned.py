"""The trained detectors: SHAP-LR (the paper's), SHAP-RF and the confidence baseline."""

from __future__ import annotations

from advtui.detect.base import LearnedDetector


class ShapLR(LearnedDetector):
    """Logistic regression on the sorted-attribution quantiles (Saito & Wang 2020)."""

    name = "shap-lr"
    column, kind = "shap", "lr"


class ShapRF(LearnedDetector):
    """Random forest on the sorted-attribution quantiles."""

    name = "shap-rf"
    column, kind = "shap", "rf"


class Confidence(LearnedDetector):
    """Logistic regression on the top-1 logit and the log-odds of its probability."""

    name = "confidence"
    column, kind = "confidence", "lr"
