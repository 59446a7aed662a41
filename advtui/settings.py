"""What the user chose, parsed without importing torch (the explorer's first frame stays fast).

``AttackSettings`` is shared by the CLI, the TUI and :mod:`advtui.pipeline`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

from advtui import registry
from advtui.errors import AttackError

#: The registry's model names (advtui.models.MODELS; a test keeps the two equal).
MODEL_NAMES: tuple[str, ...] = (
    "efficientnet-lite0",
    "efficientnet-lite1",
    "efficientnet-lite2",
    "resnet50",
    "vgg16",
    "mobilenet_v3_large",
    "inception_v3",
)
#: The explorer's default ``m`` cycle and the native attack names (advtui.registry.ATTACKS).
METHODS: tuple[str, ...] = registry.attack_names(cycle=True)
#: Target modes (advtui.registry.TARGET_MODES); any other --target is a class name or index.
TARGET_MODES: tuple[str, ...] = tuple(registry.TARGET_MODES)


def parse_fraction(value: str | float, what: str = "value") -> float:
    """Parse ``"8/255"``, ``"0.03"`` or a float into a float in [0, 1]."""
    if isinstance(value, (int, float)):
        out = float(value)
    else:
        text = str(value).strip()
        try:
            out = float(Fraction(text)) if "/" in text else float(text)
        except (ValueError, ZeroDivisionError):
            raise AttackError(f"{what} {value!r}: expected a number like 0.03 or 8/255") from None
    if not math.isfinite(out) or not 0.0 <= out <= 1.0:
        raise AttackError(f"{what} {value!r}: must lie in [0, 1] (pixel units, e.g. 8/255)")
    return out


def eps_text(eps: float) -> str:
    """ε as text over 255: "8/255", or "2.5/255" when it is not a whole number of levels."""
    v = eps * 255
    return f"{round(v)}/255" if abs(v - round(v)) < 1e-6 else f"{v:.4g}/255"


@dataclass(frozen=True)
class AttackSettings:
    """What the user chose: method, ε, α, steps, target mode (or class name) and seed."""

    method: str = "pgd"
    eps: float = 8 / 255
    alpha: float | None = None
    steps: int = 10
    target: str = "untargeted"
    seed: int = 0
    early_stop: bool = False

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
    ) -> AttackSettings:
        return cls(
            method=registry.attack_spec(method).name,
            eps=parse_fraction(eps, "eps"),
            alpha=None if alpha is None else parse_fraction(alpha, "alpha"),
            steps=int(steps),
            target=target,
            seed=int(seed),
            early_stop=early_stop,
        )

    def with_(self, **changes) -> AttackSettings:
        return replace(self, **changes)

    @property
    def eps_255(self) -> str:
        """ε as ``n/255`` (rounded to 0.1 when off the grid)."""
        n = self.eps * 255
        return f"{round(n)}/255" if abs(n - round(n)) < 1e-6 else f"{n:.1f}/255"

    @property
    def single_step(self) -> bool:
        """The method takes one step whatever ``steps`` says (FGSM)."""
        return registry.attack_spec(self.method).single_step

    @property
    def steps_used(self) -> int:
        """The number of steps the attack will take."""
        return 1 if self.single_step else self.steps

    @property
    def is_targeted(self) -> bool:
        return self.target != "untargeted"

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
        )
