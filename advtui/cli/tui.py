"""``advtui [FOLDER]``: the explorer's flags and the App factory (shared by the CLI and tests)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from advtui import __version__
from advtui.cli.common import (
    SUBCOMMANDS,
    _attack_args,
    _common_model_args,
    _explain_args,
    _Parser,
    _settings,
    check_args,
)


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
    p.add_argument(
        "--graphics",
        choices=("auto", "kitty", "sixel", "halfblock"),
        default="auto",
        help="how pictures are drawn: real pixels via the Kitty graphics protocol or Sixel, or "
        "half-block characters; auto asks the terminal (half-blocks inside tmux; default auto)",
    )
    return p


def build_app(argv: list[str] | None = None, *, classifier: Any = None):
    """The explorer App for ``advtui [FOLDER] [options]`` (the CLI and the tests share this).
    ``classifier``: a built :class:`advtui.models.Classifier` to use instead of ``--model``."""
    args = check_args(tui_parser().parse_args(argv))
    from advtui.images import bundled_samples
    from advtui.tui.app import AdvtuiApp, TuiConfig

    folder = Path(args.folder) if args.folder else bundled_samples()
    settings = _settings(args)
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
        classifier=classifier,
        graphics=args.graphics,
    )
    return AdvtuiApp(config)
