"""What the user chose, parsed without importing torch (the explorer's first frame stays fast).

``AttackSettings`` is shared by the CLI, the TUI and :mod:`advtui.pipeline`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

from advtui import registry
from advtui.errors import AttackError, FlagError

#: The single models' names (advtui.registry.MODEL_FAMILIES; families such as ``timm:NAME``
#: are not listed). Every one of them has ImageNet-1k's classes.
MODEL_NAMES: tuple[str, ...] = registry.model_names()
#: The explorer's default ``m`` cycle and the native attack names (advtui.registry.ATTACKS).
METHODS: tuple[str, ...] = registry.attack_names(cycle=True)
#: Target modes (advtui.registry.TARGET_MODES); any other --target is a class name or index.
TARGET_MODES: tuple[str, ...] = tuple(registry.TARGET_MODES)


@dataclass(frozen=True)
class FlagRange:
    """The valid values of one shared flag: ``low ≤ value ≤ high`` (``low`` excluded when
    ``low_open``); ``kind`` is ``"fraction"`` (pixel units: ``8/255`` or ``0.03``), ``"int"`` or
    ``"float"``; ``note`` explains the unit or what the edge means."""

    kind: str
    low: float
    high: float | None = None
    low_open: bool = False
    note: str = ""

    def describe(self) -> str:
        """``must lie in [0, 1]``, ``must be at least 1``, ``must be greater than 0`` …"""
        if self.high is not None:
            left = "(" if self.low_open else "["
            return f"must lie in {left}{_num(self.low)}, {_num(self.high)}]"
        if self.low_open:
            return f"must be greater than {_num(self.low)}"
        return f"must be at least {_num(self.low)}"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


#: The one rule for every shared flag (CLI subcommands, ``advtui eval`` and the explorer all
#: check through :func:`check_flag`). ε = 0 is allowed and means "no attack": the adversarial
#: image is the clean one, so a sweep can start at the clean baseline.
FLAG_RANGES: dict[str, FlagRange] = {
    "eps": FlagRange("fraction", 0.0, 1.0, note="pixel units, e.g. 8/255; 0 = no attack"),
    "alpha": FlagRange("fraction", 0.0, 1.0, low_open=True, note="pixel units, e.g. 2/255"),
    "steps": FlagRange("int", 1, 100_000),
    "seed": FlagRange("int", 0, 2**32 - 1),
    "nsamples": FlagRange("int", 1, 100_000),
    "local-smoothing": FlagRange("float", 0.0, 1.0),
    "top": FlagRange("int", 1, 1000),
    "batch-size": FlagRange("int", 1, 4096),
    "n": FlagRange("int", 1),
    "views": FlagRange("int", 1, 8),
    "folds": FlagRange("int", 2),
    "input-size": FlagRange("int", 8, 4096),
    "threads": FlagRange("int", 1, 4096),
    "eot": FlagRange("int", 1, 1000),
    "adaptive-weight": FlagRange("float", 0.0, 1e6),
    "workers": FlagRange("int", 1, 4096),
    "bootstrap": FlagRange("int", 0, 1_000_000, note="resamples of the photos; 0 = no intervals"),
}


def flag_message(
    name: str, value: object, problem: str | None = None, rule: FlagRange | None = None
) -> str:
    """The one-line message for a bad value of flag ``name``: ``--eps '2': must lie in [0, 1]
    (pixel units, e.g. 8/255; 0 = no attack)``. The value is shown escaped (it is user text)."""
    from advtui.names import safe_name

    rule = rule or FLAG_RANGES.get(name)
    text = problem or (rule.describe() if rule else "invalid value")
    note = f" ({rule.note})" if rule and rule.note else ""
    shown = safe_name(str(value))
    if not shown or any(ch.isspace() for ch in shown):
        shown = repr(shown)
    flag = f"--{name}" if name in FLAG_RANGES else name
    return f"{flag} {shown}: {text}{note}"


def check_flag(name: str, value: str | float | int):
    """``value`` of flag ``name`` parsed and checked against :data:`FLAG_RANGES`; raises
    :class:`~advtui.errors.FlagError` with :func:`flag_message`. Fractions accept ``8/255``."""
    rule = FLAG_RANGES[name]
    if rule.kind == "fraction":
        return parse_fraction(value, name)
    if isinstance(value, bool):
        raise FlagError(flag_message(name, value, "expected a number"))
    try:
        if rule.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            out: float = int(value) if not isinstance(value, str) else int(value.strip())
        else:
            out = float(value)
    except (TypeError, ValueError):
        expected = "a whole number" if rule.kind == "int" else "a number"
        raise FlagError(flag_message(name, value, f"expected {expected}")) from None
    if not math.isfinite(out) or not _inside(out, rule):
        raise FlagError(flag_message(name, value))
    return out


def _inside(value: float, rule: FlagRange) -> bool:
    low_ok = value > rule.low if rule.low_open else value >= rule.low
    return low_ok and (rule.high is None or value <= rule.high)


def parse_fraction(value: str | float, what: str = "value") -> float:
    """Parse ``"8/255"``, ``"0.03"`` or a float into a float in [0, 1] (or ``what``'s own range
    when it is a fraction flag of :data:`FLAG_RANGES`, e.g. α > 0)."""
    rule = FLAG_RANGES.get(what)
    if rule is None or rule.kind != "fraction":
        rule = FlagRange("fraction", 0.0, 1.0, note="pixel units, e.g. 8/255")
    if isinstance(value, bool):
        raise FlagError(flag_message(what, value, "expected a number like 0.03 or 8/255", rule))
    if isinstance(value, (int, float)):
        out = float(value)
    else:
        text = str(value).strip()
        try:
            out = float(Fraction(text)) if "/" in text else float(text)
        except (ValueError, ZeroDivisionError):
            raise FlagError(
                flag_message(what, value, "expected a number like 0.03 or 8/255", rule)
            ) from None
    if not math.isfinite(out) or not _inside(out, rule):
        raise FlagError(flag_message(what, value, rule=rule))
    return out


def parse_eps(value: str | float, norm: str = "Linf", what: str = "eps") -> float:
    """ε (or α) of an attack bounded in ``norm``, in [0, 1] pixel units: L∞ lies in [0, 1]
    (:func:`parse_fraction`); an L2 radius (over all 3·H·W values) is any finite number ≥ 0."""
    if norm != "L2":
        return parse_fraction(value, what)
    try:
        text = str(value).strip()
        out = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise AttackError(f"{what} {value!r}: expected a number like 0.5 or 128/255") from None
    if not math.isfinite(out) or out < 0:
        raise AttackError(f"{what} {value!r}: an L2 radius must be a finite number ≥ 0")
    return out


def eps_text(eps: float) -> str:
    """ε as text over 255: "8/255", or "2.5/255" when it is not a whole number of levels."""
    v = eps * 255
    return f"{round(v)}/255" if abs(v - round(v)) < 1e-6 else f"{v:.4g}/255"


@dataclass(frozen=True)
class AttackSettings:
    """What the user chose: method, ε, α, steps, target mode (or class name) and seed.

    ``attack_args`` are the remaining ``--attack-arg key=value`` pairs (as text; the attack
    types them: the registry's params, or a torchattacks class signature); ``eps``, ``alpha``
    and ``steps`` given that way are folded into the fields of the same name."""

    method: str = "pgd"
    eps: float = 8 / 255
    alpha: float | None = None
    steps: int = 10
    target: str = "untargeted"
    seed: int = 0
    early_stop: bool = False
    attack_args: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(
        cls,
        method: str = "pgd",
        eps: str | float = "8/255",
        alpha: str | float | None = None,
        steps: int = 10,
        target: str = "untargeted",
        seed: int = 0,
        early_stop: bool = False,
        attack_args: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    ) -> AttackSettings:
        spec = registry.attack_spec(method)
        rest = dict(attack_args)
        eps, alpha = rest.pop("eps", eps), rest.pop("alpha", alpha)
        if "steps" in rest:
            try:
                steps = int(rest.pop("steps"))
            except ValueError:
                raise AttackError(f"{spec.name}: --attack-arg steps: expected an integer") from None
        if registry.is_targeted(target) and not spec.targeted:
            raise AttackError(
                f"{spec.name} supports only untargeted attacks; drop --target {target}"
            )
        norm = registry.attack_norm(spec, rest)
        return cls(
            method=spec.name,
            eps=parse_eps(eps, norm, "eps"),
            alpha=None if alpha is None else parse_eps(alpha, norm, "alpha"),
            steps=check_flag("steps", steps),
            target=target,
            seed=check_flag("seed", seed),
            early_stop=early_stop,
            attack_args=tuple(rest.items()),
        )

    def with_(self, **changes) -> AttackSettings:
        return replace(self, **changes)

    @property
    def eps_255(self) -> str:
        """ε as ``n/255`` (rounded to 0.1 when off the grid)."""
        n = self.eps * 255
        return f"{round(n)}/255" if abs(n - round(n)) < 1e-6 else f"{n:.1f}/255"

    @property
    def eps_label(self) -> str:
        """ε as the status line shows it: ``ε 8/255`` (L∞), ``ε₂ 0.5`` (an L2 radius), or
        ``ε —`` for attacks that size their own perturbation."""
        if not self.bounded:
            return "ε —"
        return f"ε₂ {self.eps:.3g}" if self.norm == "L2" else f"ε {self.eps_255}"

    @property
    def single_step(self) -> bool:
        """The method takes one step whatever ``steps`` says (FGSM)."""
        return registry.attack_spec(self.method).single_step

    @property
    def steps_used(self) -> int:
        """The number of steps the attack will take."""
        return 1 if self.single_step else self.steps

    @property
    def norm(self) -> str:
        """What ``eps`` bounds: "Linf" or "L2" (see :func:`advtui.registry.attack_norm`)."""
        return registry.attack_norm(registry.attack_spec(self.method), dict(self.attack_args))

    @property
    def bounded(self) -> bool:
        """False when the attack sizes its own perturbation (``eps`` does not apply)."""
        return registry.attack_spec(self.method).bounded

    @property
    def is_targeted(self) -> bool:
        return registry.is_targeted(self.target)

    def key(self) -> tuple:
        """Hashable identity for result caches."""
        return (
            self.method,
            round(self.eps, 8),
            self.alpha,
            self.steps,
            self.target,
            self.seed,
            self.early_stop,
            self.attack_args,
        )
