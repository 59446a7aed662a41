"""``advtui explain``: explain one prediction."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from advtui import registry
from advtui.cli import common
from advtui.cli.common import (
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
    _show,
    _stderr_progress,
    _top_table,
)


def add_parser(sub) -> None:
    """Add ``advtui explain`` to the subcommands."""
    pe = sub.add_parser(
        "explain",
        help="attribution heatmap of one image "
        f"({', '.join(s.label for s in registry.EXPLAINERS.values())})",
        description=f"Explain one prediction with --explainer {'|'.join(registry.EXPLAINERS)} "
        "(default shap).",
    )
    pe.add_argument("image", help="image file")
    pe.add_argument(
        "--class",
        dest="klass",
        metavar="CLASS",
        help="class name or index to explain (default: the top class)",
    )
    pe.add_argument("--seed", default=0, help="SHAP/SmoothGrad seed (default 0)")
    _explain_args(pe)
    pe.add_argument(
        "--out",
        help="folder to write image.png, shap.png, shap_overlay.png and explanation.json "
        "(ig.png, ig_overlay.png … with --explainer ig)",
    )
    pe.add_argument("--json", action="store_true", help="print JSON")
    _common_model_args(pe)


def run(args: argparse.Namespace) -> int:
    from advtui.attacks import resolve_class
    from advtui.images import (
        atomic_write_bytes,
        load_image,
        resize_center_crop,
        save_png,
        to_pil,
        to_tensor,
    )
    from advtui.names import json_safe
    from advtui.outputs import save_set
    from advtui.render import (
        heatmap_scale,
        heatmap_with_legend,
        overlay,
        shap_png_text,
        with_legend,
    )

    image = Path(args.image)
    img = load_image(image)  # bad images fail before the model loads
    _check_explain_args(args)
    _check_out(args.out)
    _explainer_params(args)  # explainer flags that do not fit the explainer, before the model
    model = common.load_model_from_args(args)
    x = to_tensor(resize_center_crop(img, model.load_size))
    classes = None if args.klass is None else [resolve_class(args.klass, model.class_names)]
    if args.klass is not None:
        _note_resolved("class", args.klass, model.class_names)
    explainer = _explainer(model, args, image)
    expl = explainer.explain(
        x[None],
        classes,
        nsamples=args.nsamples,
        progress=None if args.json else _stderr_progress(_label(args)),
    )
    ev = expl.evidence[0]
    pmap = expl.pixel_maps(model.load_size)[0]
    scale = heatmap_scale(pmap)
    result = {
        "model": model.name,
        "image": args.image,
        "explainer": args.explainer,
        "layer": args.layer,
        "nsamples": args.nsamples,
        "top5": model.topk(x[None], 5)[0],
        "evidence": ev.to_dict(),
        "shap_scale": scale,
    }
    if args.out:
        default = args.explainer == registry.DEFAULT_EXPLAINER  # its maps say nothing more
        title = f"class: {ev.label}" + ("" if default else f" ({_label(args)})")
        text = shap_png_text(scale, pmap, ev.label)
        stem = args.explainer  # shap.png as always; ig.png, saliency.png, smoothgrad.png

        def write(out: Path) -> None:
            save_png(to_pil(x), out / "image.png")
            note = f"{_label(args)} value"  # what the colour bar measures
            save_png(heatmap_with_legend(pmap, scale, title, note=note), out / f"{stem}.png", text)
            over = overlay(to_pil(x), pmap, scale=scale)
            save_png(with_legend(over, scale, title, note), out / f"{stem}_overlay.png", text)
            body = json.dumps(json_safe(result), indent=2) + "\n"
            atomic_write_bytes(out / "explanation.json", body.encode())

        from advtui.registry import EXPLAINERS

        owned = {"image.png", "explanation.json"}
        owned |= {f"{e}{tail}.png" for e in EXPLAINERS for tail in ("", "_overlay")}
        save_set(args.out, write, owned=owned)  # whole or none: a kill leaves the previous set
    if args.json:
        _print_json(result)
    else:
        console = _console()
        console.print(_top_table(args.image, result["top5"]))
        console.print(
            f"{_label(args)} for [b]{_show(ev.label)}[/b]: mean {ev.mean_shap:.3e}, positive {ev.pos_sum:.3f}, "
            f"negative {ev.neg_sum:.3f}, top-5% share {ev.top5_share:.1%}, logit {ev.logit:.2f}, prob {ev.prob:.2%}"
        )
        if args.out:
            console.print(f"wrote {_show(str(Path(args.out)))}/")
    return 0
