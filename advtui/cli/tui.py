"""``advtui [FOLDER]``: the explorer's flags and the App factory (shared by the CLI and tests)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from advtui import __version__, registry, threads
from advtui.cli.common import (
    SUBCOMMANDS,
    UsageError,
    _attack_arg_flag,
    _attack_args,
    _common_model_args,
    _explain_args,
    _methods,
    _Parser,
    _settings,
    check_args,
    explain_fields,
)


def _eps_grid(text: str) -> tuple[float, ...]:
    from advtui.errors import FlagError
    from advtui.tui.epsgrid import parse_eps_grid

    try:
        return parse_eps_grid(text)
    except FlagError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--eps-grid ")) from None


def tui_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="advtui",
        description="Terminal explorer for adversarial attacks and their SHAP explanations. "
        f"Headless subcommands: {', '.join(SUBCOMMANDS)} (advtui SUBCOMMAND --help).",
    )
    p.add_argument(
        "folder",
        nargs="?",
        metavar="PATH",
        help="a folder of images (sub-folders too: ImageNet-style n01440764/ folders give the "
        "true class), or one image (opens its folder with it selected); default: the bundled "
        "samples",
    )
    p.add_argument(
        "--list",
        dest="list_file",
        metavar="FILE",
        help="list the images named in FILE, one path per line (relative to FILE's folder)",
    )
    p.add_argument(
        "--labels",
        metavar="FILE",
        help="true classes: CSV (name,class), JSON, LOC_val_solution.csv or one WordNet id a "
        "line, as `advtui eval --labels`",
    )
    p.add_argument("--version", action="version", version=f"advtui {__version__}")
    _common_model_args(p)
    _attack_args(p)
    _attack_arg_flag(p)
    p.add_argument(
        "--methods",
        type=_methods,
        metavar="M1,M2,…",
        help="what `m` cycles through, e.g. pgd,ta:CW,ta:Square (default: the native attacks "
        "plus --method)",
    )
    p.add_argument(
        "--eps-grid",
        type=_eps_grid,
        metavar="E1,E2,…",
        help="the budgets `b` (the ε grid) attacks the image at, e.g. 1/255,2/255,4/255 "
        "(default 1,2,4,8,16/255 for L∞ attacks, 0.125,0.25,0.5,1,2 for L2 ones)",
    )
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
    threads.configure(args.threads)
    from advtui.errors import ImageError
    from advtui.images import bundled_samples, open_source
    from advtui.tui.app import AdvtuiApp, TuiConfig

    folder = Path(args.folder) if args.folder else bundled_samples()
    select, recursive = None, True
    from advtui.eval.browse import is_run_folder, photo_folder

    run = Path(args.folder).expanduser() if args.folder and is_run_folder(args.folder) else None
    try:
        if run is not None:  # an eval output folder: its rows, over its photos
            folder = photo_folder(run)
        elif args.folder:
            folder, select = open_source(args.folder)
            recursive = select is None  # an image's folder: its siblings, not a whole tree
    except ImageError:
        pass  # the explorer says why (and `advtui PATH` refuses it before starting)
    list_file = Path(args.list_file).expanduser() if args.list_file else None
    if list_file is not None and not args.folder:
        folder = list_file.parent
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
        **explain_fields(args),
        out_dir=Path(args.out),
        detector=args.detector,
        classifier=classifier,
        select=select,
        list_file=list_file,
        labels=Path(args.labels).expanduser() if args.labels else None,
        recursive=recursive,
        graphics=args.graphics,
        methods=_cycle(args.methods, settings),
        eps_grid=args.eps_grid,
        run=run,
    )
    return AdvtuiApp(config)


def check_sources(config, argv: list[str]) -> None:
    """``advtui PATH``, ``--list`` and ``--labels`` that cannot be opened fail before the app."""
    from advtui.errors import ImageError
    from advtui.images import open_source
    from advtui.names import safe_name

    args = tui_parser().parse_args(argv)
    try:
        if config.list_file is not None:
            if not config.list_file.is_file():
                what = "is a folder" if config.list_file.is_dir() else "no such file"
                raise ImageError(f"--list {safe_name(config.list_file)}: {what}")
        elif args.folder:
            open_source(args.folder)
    except ImageError as exc:
        raise UsageError(f"advtui: {exc}") from None
    if config.labels is not None and not config.labels.is_file():
        raise UsageError(f"advtui: --labels {safe_name(config.labels)}: no such file")


def _cycle(methods: tuple[str, ...] | None, settings) -> tuple[str, ...] | None:
    """What ``m`` cycles: --methods (starting from --method), or the native attacks plus a
    ``ta:`` --method. Keys of --attack-arg that no native method takes need a ta: method."""
    from advtui.settings import METHODS

    cycle = methods or (METHODS if settings.method in METHODS else (*METHODS, settings.method))
    if settings.method not in cycle:
        cycle = (settings.method, *cycle)
    if settings.attack_args and all(registry.attack_spec(m).native for m in cycle):
        from advtui.attacks import check_attack_args  # torch-free for native methods

        keys = {
            p.name
            for m in cycle
            for p in registry.attack_spec(m).params
            if p.name not in registry.FLAG_PARAMS
        }
        for key, value in settings.attack_args:
            if key not in keys:
                check_attack_args(settings.method, [(key, value)])  # raises the one-line error
    return None if cycle == METHODS else tuple(cycle)


NEEDS_TERMINAL = (
    "advtui: the explorer needs a terminal (standard input is not one and there is no "
    "/dev/tty); without one use the headless commands: advtui predict|attack|explain|eval IMAGE "
    "(see advtui attack --help)"
)


def ensure_terminal() -> None:
    """Give the explorer a terminal, as curses programs do: when standard input (the keys) or
    standard error (where Textual draws) is not a terminal, use the controlling terminal,
    ``/dev/tty``, for it (``echo | advtui DIR`` reads its keys from the terminal). With no
    controlling terminal (a cron job, ``setsid``, CI) raise a one-line :class:`UsageError`
    that points at the headless commands, instead of drawing to nowhere and waiting for keys
    that never come."""
    import os

    if os.isatty(0) and os.isatty(2):
        return
    try:
        tty = os.open("/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        raise UsageError(NEEDS_TERMINAL) from None
    try:
        for fd in (0, 2):
            if not os.isatty(fd):
                os.dup2(tty, fd)
    finally:
        os.close(tty)
