"""``advtui attack``: attack one image, optionally explain both predictions."""

from __future__ import annotations

import argparse
from pathlib import Path

from advtui import registry
from advtui.cli import common
from advtui.cli.common import (
    UsageError,
    _attack_arg_flag,
    _attack_args,
    _check_explain_args,
    _check_out,
    _common_model_args,
    _console,
    _explain_args,
    _explainer,
    _explainer_params,
    _label,
    _note_resolved,
    _print_json,
    _say,
    _settings,
    _show,
    _stderr_progress,
    _top_table,
)
from advtui.names import safe_name
from advtui.settings import TARGET_MODES

#: the attack that attacks a loaded detector (the registry's ``needs_detector``)
ADAPTIVE = registry.detector_attack()


def add_parser(sub) -> None:
    """Add ``advtui attack`` to the subcommands."""
    pa = sub.add_parser(
        "attack",
        help="attack one image",
        description="Attack one image; optionally explain both predictions.",
    )
    pa.add_argument("image", help="image file")
    _attack_args(pa, early_stop=True)
    _attack_arg_flag(pa)
    pa.add_argument(
        "--explain",
        action="store_true",
        help="add attribution evidence (--explainer, default SHAP) for the clean and "
        "adversarial predictions",
    )
    _explain_args(pa)
    pa.add_argument(
        "--detector",
        help=f"folder with detector.json from `advtui eval`: --method {ADAPTIVE} attacks it; with "
        "--explain its P(adversarial) of the clean and adversarial image is shown",
    )
    pa.add_argument(
        "--adaptive-weight",
        default=1.0,
        metavar="λ",
        help=f"--method {ADAPTIVE}: weight of the detector's logit (default 1)",
    )
    pa.add_argument(
        "--eot", default=1, help=f"--method {ADAPTIVE}: SHAP draws per step (default 1)"
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


def run(args: argparse.Namespace) -> int:
    from advtui.images import load_image, resize_center_crop, to_tensor
    from advtui.pipeline import explain_outcome, run_attack, save_outcome

    settings = _settings(args)
    label = registry.attack_spec(settings.method).label
    if settings.single_step and args.steps != 10:
        _say(f"advtui: note: {label} is a single step; --steps is ignored")
    from advtui.attacks import check_attack_args

    check_attack_args(settings.method, settings.attack_args)  # before the model loads
    if settings.early_stop and not registry.attack_spec(settings.method).native:
        _say(f"advtui: note: {label} runs as torchattacks does; --early-stop is ignored")
    if not settings.bounded and args.eps != "8/255":
        _say(f"advtui: note: {label} sizes its own perturbation; --eps is ignored")
    elif settings.norm == "L2" and args.eps == "8/255":
        _say(
            f"advtui: note: {label} bounds the L2 norm: --eps 8/255 is an L2 radius of 0.031 "
            "(over the whole image; try --eps 0.5)"
        )
    img = load_image(args.image)  # bad images fail before the model loads
    if args.explain:
        _check_explain_args(args)
        _explainer_params(args)  # … and explainer flags that do not fit the explainer
    _check_out(args.out)  # … and a bad --out before any work is done
    if registry.attack_spec(settings.method).needs_detector and not args.detector:
        raise UsageError(
            f"advtui: --method {settings.method} needs --detector DIR (from `advtui eval`)"
        )
    if args.detector:
        from advtui.detect.saved import load_detector

        load_detector(args.detector)  # a bad detector fails before the model loads
    model = common.load_model_from_args(args)
    if settings.target not in TARGET_MODES:  # a class name or index
        _note_resolved("target", settings.target, model.class_names)
    x = to_tensor(resize_center_crop(img, model.load_size))
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
            progress=None if args.json else _stderr_progress(_label(args)),
        )
    if args.out:
        save_outcome(outcome, args.out)
    result = outcome.to_json()
    notes = []
    if other is not None:
        from advtui.eval.rowparts import transfer_fields

        tgt = None if outcome.target is None else [outcome.target["index"]]
        fields = transfer_fields(other, outcome.x[None], outcome.x_adv[None], tgt)
        assert fields is not None  # a transfer model was given
        moved = fields[0]
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
        for line in notes:  # model and class names are data: printed escaped, never as markup
            print(safe_name(line))
    return 0


def _adaptive_kwargs(args: argparse.Namespace, settings, model):
    """(the loaded --detector or None, the adaptive attack's constructor arguments or None)."""
    from advtui.detect.saved import load_detector

    detector = load_detector(args.detector) if getattr(args, "detector", None) else None
    if not registry.attack_spec(settings.method).needs_detector:
        return detector, None
    if detector is None:
        raise UsageError(
            f"advtui: --method {settings.method} needs --detector DIR (from `advtui eval`)"
        )
    from advtui.explain import background_for_image

    _check_explain_args(args)
    bg = background_for_image(
        Path(args.image),
        model.load_size,
        args.background,
        note=lambda line: _say(f"advtui: note: {line}"),
    )
    return detector, {
        "detector": detector,
        "background": bg,
        "weight": args.adaptive_weight,
        "eot": args.eot,
        "nsamples": args.nsamples,
    }


def _print_attack(result: dict, out: str | None) -> None:
    from rich.columns import Columns

    console = _console()
    tgt = result["target"]
    console.print(
        f"[b]{_show(result['image'])}[/b]  {result['method'].upper()} ε={result['eps'] * 255:.3g}/255 "
        f"steps={result['steps']}  target={_show(tgt['label']) if tgt else 'untargeted'}"
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
    if result["eps"] == 0:
        verdict = "[yellow]no attack (ε = 0): the adversarial image is the clean one[/yellow]"
    console.print(f"{verdict}  ‖δ‖∞ = {result['linf'] * 255:.2f}/255")
    if result["rounding_undid_success"]:
        console.print(
            "[yellow]note: the float attack succeeded but rounding to 8-bit pixels undid it[/yellow]"
        )
    if "evidence" in result:
        from rich.table import Table

        label = registry.explainer_spec(result.get("explainer", "shap")).label
        t = Table(title=f"{label} evidence of the top class", title_justify="left")
        t.add_column("")
        variants = list(result["evidence"].items())
        for variant, _ in variants:
            t.add_column(variant, justify="right")
        rows = [
            ("class", lambda e: _show(e["label"])),
            (f"mean {label}", lambda e: f"{e['mean_shap']:.3e}"),
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
        console.print(f"wrote {_show(str(out))}/")
