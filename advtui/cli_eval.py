"""`advtui eval` — argument parsing and entry (the experiment lives in advtui.experiment)."""

from __future__ import annotations

import argparse


def add_parser(sub, common_model_args, attack_args, explain_args) -> None:
    p = sub.add_parser("eval", help="reproduce the paper's SHAP-evidence detection experiment")
    p.add_argument("folder")
    p.add_argument("--out", required=True)
    common_model_args(p)


def run(args: argparse.Namespace) -> int:
    raise SystemExit("advtui eval: not built yet")
