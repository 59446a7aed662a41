"""Attacks and target modes: their specs, the defaults, and ``ta:NAME`` specs built on demand
(norm and targeted support read from torchattacks when it is imported)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advtui.errors import AttackError
from advtui.registry.params import Param, _unknown

#: Prefix of torchattacks attacks (``ta:CW``, ``ta:MIFGSM`` …).
TA_PREFIX = "ta:"


@dataclass(frozen=True)
class AttackSpec:
    """An attack: ``norm`` is ``"Linf"``, ``"L2"`` or ``"L0"`` (what ``--eps`` bounds);
    ``single_step`` attacks ignore ``--steps``/``--alpha``; ``targeted`` says whether target modes
    other than ``untargeted`` are supported; ``random_start`` draws a seeded start in the ball;
    ``bounded`` False: the attack sizes its own perturbation (``ta:CW``, ``ta:DeepFool``) and
    ``--eps`` does not apply (``norm`` then names what it minimises)."""

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
    bounded: bool = True
    #: needs a fitted detector (``--detector DIR``) and a SHAP background to run
    needs_detector: bool = False
    #: ``eval --protocol seed`` accepts this ``--method``: it runs :data:`SEED_ATTACK` (the
    #: original repository's BIM) in its place
    seed_protocol: bool = False
    #: the rule that draws its random start, recorded in an eval run's fixed params as
    #: ``random_start`` so that ``--resume`` refuses rows started another way ("" records
    #: nothing: PGD's starts were once drawn per batch, attacks added since never were)
    start_rule: str = ""
    #: a torchattacks attack that computes the same images (``ta:MIFGSM``); a parametrised
    #: test checks that both agree on a tiny model, untargeted and targeted
    reference: str = ""

    @property
    def native(self) -> bool:
        return not self.name.startswith(TA_PREFIX)

    @property
    def label(self) -> str:
        """Display name: the paper's acronym (``MI-FGSM``) or ``ta:CW``."""
        return self.name if not self.native else self.name.upper()


@dataclass(frozen=True)
class TargetSpec:
    """A target mode. ``path``: the function choosing each image's target from the clean
    logits (``fn(clean_logits, *, seed, embeddings) -> (N,) classes or None``, see
    :mod:`advtui.attacks.targets`); ``targeted`` False: no target, the attack moves away from
    the clean prediction; ``needs_embeddings``: it compares classes by the model's final linear
    layer (``embeddings``), so models without one cannot use it; ``similarity_bins``: its rows
    enter eval's detection-against-target-similarity bins (their targets span the similarity
    range, untouched by the clean logits)."""

    name: str
    description: str
    similarity_bins: bool = False
    path: str = ""
    targeted: bool = True
    needs_embeddings: bool = False


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
            reference="ta:FGSM",
        ),
        AttackSpec(
            "bim",
            "iterative FGSM: steps of α from the previous iterate, projected onto the ε-ball",
            "advtui.attacks.bim:BIM",
            params=(_STEPS, _ALPHA),
            paper="Kurakin et al. 2016",
            seed_protocol=True,
            reference="ta:BIM",
        ),
        AttackSpec(
            "mifgsm",
            "BIM with momentum: g ← μ·g + ∇/‖∇‖₁, steps of α·sign(g)",
            "advtui.attacks.mifgsm:MIFGSM",
            params=(_STEPS, _ALPHA, Param("decay", 1.0, "momentum μ (0 = BIM)", 0.0, 10.0)),
            paper="Dong et al. 2018",
            reference="ta:MIFGSM",
        ),
        AttackSpec(
            "pgd",
            "BIM from a seeded random start in the ε-ball",
            "advtui.attacks.pgd:PGD",
            random_start=True,
            params=(_STEPS, _ALPHA),
            paper="Madry et al. 2018",
            start_rule="per-image",
        ),
        AttackSpec(
            "pgdl2",
            "PGD in L2: steps of α along ∇/‖∇‖₂ from a seeded random start, projected onto "
            "the L2 ball (--eps is an L2 radius, e.g. 0.5)",
            "advtui.attacks.pgdl2:PGDL2",
            norm="L2",
            random_start=True,
            params=(_STEPS, _ALPHA),
            paper="Madry et al. 2018",
            in_cycle=False,
        ),
        AttackSpec(
            "bim-seed",
            "the original repository's BIM (re-perturbs the clean image by ε·sign(Σ∇)); "
            "eval --protocol seed",
            "advtui.attacks.seed_bim:SeedBIM",
            params=(_STEPS,),
            paper="Saito & Wang 2020 (their code)",
            in_cycle=False,
            seed_protocol=True,
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
        AttackSpec(
            "nifgsm",
            "MI-FGSM taking each gradient at the Nesterov look-ahead point x + α·μ·g",
            "advtui.attacks.nifgsm:NIFGSM",
            params=(_STEPS, _ALPHA, Param("decay", 1.0, "momentum μ (0 = BIM)", 0.0, 10.0)),
            paper="Lin et al. 2020",
            in_cycle=False,
            reference="ta:NIFGSM",
        ),
    )
}

#: native attack params that flags of their own set (``--steps``, ``--alpha``,
#: ``--adaptive-weight``, ``--eot``), so ``--attack-arg`` does not take them
FLAG_PARAMS = ("steps", "alpha", "adaptive_weight", "eot")

#: ``--method``'s default, and the attack ``eval --protocol seed`` runs
DEFAULT_ATTACK = "pgd"
SEED_ATTACK = "bim-seed"
#: ``--target``'s default
DEFAULT_TARGET = "untargeted"

TARGET_MODES: dict[str, TargetSpec] = {
    s.name: s
    for s in (
        TargetSpec(
            "untargeted",
            "any class but the clean prediction",
            path="advtui.attacks.targets:no_target",
            targeted=False,
        ),
        TargetSpec(
            "random",
            "a seeded random class, never the clean prediction",
            similarity_bins=True,
            path="advtui.attacks.targets:random_target",
        ),
        TargetSpec(
            "runner-up",
            "the second most confident clean class",
            path="advtui.attacks.targets:runner_up_target",
        ),
        TargetSpec(
            "nearest",
            "the class whose final-layer weight vector is most cosine-similar to the clean "
            "prediction's",
            similarity_bins=True,
            path="advtui.attacks.targets:nearest_target",
            needs_embeddings=True,
        ),
    )
}


def attack_names(*, cycle: bool = False) -> tuple[str, ...]:
    """Native attack names (``cycle=True``: those in the explorer's default ``m`` cycle)."""
    return tuple(n for n, s in ATTACKS.items() if s.in_cycle or not cycle)


def detector_attack() -> str:
    """The attack that attacks a loaded detector (the first spec with ``needs_detector``)."""
    return next(n for n, s in ATTACKS.items() if s.needs_detector)


def attack_choices() -> str:
    """``--method``'s choices as help texts list them: ``fgsm, bim, … or ta:NAME``."""
    return f"{', '.join(ATTACKS)} or {TA_PREFIX}NAME"


def is_targeted(target: str) -> bool:
    """Whether ``--target`` names a target: a targeted mode, or a class name or index."""
    spec = TARGET_MODES.get(target)
    return spec is None or spec.targeted


# torchattacks 3.5.1, read from its source (tests/test_torchattacks.py checks these against the
# installed package: supported_mode, the eps argument): what each attack bounds or minimises,
# which ones take no target and which ones size their own perturbation (no eps argument).
TA_NAMES: tuple[str, ...] = tuple(
    "VANILA GN FGSM BIM RFGSM PGD EOTPGD FFGSM TPGD MIFGSM UPGD APGD APGDT DIFGSM TIFGSM Jitter "
    "NIFGSM PGDRS SINIFGSM VMIFGSM VNIFGSM SPSA JSMA EADL1 EADEN PIFGSM PIFGSMPP CW PGDL2 "
    "DeepFool PGDRSL2 SparseFool OnePixel Pixle FAB AutoAttack Square".split()
)
_TA_NORMS = {
    **dict.fromkeys(("CW", "PGDL2", "PGDRSL2", "DeepFool", "EADEN"), "L2"),
    "EADL1": "L1",
    **dict.fromkeys(("SparseFool", "OnePixel", "Pixle", "JSMA"), "L0"),
    **dict.fromkeys(("VANILA", "GN"), "none"),
}
_TA_UNTARGETED = frozenset(
    "VANILA GN TPGD APGD APGDT DeepFool SparseFool PIFGSM AutoAttack".split()
)
_TA_UNBOUNDED = frozenset(
    "VANILA GN JSMA EADL1 EADEN CW DeepFool SparseFool OnePixel Pixle".split()
)
#: torchattacks attacks whose ``norm=`` argument picks L∞ or L2
TA_NORM_ARG = frozenset("APGD APGDT FAB AutoAttack Square".split())
NORMS = {"linf": "Linf", "l2": "L2", "l1": "L1", "l0": "L0"}


def attack_spec(name: str) -> AttackSpec:
    """The spec of ``name`` (case-insensitive; ``ta:cw`` is ``ta:CW``; a torchattacks name
    newer than :data:`TA_NAMES` keeps its case and is checked when the attack is built)."""
    text = str(name).strip()
    if text.lower().startswith(TA_PREFIX):
        ta_name = text[len(TA_PREFIX) :]
        if not ta_name.isidentifier():
            raise AttackError(f"attack {name!r}: expected ta:NAME with a torchattacks class name")
        ta_name = next((n for n in TA_NAMES if n.lower() == ta_name.lower()), ta_name)
        return AttackSpec(
            TA_PREFIX + ta_name,
            f"torchattacks.{ta_name}",
            "advtui.attacks.torchattacks:TorchAttack",
            norm=_TA_NORMS.get(ta_name, "Linf"),
            targeted=ta_name not in _TA_UNTARGETED,
            bounded=ta_name not in _TA_UNBOUNDED,
            in_cycle=False,
        )
    spec = ATTACKS.get(text.lower())
    if spec is None:
        raise _unknown("attack", text, [*ATTACKS, "ta:NAME"])
    return spec


def attack_norm(spec: AttackSpec, attack_args: dict[str, Any] | None = None) -> str:
    """The norm ``--eps`` bounds: the spec's, or ``norm=`` of a torchattacks attack that takes
    one (``ta:Square --attack-arg norm=L2``)."""
    given = (attack_args or {}).get("norm")
    if given is None or spec.native:
        return spec.norm
    norm = NORMS.get(str(given).strip().lower())
    if norm not in ("Linf", "L2"):
        raise AttackError(f"{spec.name}: norm={given!r}: --eps bounds Linf or L2")
    return norm
