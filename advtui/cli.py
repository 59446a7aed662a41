"""The ``advtui`` command: the terminal explorer and the headless subcommands.

``advtui [FOLDER]`` opens the explorer; ``advtui predict|attack|explain|eval|models`` run the
same pipeline headless. Torch is imported lazily so that the explorer's first frame is fast.
Bad usage or input exits 2 with one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from advtui import __version__, cli_common, registry
from advtui.errors import AdvtuiError
from advtui.settings import TARGET_MODES

SUBCOMMANDS = ("predict", "attack", "explain", "eval", "models", "attacks")


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line (no usage dump) and never exits by itself."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _common_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default="efficientnet-lite0",
        help="model name (see `advtui models`) or a TorchScript file (default: efficientnet-lite0)",
    )
    p.add_argument("--weights", help="state-dict file for --model (loaded with weights_only=True)")
    p.add_argument(
        "--input-size", type=int, help="input size of a TorchScript --model (default 224)"
    )
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
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def _attack_args(
    p: argparse.ArgumentParser, *, targets: bool = True, early_stop: bool = False
) -> None:
    p.add_argument(
        "--method",
        default="pgd",
        type=_method,
        metavar="METHOD",
        help=f"attack: {', '.join(registry.ATTACKS)} or ta:NAME (default pgd; see `advtui attacks`)",
    )
    p.add_argument(
        "--eps",
        default="8/255",
        help="L∞ budget in pixel units, e.g. 8/255 or 0.03 (default 8/255)",
    )
    p.add_argument("--alpha", help="step size in pixel units (default 2.5·eps/steps)")
    p.add_argument("--steps", type=int, default=10, help="attack steps for BIM/PGD (default 10)")
    if targets:
        p.add_argument(
            "--target",
            default="untargeted",
            help="untargeted | random | runner-up | nearest | a class name or index (default untargeted)",
        )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for random targets, PGD start and SHAP (default 0)",
    )
    if early_stop:
        p.add_argument(
            "--early-stop",
            action="store_true",
            help="stop each image's attack at its first success",
        )


def _explain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--nsamples", type=int, default=50, help="SHAP samples per explanation (default 50)"
    )
    p.add_argument(
        "--layer",
        help="explain the input of this backbone layer (e.g. _blocks.5) instead of pixels",
    )
    p.add_argument(
        "--background", help="folder of background images for SHAP (default: the image's folder)"
    )
    p.add_argument(
        "--local-smoothing", type=float, default=0.0, help="shap local_smoothing (default 0)"
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
    return vals  # type: ignore[return-value]


def tui_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="advtui",
        description="Terminal explorer for adversarial attacks and their SHAP explanations. "
        f"Headless subcommands: {', '.join(SUBCOMMANDS)} (advtui SUBCOMMAND --help).",
    )
    p.add_argument("folder", nargs="?", help="folder of images (default: the bundled samples)")
    p.add_argument("--version", action="version", version=f"advtui {__version__}")
    _common_model_args(p)
    _attack_args(p)
    _explain_args(p)
    p.add_argument(
        "--out", default="advtui-out", help="where `s` saves results (default ./advtui-out)"
    )
    p.add_argument(
        "--detector", help="folder with detector.json from `advtui eval` to show a live verdict"
    )
    return p


def sub_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="advtui", description="advtui headless commands")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    pr = sub.add_parser(
        "predict", help="classify images", description="Classify images with the model."
    )
    pr.add_argument("images", nargs="+", help="image files")
    pr.add_argument("--top", type=int, default=5, help="how many classes to show (default 5)")
    pr.add_argument("--json", action="store_true", help="print JSON")
    _common_model_args(pr)

    pa = sub.add_parser(
        "attack",
        help="attack one image",
        description="Attack one image; optionally explain both predictions.",
    )
    pa.add_argument("image", help="image file")
    _attack_args(pa, early_stop=True)
    pa.add_argument(
        "--explain",
        action="store_true",
        help="add SHAP evidence for the clean and adversarial predictions",
    )
    _explain_args(pa)
    pa.add_argument(
        "--detector",
        help="folder with detector.json from `advtui eval`: --method adaptive attacks it; with "
        "--explain its P(adversarial) of the clean and adversarial image is shown",
    )
    pa.add_argument(
        "--adaptive-weight",
        type=float,
        default=1.0,
        metavar="λ",
        help="--method adaptive: weight of the detector's logit (default 1)",
    )
    pa.add_argument(
        "--eot", type=int, default=1, help="--method adaptive: SHAP draws per step (default 1)"
    )
    pa.add_argument(
        "--transfer-to",
        metavar="MODEL",
        help="also classify the clean and adversarial image with MODEL (transfer attack)",
    )
    pa.add_argument(
        "--out", help="folder to write clean/adversarial/perturbation/SHAP PNGs and result.json"
    )
    pa.add_argument("--json", action="store_true", help="print the result as one JSON object")
    _common_model_args(pa)

    pe = sub.add_parser(
        "explain", help="SHAP heatmap of one image", description="Explain one prediction with SHAP."
    )
    pe.add_argument("image", help="image file")
    pe.add_argument(
        "--class",
        dest="klass",
        metavar="CLASS",
        help="class name or index to explain (default: the top class)",
    )
    pe.add_argument("--seed", type=int, default=0, help="SHAP seed (default 0)")
    _explain_args(pe)
    pe.add_argument(
        "--out", help="folder to write image.png, shap.png, shap_overlay.png and explanation.json"
    )
    pe.add_argument("--json", action="store_true", help="print JSON")
    _common_model_args(pe)

    pm = sub.add_parser(
        "models",
        help="list models",
        description="List models and whether their weights are offline.",
    )
    pm.add_argument("--json", action="store_true", help="print JSON")
    pm.add_argument("--layers", metavar="MODEL", help="list the layer names of MODEL (for --layer)")
    pm.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    pl = sub.add_parser(
        "attacks",
        help="list attacks, target modes, explainers and detectors",
        description="List the registry: attacks (with norm, steps and targeted support), target "
        "modes, explainers and detectors. ta:NAME runs any torchattacks attack.",
    )
    pl.add_argument("--json", action="store_true", help="print JSON")
    pl.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    from advtui import cli_eval

    cli_eval.add_parser(sub, _common_model_args, _attack_args, _explain_args)
    return p


# ----------------------------------------------------------------------------- helpers


def _settings(args: argparse.Namespace):
    from advtui.settings import AttackSettings

    if args.steps < 1:
        raise UsageError(f"advtui: --steps must be at least 1 (got {args.steps})")
    return AttackSettings.parse(
        method=args.method,
        eps=args.eps,
        alpha=args.alpha,
        steps=args.steps,
        target=getattr(args, "target", "untargeted"),
        seed=args.seed,
        early_stop=getattr(args, "early_stop", False),
    )


def _explainer(model, args: argparse.Namespace, image: Path):
    from advtui.explain import Explainer, background_for_image

    if args.nsamples < 1:
        raise UsageError(f"advtui: --nsamples must be at least 1 (got {args.nsamples})")
    if args.background and not Path(args.background).is_dir():
        raise UsageError(f"advtui: --background {args.background}: not a folder")
    bg = background_for_image(image, model.input_size, args.background)
    return Explainer(
        model, bg, layer=args.layer, local_smoothing=args.local_smoothing, seed=args.seed
    )


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _top_table(title: str, rows: list[dict]):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("class")
    table.add_column("prob", justify="right")
    for r in rows:
        table.add_row(str(r["index"]), escape(r["label"]), f"{r['prob']:.2%}")
    return table


# ----------------------------------------------------------------------------- commands


def cmd_predict(args: argparse.Namespace) -> int:
    from advtui.errors import ImageError
    from advtui.images import load_tensor

    if args.top < 1:
        raise UsageError("advtui predict: --top must be at least 1")
    model = cli_common.load_model_from_args(args)
    results, failed = [], 0
    for name in args.images:
        try:
            x = load_tensor(name, model.input_size)
        except ImageError as exc:
            print(f"advtui: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        results.append({"image": name, f"top{args.top}": model.topk(x[None], args.top)[0]})
    if args.json:
        if results or not failed:
            _print_json(results[0] if len(args.images) == 1 and results else results)
    else:
        console = _console()
        for r in results:
            console.print(_top_table(r["image"], r[f"top{args.top}"]))
    return 2 if failed else 0


def _note_resolved(what: str, query: str, class_names) -> None:
    """Say on stderr which class a fuzzy name resolved to, unless it was the exact name."""
    from advtui.attacks import resolve_class

    index = resolve_class(query, class_names)
    if not str(query).strip().isdigit() and query.strip().lower() != class_names[index].lower():
        print(
            f"advtui: note: {what} {query!r} is {class_names[index]!r} ({index})", file=sys.stderr
        )


def _check_out(out: str | None) -> None:
    """Create the --out folder now, so a bad path fails before minutes of work, not after."""
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)


def cmd_attack(args: argparse.Namespace) -> int:
    from advtui.images import load_image, resize_center_crop, to_tensor
    from advtui.pipeline import explain_outcome, run_attack, save_outcome

    settings = _settings(args)
    if settings.single_step and args.steps != 10:
        label = registry.attack_spec(settings.method).label
        print(f"advtui: note: {label} is a single step; --steps is ignored", file=sys.stderr)
    img = load_image(args.image)  # bad images fail before the model loads
    _check_out(args.out)  # … and a bad --out before any work is done
    if settings.method == "adaptive" and not args.detector:
        raise UsageError("advtui: --method adaptive needs --detector DIR (from `advtui eval`)")
    if args.detector:
        from advtui.detect.saved import load_detector

        load_detector(args.detector)  # a bad detector fails before the model loads
    model = cli_common.load_model_from_args(args)
    if settings.target not in TARGET_MODES:  # a class name or index
        _note_resolved("target", settings.target, model.class_names)
    x = to_tensor(resize_center_crop(img, model.input_size))
    progress = None if args.json else _stderr_progress("attack")
    detector, kwargs = _adaptive_kwargs(args, settings, model)
    other = None
    if args.transfer_to:  # loaded before the attack: a bad name fails before the work
        from advtui.models import load_model

        other = load_model(args.transfer_to, device=model.device)
    outcome = run_attack(
        model, x, settings, image=args.image, progress=progress, attack_kwargs=kwargs
    )
    if args.explain:
        explainer = _explainer(model, args, Path(args.image))
        explain_outcome(
            explainer,
            outcome,
            nsamples=args.nsamples,
            progress=None if args.json else _stderr_progress("SHAP"),
        )
    if args.out:
        save_outcome(outcome, args.out)
    result = outcome.to_json()
    notes = []
    if other is not None:
        from advtui.eval.loop import transfer_fields

        tgt = None if outcome.target is None else [outcome.target["index"]]
        moved = transfer_fields(other, outcome.x[None], outcome.x_adv[None], tgt)[0]
        result["transfer"] = moved | {
            "clean_label": other.label(moved["transfer_clean_pred"]),
        }
        notes.append(
            f"transfer to {other.name}: clean {result['transfer']['clean_label']} → "
            f"adversarial {moved['transfer_pred_label']}: "
            f"{'fooled' if moved['transfer_success'] else 'not fooled'}"
        )
    if detector is not None and outcome.attributions:
        result["detector_p"] = {k: detector.score(a) for k, a in outcome.attributions.items()}
        notes.append(
            "detector P(adversarial): "
            + ", ".join(f"{k} {p:.3f}" for k, p in result["detector_p"].items())
        )
    if args.json:
        _print_json(result)
    else:
        _print_attack(result, args.out)
        for line in notes:  # model and class names are data: printed plainly, never as markup
            print(line)
    return 0


def _adaptive_kwargs(args: argparse.Namespace, settings, model):
    """(the loaded --detector or None, the adaptive attack's constructor arguments or None)."""
    from advtui.detect.saved import load_detector

    detector = load_detector(args.detector) if getattr(args, "detector", None) else None
    if settings.method != "adaptive":
        return detector, None
    if detector is None:
        raise UsageError("advtui: --method adaptive needs --detector DIR (from `advtui eval`)")
    if args.eot < 1:
        raise UsageError(f"advtui: --eot must be at least 1 (got {args.eot})")
    from advtui.explain import background_for_image

    if args.background and not Path(args.background).is_dir():
        raise UsageError(f"advtui: --background {args.background}: not a folder")
    bg = background_for_image(Path(args.image), model.input_size, args.background)
    return detector, {
        "detector": detector,
        "background": bg,
        "weight": args.adaptive_weight,
        "eot": args.eot,
        "nsamples": args.nsamples,
    }


def _print_attack(result: dict, out: str | None) -> None:
    from rich.columns import Columns
    from rich.markup import escape

    console = _console()
    tgt = result["target"]
    console.print(
        f"[b]{escape(result['image'])}[/b]  {result['method'].upper()} ε={result['eps'] * 255:.3g}/255 "
        f"steps={result['steps']}  target={escape(tgt['label']) if tgt else 'untargeted'}"
    )
    console.print(
        Columns(
            [
                _top_table("clean", result["clean"]["top5"]),
                _top_table("adversarial", result["adversarial"]["top5"]),
            ]
        )
    )
    verdict = "[green]success[/green]" if result["success"] else "[red]failed[/red]"
    console.print(f"{verdict}  ‖δ‖∞ = {result['linf'] * 255:.2f}/255")
    if result["rounding_undid_success"]:
        console.print(
            "[yellow]note: the float attack succeeded but rounding to 8-bit pixels undid it[/yellow]"
        )
    if "evidence" in result:
        from rich.table import Table

        t = Table(title="SHAP evidence of the top class", title_justify="left")
        t.add_column("")
        variants = list(result["evidence"].items())
        for variant, _ in variants:
            t.add_column(variant, justify="right")
        rows = [
            ("class", lambda e: escape(e["label"])),
            ("mean SHAP", lambda e: f"{e['mean_shap']:.3e}"),
            ("positive sum", lambda e: f"{e['pos_sum']:.3f}"),
            ("negative sum", lambda e: f"{e['neg_sum']:.3f}"),
            ("top-5% share", lambda e: f"{e['top5_share']:.1%}"),
            ("logit", lambda e: f"{e['logit']:.2f}"),
            ("prob", lambda e: f"{e['prob']:.2%}"),
        ]
        for name, fmt in rows:
            t.add_row(name, *[fmt(e) for _, e in variants])
        console.print(t)
    if out:
        console.print(f"wrote {escape(str(out))}/")


def cmd_explain(args: argparse.Namespace) -> int:
    from advtui.attacks import resolve_class
    from advtui.images import (
        atomic_write_bytes,
        load_image,
        resize_center_crop,
        save_png,
        to_pil,
        to_tensor,
    )
    from advtui.render import (
        heatmap_scale,
        heatmap_with_legend,
        overlay,
        shap_png_text,
        with_legend,
    )

    image = Path(args.image)
    img = load_image(image)  # bad images fail before the model loads
    _check_out(args.out)
    model = cli_common.load_model_from_args(args)
    x = to_tensor(resize_center_crop(img, model.input_size))
    classes = None if args.klass is None else [resolve_class(args.klass, model.class_names)]
    if args.klass is not None:
        _note_resolved("class", args.klass, model.class_names)
    explainer = _explainer(model, args, image)
    expl = explainer.explain(
        x[None],
        classes,
        nsamples=args.nsamples,
        progress=None if args.json else _stderr_progress("SHAP"),
    )
    ev = expl.evidence[0]
    pmap = expl.pixel_maps(model.input_size)[0]
    scale = heatmap_scale(pmap)
    result = {
        "model": model.name,
        "image": args.image,
        "layer": args.layer,
        "nsamples": args.nsamples,
        "top5": model.topk(x[None], 5)[0],
        "evidence": ev.to_dict(),
        "shap_scale": scale,
    }
    if args.out:
        out = Path(args.out)
        title = f"class: {ev.label}"
        text = shap_png_text(scale, pmap, ev.label)
        save_png(to_pil(x), out / "image.png")
        save_png(heatmap_with_legend(pmap, scale, title=title), out / "shap.png", text)
        over = overlay(to_pil(x), pmap, scale=scale)
        save_png(with_legend(over, scale, title=title), out / "shap_overlay.png", text)
        atomic_write_bytes(out / "explanation.json", (json.dumps(result, indent=2) + "\n").encode())
    if args.json:
        _print_json(result)
    else:
        from rich.markup import escape

        console = _console()
        console.print(_top_table(args.image, result["top5"]))
        console.print(
            f"SHAP for [b]{escape(ev.label)}[/b]: mean {ev.mean_shap:.3e}, positive {ev.pos_sum:.3f}, "
            f"negative {ev.neg_sum:.3f}, top-5% share {ev.top5_share:.1%}, logit {ev.logit:.2f}, prob {ev.prob:.2%}"
        )
        if args.out:
            console.print(f"wrote {escape(str(Path(args.out)))}/")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from advtui.models import describe_models, load_model

    if args.layers:
        model = load_model(args.layers, device="cpu")
        for name in model.layer_names():
            print(name)
        return 0
    rows = describe_models()
    if args.json:
        _print_json(rows)
        return 0
    from rich.markup import escape
    from rich.table import Table

    t = Table()
    for col in ("model", "input", "offline", "description"):
        t.add_column(col)
    missing = []
    for r in rows:
        t.add_row(
            r["name"],
            str(r["input_size"]),
            "[green]yes[/green]" if r["offline"] else "[red]no[/red]",
            escape(r["description"]),
        )
        if not r["offline"]:
            missing.append(r["weights"])
    console = _console()
    console.print(t)
    if missing:
        folder = os.path.dirname(missing[0])
        names = ", ".join(os.path.basename(m) for m in missing)
        console.print(
            f"Weights not found offline go in {escape(folder)}/ ({escape(names)}), or pass --weights PATH."
        )
    return 0


def registry_rows() -> dict[str, list[dict]]:
    """The registry as plain rows (``advtui attacks --json``)."""

    def params(spec) -> list[dict]:
        return [
            {"name": p.name, "default": p.default, "low": p.low, "high": p.high, "help": p.help}
            for p in spec.params
        ]

    return {
        "attacks": [
            {
                "name": s.name,
                "description": s.description,
                "norm": s.norm,
                "single_step": s.single_step,
                "targeted": s.targeted,
                "random_start": s.random_start,
                "paper": s.paper,
                "params": params(s),
            }
            for s in registry.ATTACKS.values()
        ],
        "target_modes": [
            {"name": s.name, "description": s.description} for s in registry.TARGET_MODES.values()
        ],
        "explainers": [
            {"name": s.name, "description": s.description, "params": params(s)}
            for s in registry.EXPLAINERS.values()
        ],
        "detectors": [
            {"name": s.name, "description": s.description, "trained": s.trained}
            for s in registry.DETECTORS.values()
        ],
    }


def cmd_attacks(args: argparse.Namespace) -> int:
    rows = registry_rows()
    if args.json:
        _print_json(rows)
        return 0
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    t = Table(title="attacks (--method)")
    for col in ("name", "norm", "steps", "targeted", "description"):
        t.add_column(col)
    for r in rows["attacks"]:
        t.add_row(
            r["name"],
            {"Linf": "L∞"}.get(r["norm"], r["norm"]),
            "1" if r["single_step"] else "--steps",
            "yes" if r["targeted"] else "no",
            escape(r["description"] + (f" ({r['paper']})" if r["paper"] else "")),
        )
    t.add_row(
        "ta:NAME",
        "",
        "",
        "",
        escape("any torchattacks attack, e.g. ta:CW, ta:Square (advtui[attacks])"),
    )
    console.print(t)
    for key, title in (
        ("target_modes", "target modes (--target; or a class name or index)"),
        ("explainers", "explainers"),
        ("detectors", "detectors"),
    ):
        t = Table(title=title)
        t.add_column("name")
        t.add_column("description")
        for r in rows[key]:
            t.add_row(r["name"], escape(r["description"]))
        console.print(t)
    return 0


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


# ----------------------------------------------------------------------------- TUI


def _check_model_name(name: str) -> None:
    """Fail fast on a mistyped model name (before the explorer opens); files are checked later."""
    from advtui.settings import MODEL_NAMES

    if (
        name in MODEL_NAMES
        or Path(name).expanduser().exists()
        or Path(name).suffix in (".pt", ".pth", ".ts", ".jit")
    ):
        return
    import difflib

    close = difflib.get_close_matches(name, MODEL_NAMES, n=3, cutoff=0.4)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"advtui: unknown model {name!r}{hint}; known: {', '.join(MODEL_NAMES)}")


def build_app(argv: list[str] | None = None):
    """The explorer App for ``advtui [FOLDER] [options]`` (the CLI and the tests share this)."""
    args = tui_parser().parse_args(argv)
    from advtui.images import bundled_samples
    from advtui.tui.app import AdvtuiApp, TuiConfig

    folder = Path(args.folder) if args.folder else bundled_samples()
    settings = _settings(args)
    if args.nsamples < 1:
        raise UsageError(f"advtui: --nsamples must be at least 1 (got {args.nsamples})")
    config = TuiConfig(
        folder=folder,
        model=args.model,
        weights=args.weights,
        device=args.device,
        input_size=args.input_size,
        mean=args.mean,
        std=args.std,
        settings=settings,
        nsamples=args.nsamples,
        layer=args.layer,
        background=args.background,
        local_smoothing=args.local_smoothing,
        out_dir=Path(args.out),
        detector=args.detector,
    )
    return AdvtuiApp(config)


_NEGATIVE = re.compile(r"-[\d.]+(/[\d.]+)?([eE][-+]?\d+)?")


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--eps -1/255`` → ``--eps=-1/255``: argparse would take ``-1/255`` for an option and
    say "expected one argument" instead of the real problem (ε must lie in [0, 1])."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in ("--eps", "--alpha") and _NEGATIVE.fullmatch(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _dispatch(argv: list[str]) -> int:
    argv = _join_negative_values(argv)
    if argv and argv[0] in SUBCOMMANDS:
        args = sub_parser().parse_args(argv)
        handler = {
            "predict": cmd_predict,
            "attack": cmd_attack,
            "explain": cmd_explain,
            "models": cmd_models,
            "attacks": cmd_attacks,
        }.get(args.command)
        if handler is None:
            from advtui import cli_eval

            return cli_eval.run(args)
        return handler(args)
    app = build_app(argv)
    folder = app.config.folder
    if not folder.is_dir():
        raise UsageError(
            f"advtui: {folder}: {'not a folder' if folder.exists() else 'no such folder'}"
        )
    _check_model_name(app.config.model)
    app.run()
    return int(app.return_code or 0)


def _os_error(exc: OSError) -> str:
    """``afile: exists and is not a folder`` rather than ``[Errno 17] File exists: 'afile'``."""
    if not exc.filename:
        return ""
    name = str(exc.filename)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return f"{name}: exists and is not a folder (or a folder on its path is a file)"
    reason = (exc.strerror or "").lower() or type(exc).__name__
    return f"{name}: {reason}"


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 ok, 1 internal error, 2 bad usage/input, 130 ^C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("ADVTUI_DEBUG") == "1"
    try:
        return _dispatch(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("advtui: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # argparse --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except BaseException as exc:  # noqa: BLE001 - the user never sees a traceback unless asked
        from advtui.errors import AdvtuiError

        if debug:
            raise
        if isinstance(exc, AdvtuiError):
            print(f"advtui: error: {exc}", file=sys.stderr)
            return 2
        msg = " ".join(str(exc).split())[:300]
        if isinstance(exc, MemoryError) or "out of memory" in msg.lower():
            print(
                "advtui: error: out of memory (try fewer --nsamples, a smaller --batch-size or --device cpu)",
                file=sys.stderr,
            )
            return 2
        if isinstance(exc, OSError):
            print(f"advtui: error: {_os_error(exc) or msg or type(exc).__name__}", file=sys.stderr)
            return 2
        print(
            f"advtui: internal error: {type(exc).__name__}: {msg} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
