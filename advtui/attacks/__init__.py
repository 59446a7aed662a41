"""Attacks in [0, 1] pixel space, built by registry name (advtui.registry.ATTACKS).

Each attack is one file (``fgsm.py``, ``bim.py``, ``pgd.py`` …) with one class; this package
builds them by name through the registry's lazy import path, so adding an attack never touches
this file.
"""

from __future__ import annotations

from typing import Any

from advtui.attacks.base import Attack, AttackResult, parse_fraction, quantize
from advtui.attacks.targets import (
    NearestTargets,
    class_matches,
    nearest_classes,
    resolve_class,
    select_targets,
)
from advtui.registry import FLAG_PARAMS, Param, attack_spec, load, typed_args
from advtui.settings import TARGET_MODES


def attack_class(method: str) -> type[Attack]:
    """The class of attack ``method`` (a registry name or ``ta:NAME``)."""
    return load(attack_spec(method).path)


def attack_params(method: str) -> tuple[Param, ...]:
    """The parameters ``--attack-arg`` sets for ``method``: a native attack's registry params
    (less those flags of their own set: :data:`~advtui.registry.FLAG_PARAMS`), or a
    torchattacks class's signature."""
    spec = attack_spec(method)
    if spec.native:
        return tuple(p for p in spec.params if p.name not in FLAG_PARAMS)
    from advtui.attacks.torchattacks import ta_class, ta_params

    return ta_params(ta_class(spec.name))


def make_attack(method: str, model, *, attack_args=(), **kwargs) -> Attack:
    """Build an attack by registry name (``fgsm``, ``bim``, ``pgd``, ``ta:CW`` …).

    ``attack_args`` are ``(key, text)`` pairs from ``--attack-arg``: typed by the registry's
    params of a native attack (``decay`` of ``mifgsm``), or by the torchattacks class signature
    of a ``ta:`` attack. Unknown keys and bad values raise one line listing the accepted keys.
    """
    spec = attack_spec(method)
    cls = load(spec.path)
    if not spec.native:
        return cls(model, name=spec.name, attack_args=tuple(attack_args), **kwargs)
    return cls(model, **kwargs, **typed_attack_args(method, attack_args))


def typed_attack_args(method: str, attack_args=()) -> dict[str, Any]:
    """``--attack-arg`` pairs for ``method`` typed and range-checked (no model needed, so a
    bad key fails before the model loads); one line listing the accepted keys otherwise."""
    return typed_args(attack_spec(method).name, attack_params(method), attack_args)


def check_attack_args(method: str, attack_args=()) -> None:
    """Type ``--attack-arg`` pairs for ``method`` without building the attack (no model
    needed), so a bad key fails before the model loads."""
    typed_attack_args(method, attack_args)


def applicable_args(method: str, attack_args=()) -> tuple[tuple[str, str], ...]:
    """The pairs of ``attack_args`` that ``method`` accepts (the explorer's ``m`` cycles
    methods that share one ``--attack-arg`` list: each takes its own keys)."""
    keys = {p.name for p in attack_params(method)}
    return tuple((k, v) for k, v in attack_args if k in keys)


__all__ = [
    "applicable_args",
    "attack_params",
    "check_attack_args",
    "Attack",
    "AttackResult",
    "TARGET_MODES",
    "attack_class",
    "class_matches",
    "make_attack",
    "typed_attack_args",
    "NearestTargets",
    "nearest_classes",
    "parse_fraction",
    "quantize",
    "resolve_class",
    "select_targets",
]
