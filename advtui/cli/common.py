"""Shared by the ``advtui`` commands: argument groups, checks and output helpers.

A leaf: it imports no command module. Torch is imported lazily inside functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from advtui import registry
from advtui.errors import AdvtuiError

SUBCOMMANDS = ("predict", "attack", "explain", "eval", "models", "attacks")


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line (no usage dump) and never exits by itself, and
    keeps its options in ``options`` (argparse itself keeps them only in private fields)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: list[argparse.Action] = []
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.options.append(action)
        return action

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _common_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=registry.DEFAULT_MODEL,
        help=f"model: {registry.model_choices()} (see `advtui models`) or a TorchScript file "
        f"(default: {registry.DEFAULT_MODEL})",
    )
    p.add_argument(
        "--weights",
        help="weights for --model: a state dict (.pth/.bin, loaded with weights_only=True) "
        "or a .safetensors file",
    )
    p.add_argument("--input-size", help="input size of a TorchScript --model (default 224)")
    p.add_argument(
        "--mean",
        type=_floats3,
        help="normalisation mean for a TorchScript model, e.g. 0.485,0.456,0.406",
    )
    p.add_argument("--std", type=_floats3, help="normalisation std for a TorchScript model")
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where to run (default auto)",
    )
    p.add_argument(
        "--threads",
        help="torch CPU threads (default: the CPUs this process may use, less those busy elsewhere)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def _attack_args(
    p: argparse.ArgumentParser, *, targets: bool = True, early_stop: bool = False
) -> None:
    p.add_argument(
        "--method",
        default=registry.DEFAULT_ATTACK,
        type=_method,
        metavar="METHOD",
        help=f"attack: {registry.attack_choices()} (default {registry.DEFAULT_ATTACK}; see "
        "`advtui attacks`)",
    )
    p.add_argument(
        "--eps",
        default="8/255",
        help="budget in pixel units in the attack's norm: L∞ like 8/255 or 0.03 (default 8/255); "
        "an L2 radius over the whole image for L2 attacks, e.g. 0.5 (see `advtui attacks`)",
    )
    p.add_argument("--alpha", help="step size in pixel units (default 2.5·eps/steps)")
    single = [s.name for s in registry.ATTACKS.values() if s.single_step]
    p.add_argument(
        "--steps",
        default=10,
        help=f"steps of the iterative attacks (default 10; {', '.join(single)}: one step)",
    )
    if targets:
        p.add_argument(
            "--target",
            default=registry.DEFAULT_TARGET,
            help=f"{' | '.join(registry.TARGET_MODES)} | a class name or index (default "
            f"{registry.DEFAULT_TARGET}; see `advtui attacks`)",
        )
    p.add_argument(
        "--seed",
        default=0,
        help="seed for random targets, PGD start and SHAP (default 0)",
    )
    if early_stop:
        p.add_argument(
            "--early-stop",
            action="store_true",
            help="stop each image's attack at its first success",
        )


def _attack_arg_flag(p: argparse.ArgumentParser, note: str = "") -> None:
    p.add_argument(
        "--attack-arg",
        dest="attack_arg",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help=f"an argument of the attack, repeatable, typed and range-checked: {_attack_keys()}; "
        f"{registry.TA_PREFIX}NAME: the torchattacks class's arguments, typed by their "
        f"defaults (e.g. c=1 for {registry.TA_PREFIX}CW){note}",
    )


def _attack_keys() -> str:
    """Each native attack's own ``--attack-arg`` keys, from the registry (``mifgsm: decay``)."""
    own = {
        s.name: ", ".join(p.name for p in s.params if p.name not in registry.FLAG_PARAMS)
        for s in registry.ATTACKS.values()
    }
    return "; ".join(f"{name}: {keys}" for name, keys in own.items() if keys)


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE like c=1, got {text!r}")
    return key.strip(), value.strip()


def _methods(text: str) -> tuple[str, ...]:
    names = tuple(_method(m) for m in text.split(",") if m.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list like pgd,ta:CW")
    return tuple(dict.fromkeys(names))


def _explain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--explainer",
        default="shap",
        choices=list(registry.EXPLAINERS),
        help="attribution method: "
        + ", ".join(f"{s.name} ({s.label})" for s in registry.EXPLAINERS.values())
        + "; default shap, see `advtui attacks`",
    )
    p.add_argument(
        "--nsamples",
        default=50,
        help="samples per explanation: SHAP samples, IG steps, SmoothGrad noisy copies; "
        "saliency ignores it (default 50)",
    )
    p.add_argument(
        "--layer",
        help="explain the input of this backbone layer (e.g. _blocks.5) instead of pixels",
    )
    p.add_argument(
        "--background", help="folder of background images for SHAP (default: the image's folder)"
    )
    p.add_argument("--local-smoothing", default=0.0, help="shap local_smoothing (default 0)")
    p.add_argument(
        "--baseline",
        default="black",
        choices=("black", "blur"),
        help="IG: integrate from a black image or a Gaussian blur of the image (default black)",
    )
    p.add_argument(
        "--noise-std",
        type=float,
        default=0.15,
        help="SmoothGrad: σ of the noise in pixel units (default 0.15)",
    )


def _method(text: str) -> str:
    try:
        return registry.attack_spec(text).name
    except AdvtuiError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _floats3(text: str) -> tuple[float, float, float]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected three numbers like 0.485,0.456,0.406, got {text!r}"
        ) from None
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}")
    return vals[0], vals[1], vals[2]


def check_args(args: argparse.Namespace) -> argparse.Namespace:
    """Every ranged flag present in ``args`` checked by the one rule
    (:data:`advtui.settings.FLAG_RANGES`), before any image, model or output is touched.
    Whole-number and float flags become numbers; fractions (ε, α) keep the text the user typed
    (``8/255``) for the messages and the resume command, once checked."""
    from advtui.settings import FLAG_RANGES, check_flag, parse_eps

    norm = "Linf"
    if getattr(args, "method", None):  # an L2 attack's --eps/--alpha is a radius, not ≤ 1
        rest = dict(getattr(args, "attack_arg", None) or ())
        norm = registry.attack_norm(registry.attack_spec(args.method), rest)
    for name, rule in FLAG_RANGES.items():
        dest = name.replace("-", "_")
        value = getattr(args, dest, None)
        if value is None:
            continue
        if name in ("eps", "alpha") and norm == "L2":
            parse_eps(value, norm, name)
            continue
        checked = check_flag(name, value)
        if rule.kind != "fraction":
            setattr(args, dest, checked)
    for text in (getattr(args, "eps_sweep", None) or "").split(","):
        if text.strip():
            check_flag("eps", text.strip())
    return args


def _settings(args: argparse.Namespace):
    from advtui.settings import AttackSettings

    return AttackSettings.parse(
        method=args.method,
        eps=args.eps,
        alpha=args.alpha,
        steps=args.steps,
        target=getattr(args, "target", registry.DEFAULT_TARGET),
        seed=args.seed,
        early_stop=getattr(args, "early_stop", False),
        attack_args=tuple(getattr(args, "attack_arg", None) or ()),
    )


def _check_explain_args(args: argparse.Namespace) -> None:
    """SHAP flags that can be checked without the model (before it loads)."""
    from advtui.names import safe_name

    if args.background and not Path(args.background).expanduser().is_dir():
        raise UsageError(f"advtui: --background {safe_name(args.background)}: not a folder")


def _explainer_params(args: argparse.Namespace) -> dict:
    """The explainer flags of ``args`` as :func:`advtui.explain.make_explainer` parameters
    (checked against the chosen explainer: ``--baseline blur`` with SHAP is refused)."""
    params = {
        "layer": getattr(args, "layer", None),
        "local_smoothing": getattr(args, "local_smoothing", 0.0),
        "baseline": getattr(args, "baseline", "black"),
        "noise_std": getattr(args, "noise_std", 0.15),
    }
    registry.explainer_kwargs(getattr(args, "explainer", "shap"), params)
    return params


def _explainer(model, args: argparse.Namespace, image: Path):
    from advtui.explain import background_for_image, make_explainer

    _check_explain_args(args)
    return make_explainer(
        getattr(args, "explainer", "shap"),
        model,
        lambda: background_for_image(
            image,
            model.load_size,
            args.background,
            note=lambda line: _say(f"advtui: note: {line}"),
        ),
        seed=args.seed,
        **_explainer_params(args),
    )


def _label(args: argparse.Namespace) -> str:
    """The display name of the chosen explainer (``SHAP``, ``IG`` …)."""
    return registry.explainer_spec(getattr(args, "explainer", "shap")).label


def _show(text: object) -> str:
    """A name, label or path for a Rich console: control characters and undecodable bytes
    escaped (:func:`advtui.names.safe_name`), then Rich markup escaped."""
    from rich.markup import escape

    from advtui.names import safe_name

    return escape(safe_name(str(text)))


def _say(line: str) -> None:
    """One line on stderr with every control character escaped (names inside messages are
    data: they never reach the terminal as escape sequences)."""
    from advtui.names import safe_name

    print(safe_name(line), file=sys.stderr)


def _print_json(obj: Any) -> None:
    from advtui.names import json_safe

    sys.stdout.write(json.dumps(json_safe(obj), indent=2) + "\n")


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _top_table(title: str, rows: list[dict]):
    from rich.table import Table

    table = Table(title=_show(title), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("class")
    table.add_column("prob", justify="right")
    for r in rows:
        table.add_row(str(r["index"]), _show(r["label"]), f"{r['prob']:.2%}")
    return table


def _note_resolved(what: str, query: str, class_names) -> None:
    """Say on stderr which class a fuzzy name resolved to, unless it was the exact name."""
    from advtui.attacks import resolve_class

    index = resolve_class(query, class_names)
    if not str(query).strip().isdigit() and query.strip().lower() != class_names[index].lower():
        _say(f"advtui: note: {what} {query!r} is {class_names[index]!r} ({index})")


def _check_out(out: str | None) -> None:
    """Create the --out folder now and prove it writable, so a bad path fails before the
    model loads and minutes of work, not after (:func:`advtui.pipeline.check_out_dir`)."""
    if out:
        from advtui.pipeline import check_out_dir

        check_out_dir(out)


def _stderr_progress(label: str):
    """A progress callback drawing ``label [####    ] n/N`` on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label:>6} [{'#' * filled}{' ' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\r" + " " * (width + 24) + "\r")
        sys.stderr.flush()

    return progress


def _check_model_name(name: str) -> None:
    """Fail fast on a mistyped model name (before the explorer opens); files are checked later."""
    if (
        registry.find_model(name) is not None
        or Path(name).expanduser().exists()
        or Path(name).suffix in (".pt", ".pth", ".ts", ".jit")
    ):
        return
    from advtui.errors import ModelError

    try:
        registry.model_spec(name)
    except ModelError as exc:
        raise UsageError(f"advtui: {exc}") from None


def _os_error(exc: OSError) -> str:
    """``afile: exists and is not a folder`` rather than ``[Errno 17] File exists: 'afile'``."""
    if not exc.filename:
        return ""
    name = str(exc.filename)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return f"{name}: exists and is not a folder (or a folder on its path is a file)"
    reason = (exc.strerror or "").lower() or type(exc).__name__
    return f"{name}: {reason}"


def load_model_from_args(args: argparse.Namespace):
    """The model the common model flags name (``--model``, ``--weights``, ``--device`` …)."""
    from advtui.models import load_model

    return load_model(
        args.model,
        weights=args.weights,
        device=args.device,
        input_size=getattr(args, "input_size", None),
        mean=getattr(args, "mean", None),
        std=getattr(args, "std", None),
    )


#: The explanation flags (``_explain_args``) as EvalConfig and TuiConfig fields of the same name.
EXPLAIN_FIELDS = (
    "nsamples",
    "layer",
    "local_smoothing",
    "background",
    "explainer",
    "baseline",
    "noise_std",
)


def explain_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The explanation flags of ``args`` as config fields (eval and the explorer read the same)."""
    return {name: getattr(args, name) for name in EXPLAIN_FIELDS}
