"""Attacks in [0, 1] pixel space, built by registry name (advtui.registry.ATTACKS).

Each attack is one file (``fgsm.py``, ``bim.py``, ``pgd.py`` …) with one class; this package
builds them by name through the registry's lazy import path, so adding an attack never touches
this file.
"""

from __future__ import annotations

from advtui.attacks.base import Attack, AttackResult, parse_fraction, quantize
from advtui.attacks.targets import (
    class_matches,
    nearest_classes,
    resolve_class,
    select_targets,
)
from advtui.registry import attack_spec, load
from advtui.settings import TARGET_MODES


def attack_class(method: str) -> type[Attack]:
    """The class of attack ``method`` (a registry name or ``ta:NAME``)."""
    return load(attack_spec(method).path)


def make_attack(method: str, model, **kwargs) -> Attack:
    """Build an attack by registry name (``fgsm``, ``bim``, ``pgd``, ``ta:CW`` …)."""
    spec = attack_spec(method)
    cls = load(spec.path)
    if not spec.native:
        kwargs["name"] = spec.name
    return cls(model, **kwargs)


__all__ = [
    "Attack",
    "AttackResult",
    "TARGET_MODES",
    "attack_class",
    "class_matches",
    "make_attack",
    "nearest_classes",
    "parse_fraction",
    "quantize",
    "resolve_class",
    "select_targets",
]
