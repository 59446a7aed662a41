"""The one list of what advtui can do: attacks, target modes, explainers, detectors and models.

Torch-free (the explorer's first frame and argparse read it). Each entry is a spec: name,
one-line description, parameters with defaults and ranges, and the lazy import path of the
code (``"module:attr"``). argparse choices and help, the explorer's ``m``/``t`` cycling, the help
screen, ``advtui attacks`` and the parametrised tests all read these tables; nothing else lists
them.

One module per kind (``attacks``, ``explainers``, ``detectors``, ``models``; ``params`` for
what they share); every public name is here, so callers write ``from advtui import registry``
or ``from advtui.registry import X``. Adding an extension is one file plus one spec in the
module of its kind (docs/extending.md).

``ta:NAME`` names any torchattacks attack; its spec is built on demand by
:func:`attack_spec` (norm and targeted support are read from torchattacks when it is imported).
"""

from __future__ import annotations

from advtui.registry.attacks import (
    ATTACKS,
    DEFAULT_ATTACK,
    DEFAULT_TARGET,
    FLAG_PARAMS,
    NORMS,
    SEED_ATTACK,
    TA_NAMES,
    TA_NORM_ARG,
    TA_PREFIX,
    TARGET_MODES,
    AttackSpec,
    TargetSpec,
    attack_choices,
    attack_names,
    attack_norm,
    attack_spec,
    detector_attack,
    is_targeted,
)
from advtui.registry.detectors import (
    DEFAULT_DETECTORS,
    DETECTORS,
    PAPER_DETECTOR,
    DetectorSpec,
    detector_spec,
)
from advtui.registry.explainers import (
    DEFAULT_EXPLAINER,
    EXPLAINERS,
    SEED_EXPLAINER,
    ExplainerSpec,
    explainer_kwargs,
    explainer_spec,
)
from advtui.registry.models import (
    DEFAULT_MODEL,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE_MEAN,
    LITE_STD,
    MODEL_FAMILIES,
    TIMM_PREFIX,
    ModelSpec,
    find_model,
    model_choices,
    model_names,
    model_spec,
)
from advtui.registry.params import Param, load, typed_args

__all__ = [
    "ATTACKS",
    "DEFAULT_ATTACK",
    "DEFAULT_DETECTORS",
    "DEFAULT_EXPLAINER",
    "DEFAULT_MODEL",
    "DEFAULT_TARGET",
    "DETECTORS",
    "EXPLAINERS",
    "FLAG_PARAMS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LITE_MEAN",
    "LITE_STD",
    "MODEL_FAMILIES",
    "NORMS",
    "PAPER_DETECTOR",
    "SEED_ATTACK",
    "SEED_EXPLAINER",
    "TARGET_MODES",
    "TA_NAMES",
    "TA_NORM_ARG",
    "TA_PREFIX",
    "TIMM_PREFIX",
    "AttackSpec",
    "DetectorSpec",
    "ExplainerSpec",
    "ModelSpec",
    "Param",
    "TargetSpec",
    "attack_choices",
    "attack_names",
    "attack_norm",
    "attack_spec",
    "detector_attack",
    "detector_spec",
    "explainer_kwargs",
    "explainer_spec",
    "find_model",
    "is_targeted",
    "load",
    "model_choices",
    "model_names",
    "model_spec",
    "typed_args",
]
