"""What defines an ``advtui eval`` run: :class:`EvalConfig` (every flag), its checks before
and after the model loads (:meth:`EvalConfig.precheck`, :meth:`EvalConfig.resolved`), the two
protocols' defaults, and the params ``run.json`` records and ``--resume`` compares
(:meth:`EvalConfig.params`). The row loop that runs a config is :mod:`advtui.eval.loop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from advtui import registry
from advtui.errors import AdvtuiError
from advtui.eval.dataset import EvalError
from advtui.registry import DEFAULT_DETECTORS
from advtui.settings import eps_text

PROTOCOLS = ("corrected", "seed")
SEED_DEFAULTS = {"nsamples": 200, "local_smoothing": 0.2}
CORRECTED_DEFAULTS = {"nsamples": 50, "local_smoothing": 0.0}

#: run.json's record of what each row stores for the detectors beside SHAP (``row_extras``):
#: runs before it lack these inputs and cannot be continued.
ROW_EXTRAS = "squeeze-bit5-median2x2+penultimate"

#: run.json's record of the SHAP background rule (``background_policy``).
BACKGROUND_POLICY = "as-attack-explain"


@dataclass
class EvalConfig:
    """Everything that defines an ``advtui eval`` run (see ``advtui eval --help``)."""

    folder: str
    out: str
    method: str | None = None  # None → registry.DEFAULT_ATTACK / SEED_ATTACK (seed)
    #: ``--attack-arg key=value`` pairs (as text) for the attack's own parameters
    attack_args: Sequence[tuple[str, str]] = ()
    eps: Sequence[str | float] = ("8/255",)
    primary_eps: str | float | None = None
    alpha: str | float | None = None
    steps: int = 10
    early_stop: bool = False
    targets: Sequence[str] = ("untargeted",)
    nsamples: int | None = None
    layer: str | None = None
    local_smoothing: float | None = None
    background: str | None = None
    explainer: str = "shap"  # registry name (--explainer)
    baseline: str = "black"  # IG's baseline
    noise_std: float = 0.15  # SmoothGrad's σ
    n: int | None = None
    views: int = 1
    batch_size: int = 8
    seed: int = 0
    protocol: str = "corrected"
    labels: str | None = None
    resume: bool = False
    folds: int = 5
    n_quantiles: int = 512
    plots: bool = True
    detectors: Sequence[str] = DEFAULT_DETECTORS
    adaptive: bool = False  # attack again against the SHAP detector (advtui.eval.adaptive)
    adaptive_weight: float = 1.0
    eot: int = 1
    transfer_to: str | None = None  # classify every adversarial image with this model too
    bootstrap: int = 1000  # resamples of the photos for the summary's intervals (0: none)

    @property
    def eps_values(self) -> list[float]:
        """The ε values as numbers (:meth:`precheck` has parsed the command line's text)."""
        return [float(e) for e in self.eps]

    @property
    def primary_value(self) -> float:
        """The ε the detector table is about (the strongest when none was named)."""
        return float(self.primary_eps) if self.primary_eps is not None else max(self.eps_values)

    def precheck(self) -> EvalConfig:
        """A copy with every model-independent value checked and normalised (cheap: the CLI
        calls it before loading the model)."""
        from advtui.eval.store import RESULTS
        from advtui.settings import check_flag

        c = EvalConfig(**asdict(self))
        if c.protocol not in PROTOCOLS:
            raise EvalError(
                f"--protocol must be one of {', '.join(PROTOCOLS)} (got {c.protocol!r})"
            )
        spec = None
        if c.method is not None:
            try:
                spec = registry.attack_spec(c.method)
            except AdvtuiError as exc:
                raise EvalError(str(exc)) from None
            c.method = spec.name
        if c.protocol == "seed" and spec is not None and not spec.seed_protocol:
            raise EvalError(
                "--protocol seed uses the original BIM update; drop --method or use --protocol corrected"
            )
        for name in ("steps", "nsamples", "batch-size", "n", "folds", "local-smoothing"):
            attr = name.replace("-", "_")
            if getattr(c, attr) is not None:
                setattr(c, attr, check_flag(name, getattr(c, attr)))
        c.views, c.seed = check_flag("views", c.views), check_flag("seed", c.seed)
        if c.explainer not in registry.EXPLAINERS:
            raise EvalError(
                f"--explainer must be one of {', '.join(registry.EXPLAINERS)} (got {c.explainer!r})"
            )
        if c.protocol == "seed" and c.explainer != registry.SEED_EXPLAINER:
            raise EvalError(
                "--protocol seed explains a layer input with SHAP; drop --explainer or use "
                "--protocol corrected"
            )
        try:
            registry.explainer_kwargs(c.explainer, c.explainer_params())
        except AdvtuiError as exc:
            raise EvalError(str(exc)) from None
        if spec is not None and spec.needs_detector:
            raise EvalError(
                f"eval --method {spec.name}: pass --adaptive instead (it fits the detector the "
                "adaptive attack needs from the plain rows first)"
            )
        c.attack_args = _check_attack_args(c)
        c.eot = int(check_flag("eot", c.eot))
        c.bootstrap = int(check_flag("bootstrap", c.bootstrap))
        c.adaptive_weight = float(check_flag("adaptive-weight", c.adaptive_weight))
        if c.adaptive and c.protocol == "seed":
            raise EvalError("--adaptive attacks the corrected protocol's pixel-level detector")
        c.detectors = _check_detectors(c.detectors)
        bad = [t for t in c.targets if t not in registry.TARGET_MODES]
        if bad or not c.targets:
            raise EvalError(
                f"--targets: unknown mode {bad[0] if bad else ''!r}; choose from {','.join(registry.TARGET_MODES)}"
            )
        c.targets = list(dict.fromkeys(c.targets))
        if not c.eps:
            raise EvalError("--eps-sweep: no ε values given")
        values = sorted({float(check_flag("eps", e)) for e in c.eps})  # 0 = no attack: baseline
        primary = (
            float(check_flag("eps", c.primary_eps)) if c.primary_eps is not None else values[-1]
        )
        c.eps = values
        c.primary_eps = min(values, key=lambda e: abs(e - primary))
        if c.alpha is not None:
            c.alpha = check_flag("alpha", c.alpha)
        folder = Path(c.folder).expanduser()
        if not folder.is_dir():
            raise EvalError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}")
        if c.labels and not Path(c.labels).expanduser().is_file():
            raise EvalError(f"--labels {c.labels}: no such file")
        if c.background and not Path(c.background).expanduser().is_dir():
            raise EvalError(f"--background {c.background}: not a folder")
        out = Path(c.out).expanduser()
        if out.exists() and not out.is_dir():
            raise EvalError(f"--out {out}: exists and is not a folder")
        results = out / RESULTS
        if not c.resume and results.exists() and results.stat().st_size > 0:
            raise EvalError(
                f"{out} already holds {RESULTS}; pass --resume to continue it or choose another --out"
            )
        from advtui.pipeline import check_out_dir

        check_out_dir(out)  # created and proved writable before the model loads
        return c

    def resolved(self, model) -> EvalConfig:
        """:meth:`precheck` plus the protocol's defaults and the model-dependent checks."""
        c = self.precheck()
        seed = c.protocol == "seed"
        defaults = SEED_DEFAULTS if seed else CORRECTED_DEFAULTS
        if c.nsamples is None:
            c.nsamples = int(defaults["nsamples"])
        if c.local_smoothing is None:
            c.local_smoothing = defaults["local_smoothing"]
        if seed:
            c.method = registry.SEED_ATTACK
            if c.layer is None:
                # the model's seed_layer, else its registry spec's (the original explained
                # Inception-v3's Conv2d_4a_3x3, an early stem convolution)
                from advtui.registry import find_model

                spec = find_model(model.name)
                c.layer = getattr(model, "seed_layer", None) or (spec.seed_layer if spec else None)
                if c.layer is None:
                    raise EvalError(
                        f"--protocol seed explains a layer input: pass --layer (see `advtui models --layers {model.name}`)"
                    )
        elif c.method is None:
            c.method = registry.DEFAULT_ATTACK
        if c.layer:
            model.get_layer(c.layer)  # ModelError with close matches if unknown
        if c.adaptive and (c.layer or c.local_smoothing):
            raise EvalError("--adaptive attacks pixel-level SHAP: drop --layer/--local-smoothing")
        comparing = [t for t in c.targets if registry.TARGET_MODES[t].needs_embeddings]
        if comparing and model.class_embeddings() is None:
            raise EvalError(
                f"--targets {','.join(comparing)} needs the model's final linear layer to "
                "compare classes; drop it"
            )
        return c

    def typed_attack_args(self) -> dict:
        """``attack_args`` typed by the attack's spec (what run.json stores and ``--resume``
        compares: ``decay=0.5`` and ``decay=.5`` are one run)."""
        from advtui.attacks import typed_attack_args

        method = self.method or registry.DEFAULT_ATTACK
        return typed_attack_args(method, self.attack_args)

    def explainer_params(self) -> dict:
        """The explainer flags as :func:`advtui.explain.make_explainer` parameters."""
        return {
            "layer": self.layer,
            "local_smoothing": self.local_smoothing,
            "baseline": self.baseline,
            "noise_std": self.noise_std,
        }

    def params(self, model) -> dict:
        """``run.json``/``summary.json`` params; ``fixed`` are those a resume must not change."""
        fixed = {
            "model": model.name,
            "input_size": model.input_size,
            **({"load_size": model.load_size} if model.load_size != model.input_size else {}),
            "method": self.method,
            "alpha": self.alpha,
            "steps": self.steps,
            "early_stop": self.early_stop,
            "nsamples": self.nsamples,
            "layer": self.layer,
            "local_smoothing": self.local_smoothing,
            "background": self.background,
            # rules of the code that change rows (older runs lack them or differ: not mixable)
            "background_policy": BACKGROUND_POLICY,
            "shap_seed": "attack_seed",
            "views": self.views,
            "seed": self.seed,
            "protocol": self.protocol,
            "labels": self.labels,
            "n_quantiles": self.n_quantiles,
            "row_extras": ROW_EXTRAS,
            "adaptive_weight": self.adaptive_weight,
            "eot": self.eot,
            "transfer_to": self.transfer_to,
        }
        # the rule of the random start, where the spec records one (PGD's starts were once
        # drawn per batch: such runs are not mixable)
        rule = registry.attack_spec(self.method).start_rule if self.method else ""
        if rule:
            fixed["random_start"] = rule
        # the attack's own parameters, typed; runs without them (older ones too) carry none
        if self.attack_args:
            fixed["attack_args"] = self.typed_attack_args()
        # the explainer and its own flags; SHAP runs (older ones too) carry none of these, so
        # they resume as before and a mismatch names --explainer
        if self.explainer != registry.DEFAULT_EXPLAINER:
            fixed["explainer"] = self.explainer
            own = self.explainer_params()
            for p in registry.explainer_spec(self.explainer).params:
                fixed.setdefault(p.name, own[p.name])  # layer is there for every run
        return {
            "fixed": fixed,
            "explainer": self.explainer,
            "folder": str(self.folder),
            "eps": [eps_text(e) for e in self.eps_values],
            "primary_eps": eps_text(self.primary_value),
            "targets": list(self.targets),
            "n": self.n,
            "batch_size": self.batch_size,
        }


#: attack parameters eval's own flags set: ``--attack-arg`` may not set them a second time
_EVAL_FLAGS = {
    "eps": "--eps/--eps-sweep",
    "max_epsilon": "--eps/--eps-sweep",
    "alpha": "--alpha",
    "steps": "--steps",
    "seed": "--seed",
}


def _check_attack_args(c: EvalConfig) -> list[tuple[str, str]]:
    """``--attack-arg`` pairs checked against the attack's spec (the protocol's default
    attack when no ``--method`` was given) before the model loads."""
    from advtui.attacks import check_attack_args

    pairs = [(str(k).strip(), str(v).strip()) for k, v in c.attack_args]
    for key, _ in pairs:
        if key in _EVAL_FLAGS:
            raise EvalError(f"--attack-arg {key}: eval sets it with {_EVAL_FLAGS[key]}")
    seed = c.protocol == "seed"
    method = c.method or (registry.SEED_ATTACK if seed else registry.DEFAULT_ATTACK)
    try:
        check_attack_args(method, pairs)
    except AdvtuiError as exc:
        raise EvalError(str(exc)) from None
    return pairs


def _check_detectors(names: Sequence[str]) -> list[str]:
    from advtui.registry import DETECTORS

    names = [str(n).strip().lower() for n in names if str(n).strip()]
    bad = [n for n in names if n not in DETECTORS]
    if bad or not names:
        raise EvalError(
            f"--detectors: unknown detector {bad[0] if bad else ''!r}; choose from "
            f"{','.join(DETECTORS)}"
        )
    return list(dict.fromkeys(names))
