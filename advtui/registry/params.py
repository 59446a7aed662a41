"""Parameters of the specs (a name, a default that gives the type, a closed range), their
typing and checking, and the lazy import of the code a spec names."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from advtui.errors import AttackError


@dataclass(frozen=True)
class Param:
    """One parameter of an attack/explainer/detector: default and closed range."""

    name: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None


def _unknown(kind: str, name: str, choices) -> AttackError:
    return AttackError(f"unknown {kind} {name!r}; choose from {', '.join(choices)}")


def _parse_value(text: str, default: Any) -> Any:
    """``text`` typed like ``default`` (bool, int, float, str, tuple; None: a literal)."""
    t = text.strip()
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if isinstance(default, bool):
        if t.lower() not in words:
            raise ValueError("expected true or false")
        return words[t.lower()]
    if isinstance(default, int):  # torchattacks writes c=1 for a float: 0.5 stays a float
        try:
            return int(t)
        except ValueError:
            return float(Fraction(t)) if "/" in t else float(t)
    if isinstance(default, float):
        return float(Fraction(t)) if "/" in t else float(t)
    if isinstance(default, tuple):
        return tuple(_parse_value(v, default[0] if default else 0.0) for v in t.split(","))
    if default is None:
        if t.lower() == "none":
            return None
        for kind in (int, float):
            try:
                return kind(t)
            except ValueError:
                pass
        return words.get(t.lower(), t) if t.lower() in ("true", "false") else t
    return t


def typed_args(label: str, params: tuple[Param, ...], pairs: Any) -> dict[str, Any]:
    """``--attack-arg key=value`` pairs typed like each :class:`Param`'s default and checked
    against its range. Unknown keys and bad values raise one line listing the accepted keys."""
    by_name = {p.name: p for p in params}
    accepted = ", ".join(by_name) or "none"
    out: dict[str, Any] = {}
    for key, text in pairs:
        p = by_name.get(key)
        if p is None:
            raise AttackError(f"{label}: unknown --attack-arg {key!r}; accepted keys: {accepted}")
        try:
            value = _parse_value(str(text), p.default)
        except (ValueError, ZeroDivisionError):
            kind = (
                "value" if p.default is None else f"{type(p.default).__name__} like {p.default!r}"
            )
            raise AttackError(
                f"{label}: --attack-arg {key}={text!r}: expected a {kind}; accepted keys: {accepted}"
            ) from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
                raise AttackError(
                    f"{label}: --attack-arg {key}={text!r}: must lie in [{p.low:g}, {p.high:g}]"
                )
        out[key] = value
    return out


def _within(value: float, p: Param) -> bool:
    return (p.low is None or value >= p.low) and (p.high is None or value <= p.high)


def load(path: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
