"""Attribution maps and their evidence: SHAP (expected gradients, as shap.GradientExplainer).

``shap`` (the estimator, batched in torch), ``evidence`` (torch-free: the Evidence record),
``background`` rules for SHAP. Names are imported lazily, so ``advtui.explain.evidence`` stays
torch-free for the explorer's first frame.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advtui.explain.evidence import Evidence, evidence_stats
    from advtui.explain.shap import (
        Explainer,
        Explanation,
        background_for_image,
        background_from_folder,
        background_from_paths,
    )

_EXPORTS = {
    "Evidence": "advtui.explain.evidence",
    "evidence_stats": "advtui.explain.evidence",
    "Explainer": "advtui.explain.shap",
    "Explanation": "advtui.explain.shap",
    "background_for_image": "advtui.explain.shap",
    "background_from_folder": "advtui.explain.shap",
    "background_from_paths": "advtui.explain.shap",
}

__all__ = [
    "Evidence",
    "Explainer",
    "Explanation",
    "background_for_image",
    "background_from_folder",
    "background_from_paths",
    "evidence_stats",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'advtui.explain' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
