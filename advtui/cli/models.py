"""``advtui models``: list models and their layers."""

from __future__ import annotations

import argparse
import os

from advtui.cli.common import _console, _print_json, _show


def add_parser(sub) -> None:
    """Add ``advtui models`` to the subcommands."""
    pm = sub.add_parser(
        "models",
        help="list models",
        description="List models and whether their weights are offline.",
    )
    pm.add_argument("--json", action="store_true", help="print JSON")
    pm.add_argument("--layers", metavar="MODEL", help="list the layer names of MODEL (for --layer)")
    pm.add_argument("--weights", help="weights file for --layers MODEL (e.g. a timm:NAME model)")
    pm.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def run(args: argparse.Namespace) -> int:
    from advtui.models import describe_models, load_model

    if args.layers:
        model = load_model(args.layers, weights=args.weights, device="cpu")
        from advtui.names import safe_name

        for name in model.layer_names():
            print(safe_name(name))
        return 0
    rows = describe_models()
    if args.json:
        _print_json(rows)
        return 0
    from rich.table import Table

    t = Table()
    for col in ("model", "input", "offline", "description"):
        t.add_column(col)
    missing = []
    for r in rows:
        offline = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "per model"}
        t.add_row(
            r["name"],
            str(r["input_size"] or "own"),
            offline[r["offline"]],
            _show(r["description"]),
        )
        if r["offline"] is False:
            missing.append(r["weights"])
    console = _console()
    console.print(t)
    if missing:
        folder = os.path.dirname(missing[0])
        names = ", ".join(os.path.basename(m) for m in missing)
        console.print(
            f"Weights not found offline go in {_show(folder)}/ ({_show(names)}), or pass --weights PATH."
        )
    return 0
