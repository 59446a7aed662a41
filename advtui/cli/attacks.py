"""``advtui attacks``: list the registry."""

from __future__ import annotations

import argparse

from advtui import registry
from advtui.cli.common import _console, _print_json


def add_parser(sub) -> None:
    """Add ``advtui attacks`` to the subcommands."""
    pl = sub.add_parser(
        "attacks",
        help="list attacks, target modes, explainers and detectors",
        description="List the registry: attacks (with norm, steps and targeted support), target "
        "modes, explainers and detectors. ta:NAME runs any torchattacks attack.",
    )
    pl.add_argument("--json", action="store_true", help="print JSON")
    pl.add_argument("--debug", action="store_true", help="show tracebacks on errors")


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
        "torchattacks": [
            {
                "name": s.name,
                "norm": s.norm,
                "bounded": s.bounded,
                "targeted": s.targeted,
            }
            for s in (registry.attack_spec(registry.TA_PREFIX + n) for n in registry.TA_NAMES)
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


def run(args: argparse.Namespace) -> int:
    rows = registry_rows()
    if args.json:
        _print_json(rows)
        return 0
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    t = Table(title="attacks (--method)")
    for col in ("name", "norm", "steps", "targeted", "--attack-arg", "description"):
        t.add_column(col)
    for r in rows["attacks"]:
        t.add_row(
            r["name"],
            {"Linf": "L∞"}.get(r["norm"], r["norm"]),
            "1" if r["single_step"] else "--steps",
            "yes" if r["targeted"] else "no",
            " ".join(
                f"{p['name']}={p['default']}"
                for p in r["params"]
                if p["name"] not in registry.FLAG_PARAMS
            ),
            escape(r["description"] + (f" ({r['paper']})" if r["paper"] else "")),
        )
    t.add_row(
        "ta:NAME",
        "below",
        "",
        "",
        "its class's",
        escape("any torchattacks attack, e.g. ta:CW, ta:Square (advtui[attacks])"),
    )
    console.print(t)
    groups: dict[str, list[str]] = {n: [] for n in ("L∞", "L2", "L1", "L0", "none")}
    for r in rows["torchattacks"]:
        name = r["name"][len(registry.TA_PREFIX) :]
        mark = ("" if r["bounded"] else "*") + ("" if r["targeted"] else "†")
        mark += "‡" if name in registry.TA_NORM_ARG else ""
        groups.setdefault({"Linf": "L∞"}.get(r["norm"], r["norm"]), []).append(name + mark)
    t = Table(title=escape('torchattacks: --method ta:NAME (pip install "advtui[attacks]")'))
    t.add_column("norm")
    t.add_column(
        "attacks (* sizes its own perturbation, no --eps; † untargeted only; ‡ --attack-arg "
        "norm=L2 makes --eps an L2 radius)"
    )
    for norm, names in groups.items():
        if names:
            t.add_row(norm, ", ".join(names))
    console.print(t)
    for key, title in (
        ("target_modes", "target modes (--target; or a class name or index)"),
        ("explainers", "explainers (--explainer)"),
        ("detectors", "detectors"),
    ):
        t = Table(title=title)
        t.add_column("name")
        t.add_column("description")
        for r in rows[key]:
            t.add_row(r["name"], escape(r["description"]))
        console.print(t)
    return 0
