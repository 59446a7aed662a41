"""``advtui predict``: classify images."""

from __future__ import annotations

import argparse

from advtui.cli import common
from advtui.cli.common import _common_model_args, _console, _print_json, _say, _top_table


def add_parser(sub) -> None:
    """Add ``advtui predict`` to the subcommands."""
    pr = sub.add_parser(
        "predict", help="classify images", description="Classify images with the model."
    )
    pr.add_argument("images", nargs="+", help="image files")
    pr.add_argument("--top", default=5, help="how many classes to show (default 5)")
    pr.add_argument("--json", action="store_true", help="print JSON")
    _common_model_args(pr)


def run(args: argparse.Namespace) -> int:
    from advtui.errors import ImageError
    from advtui.images import load_tensor

    model = common.load_model_from_args(args)
    results, failed = [], 0
    for name in args.images:
        try:
            x = load_tensor(name, model.load_size)
        except ImageError as exc:
            _say(f"advtui: error: {exc}")
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
