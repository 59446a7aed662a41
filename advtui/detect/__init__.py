"""Detectors of adversarial examples: features, cross-validated metrics, saved detectors.

``base`` (the one ``Detector`` base, its threshold and learned kinds, ``benchmark``),
``learned`` (SHAP-LR, SHAP-RF, confidence), ``squeeze``, ``mahalanobis``, ``lid``,
``features`` (sorted attribution quantiles, confidence), ``cv`` (group folds, metrics),
``saved`` (the fitted SHAP-LR as JSON, never a pickle: ``SavedDetector``). Registry:
advtui.registry.DETECTORS; adding one: docs/extending-detectors.md.
"""
