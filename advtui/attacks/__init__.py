"""Gradient attacks in [0, 1] pixel space; a registry feeds the UI, the CLI and the tests."""

from __future__ import annotations

from advtui.attacks.base import Attack, AttackResult, parse_fraction, quantize
from advtui.attacks.bim import BIM
from advtui.attacks.fgsm import FGSM
from advtui.attacks.pgd import PGD
from advtui.attacks.targets import (
    class_matches,
    nearest_classes,
    resolve_class,
    select_targets,
)
from advtui.errors import AttackError
from advtui.settings import TARGET_MODES

ATTACKS: dict[str, type[Attack]] = {cls.name: cls for cls in (FGSM, BIM, PGD)}


def make_attack(method: str, model, **kwargs) -> Attack:
    """Build an attack by registry name (``fgsm``, ``bim``, ``pgd``)."""
    try:
        cls = ATTACKS[method.lower()]
    except KeyError:
        raise AttackError(f"unknown attack {method!r}; choose from {', '.join(ATTACKS)}") from None
    return cls(model, **kwargs)


__all__ = [
    "ATTACKS",
    "Attack",
    "AttackResult",
    "BIM",
    "FGSM",
    "PGD",
    "TARGET_MODES",
    "class_matches",
    "make_attack",
    "nearest_classes",
    "parse_fraction",
    "quantize",
    "resolve_class",
    "select_targets",
]
