"""The one list of what advtui can do: attacks, target modes, explainers and detectors.

Torch-free (the explorer's first frame and argparse read it). Each entry is a spec: name,
one-line description, parameters with defaults and ranges, and the lazy import path of the
code (``"module:attr"``). argparse choices and help, the explorer's ``m``/``t`` cycling, the help
screen, ``advtui attacks`` and the parametrised tests all read these tables; nothing else lists
them.

Adding an attack is one file under ``advtui/attacks/`` plus one :class:`AttackSpec` below (see
docs/extending.md: MI-FGSM is the worked example).

``ta:NAME`` names any torchattacks attack; its spec is built on demand by
:func:`attack_spec` (norm and targeted support are read from torchattacks when it is imported).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from advtui.errors import AttackError

__all__ = [
    "ATTACKS",
    "DETECTORS",
    "EXPLAINERS",
    "TARGET_MODES",
    "AttackSpec",
    "DetectorSpec",
    "ExplainerSpec",
    "Param",
    "TargetSpec",
    "attack_names",
    "attack_spec",
    "detector_spec",
    "explainer_spec",
    "load",
]

#: Prefix of torchattacks attacks (``ta:CW``, ``ta:MIFGSM`` …).
TA_PREFIX = "ta:"


@dataclass(frozen=True)
class Param:
    """One parameter of an attack/explainer/detector: default and closed range."""

    name: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class AttackSpec:
    """An attack: ``norm`` is ``"Linf"``, ``"L2"`` or ``"L0"`` (what ``--eps`` bounds);
    ``single_step`` attacks ignore ``--steps``/``--alpha``; ``targeted`` says whether target modes
    other than ``untargeted`` are supported; ``random_start`` draws a seeded start in the ball."""

    name: str
    description: str
    path: str
    norm: str = "Linf"
    single_step: bool = False
    targeted: bool = True
    random_start: bool = False
    params: tuple[Param, ...] = ()
    paper: str = ""
    #: shown in the explorer's ``m`` cycle by default
    in_cycle: bool = True
    #: needs a fitted detector (``--detector DIR``) and a SHAP background to run
    needs_detector: bool = False

    @property
    def native(self) -> bool:
        return not self.name.startswith(TA_PREFIX)

    @property
    def label(self) -> str:
        """Display name: the paper's acronym (``MI-FGSM``) or ``ta:CW``."""
        return self.name if not self.native else self.name.upper()


@dataclass(frozen=True)
class TargetSpec:
    name: str
    description: str


@dataclass(frozen=True)
class ExplainerSpec:
    name: str
    description: str
    path: str
    label: str
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class DetectorSpec:
    """``trained`` detectors are fitted on eval's rows; the others need no training (a
    threshold on a score)."""

    name: str
    description: str
    path: str
    trained: bool = True
    features: str = "attribution"
    params: tuple[Param, ...] = field(default=())


_STEPS = Param("steps", 10, "gradient steps", 1, 100_000)
_ALPHA = Param("alpha", None, "step size in pixel units (default 2.5·ε/steps)", 0.0, 1.0)

ATTACKS: dict[str, AttackSpec] = {
    s.name: s
    for s in (
        AttackSpec(
            "fgsm",
            "one signed-gradient step of size ε",
            "advtui.attacks.fgsm:FGSM",
            single_step=True,
            paper="Goodfellow et al. 2015",
        ),
        AttackSpec(
            "bim",
            "iterative FGSM: steps of α from the previous iterate, projected onto the ε-ball",
            "advtui.attacks.bim:BIM",
            params=(_STEPS, _ALPHA),
            paper="Kurakin et al. 2016",
        ),
        AttackSpec(
            "pgd",
            "BIM from a seeded random start in the ε-ball",
            "advtui.attacks.pgd:PGD",
            random_start=True,
            params=(_STEPS, _ALPHA),
            paper="Madry et al. 2018",
        ),
        AttackSpec(
            "bim-seed",
            "the original repository's BIM (re-perturbs the clean image by ε·sign(Σ∇)); "
            "eval --protocol seed",
            "advtui.attacks.seed_bim:SeedBIM",
            params=(_STEPS,),
            paper="Saito & Wang 2020 (their code)",
            in_cycle=False,
        ),
        AttackSpec(
            "adaptive",
            "PGD that also lowers the loaded SHAP detector's logit, through the attribution "
            "(needs --detector)",
            "advtui.attacks.adaptive:Adaptive",
            random_start=True,
            params=(
                _STEPS,
                _ALPHA,
                Param("adaptive_weight", 1.0, "λ: weight of the detector's logit", 0.0, 1e6),
                Param("eot", 1, "fresh SHAP draws averaged per step", 1, 1000),
            ),
            paper="Tramèr et al. 2020 (adaptive attacks); Carlini & Wagner 2017",
            in_cycle=False,  # the explorer adds it to the cycle when a detector is loaded
            needs_detector=True,
        ),
    )
}

TARGET_MODES: dict[str, TargetSpec] = {
    s.name: s
    for s in (
        TargetSpec("untargeted", "any class but the clean prediction"),
        TargetSpec("random", "a seeded random class, never the clean prediction"),
        TargetSpec("runner-up", "the second most confident clean class"),
        TargetSpec(
            "nearest",
            "the class whose final-layer weight vector is most cosine-similar to the clean "
            "prediction's",
        ),
    )
}

EXPLAINERS: dict[str, ExplainerSpec] = {
    s.name: s
    for s in (
        ExplainerSpec(
            "shap",
            "expected gradients as shap.GradientExplainer computes them",
            "advtui.explain.shap:Explainer",
            "SHAP",
        ),
    )
}

DETECTORS: dict[str, DetectorSpec] = {
    s.name: s
    for s in (
        DetectorSpec(
            "shap-lr",
            "logistic regression on the sorted attribution values (the paper's detector)",
            "advtui.detect.learned:ShapLR",
        ),
        DetectorSpec(
            "shap-rf",
            "random forest on the sorted attribution values",
            "advtui.detect.learned:ShapRF",
        ),
        DetectorSpec(
            "confidence",
            "logistic regression on the predicted class's probability and logit",
            "advtui.detect.learned:Confidence",
            features="confidence",
        ),
        DetectorSpec(
            "squeeze",
            "feature squeezing: max L1 softmax change under 5-bit depth and a 2×2 median "
            "filter; threshold (Xu et al. 2018)",
            "advtui.detect.squeeze:Squeeze",
            trained=False,
            features="squeeze",
        ),
        DetectorSpec(
            "mahalanobis",
            "min Mahalanobis distance of penultimate features to clean class means, tied "
            "covariance; threshold (Lee et al. 2018)",
            "advtui.detect.mahalanobis:Mahalanobis",
            trained=False,
            features="penultimate",
        ),
    )
}
#: ``eval --detectors`` default: the paper's detector and the baselines next to it.
DEFAULT_DETECTORS = ("shap-lr", "shap-rf", "confidence", "squeeze", "mahalanobis")


def attack_names(*, cycle: bool = False) -> tuple[str, ...]:
    """Native attack names (``cycle=True``: those in the explorer's default ``m`` cycle)."""
    return tuple(n for n, s in ATTACKS.items() if s.in_cycle or not cycle)


def _unknown(kind: str, name: str, choices) -> AttackError:
    return AttackError(f"unknown {kind} {name!r}; choose from {', '.join(choices)}")


def attack_spec(name: str) -> AttackSpec:
    """The spec of ``name`` (case-insensitive; ``ta:NAME`` keeps NAME's case)."""
    text = str(name).strip()
    if text.lower().startswith(TA_PREFIX):
        ta_name = text[len(TA_PREFIX) :]
        if not ta_name.isidentifier():
            raise AttackError(f"attack {name!r}: expected ta:NAME with a torchattacks class name")
        return AttackSpec(
            TA_PREFIX + ta_name,
            f"torchattacks.{ta_name}",
            "advtui.attacks.torchattacks:TorchAttack",
            in_cycle=False,
        )
    spec = ATTACKS.get(text.lower())
    if spec is None:
        raise _unknown("attack", text, [*ATTACKS, "ta:NAME"])
    return spec


def explainer_spec(name: str) -> ExplainerSpec:
    spec = EXPLAINERS.get(str(name).strip().lower())
    if spec is None:
        raise _unknown("explainer", name, EXPLAINERS)
    return spec


def detector_spec(name: str) -> DetectorSpec:
    spec = DETECTORS.get(str(name).strip().lower())
    if spec is None:
        raise _unknown("detector", name, DETECTORS)
    return spec


def load(path: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
