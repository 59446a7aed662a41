"""Detectors of adversarial examples: features, cross-validated metrics, saved detectors.

``features`` (sorted attribution quantiles, confidence), ``cv`` (group folds, metrics),
``saved`` (the fitted detector as JSON, never a pickle). Registry: advtui.registry.DETECTORS.
"""
