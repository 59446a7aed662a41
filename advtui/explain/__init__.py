"""Attribution maps and their evidence: SHAP (expected gradients, as shap.GradientExplainer),
Integrated Gradients, saliency and SmoothGrad (captum).

``base`` (the explainer protocol, :class:`Explanation`, :func:`make_explainer` — the one way
every face builds an explainer, driven by the registry), ``shap`` (the estimator, batched in
torch, and the background rules), ``captum`` (IG, saliency, SmoothGrad), ``evidence``
(torch-free: the Evidence record). Names are imported lazily, so ``advtui.explain.evidence`` stays
torch-free for the explorer's first frame.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advtui.explain.base import ExplainerProtocol, Explanation, make_explainer
    from advtui.explain.evidence import Evidence, evidence_stats
    from advtui.explain.shap import (
        Explainer,
        background_for_image,
        background_from_folder,
        background_from_paths,
    )

_EXPORTS = {
    "Evidence": "advtui.explain.evidence",
    "evidence_stats": "advtui.explain.evidence",
    "Explainer": "advtui.explain.shap",
    "Explanation": "advtui.explain.base",
    "ExplainerProtocol": "advtui.explain.base",
    "make_explainer": "advtui.explain.base",
    "background_for_image": "advtui.explain.shap",
    "background_from_folder": "advtui.explain.shap",
    "background_from_paths": "advtui.explain.shap",
}

__all__ = [
    "Evidence",
    "Explainer",
    "ExplainerProtocol",
    "Explanation",
    "background_for_image",
    "background_from_folder",
    "background_from_paths",
    "evidence_stats",
    "make_explainer",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'advtui.explain' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
