"""advtui: a terminal explorer for adversarial attacks on image classifiers and their SHAP explanations."""

__version__ = "0.1.0"
