"""`advtui eval` — argument parsing and entry (the experiment lives in advtui.eval.loop, the
terminal display in advtui.cli.eval_display)."""

from __future__ import annotations

import argparse
import sys

from advtui.cli import common
from advtui.cli.common import (
    _attack_arg_flag,
    _attack_args,
    _common_model_args,
    _explain_args,
    explain_fields,
)
from advtui.cli.eval_display import LiveProgress, Progress, note_line, print_results
from advtui.registry import DEFAULT_DETECTORS, DETECTORS, TARGET_MODES, detector_attack

EVAL_HELP = """\
Reproduce "Explaining Away Attacks Against Neural Networks" (Saito & Wang): attack every image,
explain the clean and adversarial top class with SHAP, and test whether a classifier on the
sorted SHAP values tells them apart — against a confidence-only baseline.

Writes DIR/results.jsonl (one row per image × variant), features.npz, summary.json,
detector.json (for `advtui FOLDER --detector DIR`), histogram.png and roc.png.

examples:
  advtui eval samples --out eval-out --views 4 --targets untargeted,runner-up --nsamples 16
  advtui eval samples --out sweep --eps-sweep 1/255,2/255,4/255,8/255 --early-stop
  advtui eval /data/imagenet/val --out val --n 1000 --batch-size 32 --device cuda
  advtui eval samples --out seed --protocol seed --steps 20
  advtui eval /data/imagenet/val --out val --engine ray --batch-size 64     # one worker per GPU
  advtui eval /shared/val --out /shared/run --engine ray --address HEAD:6379 --resume

Progress (rows, images/min, ETA, workers) is also in DIR/progress.json for a second terminal.
"""


def add_parser(sub) -> None:
    """Add ``advtui eval`` to the subcommands."""
    p = sub.add_parser(
        "eval",
        help="reproduce the paper's SHAP-evidence detection experiment",
        description=EVAL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "folder", help="folder of images (flat, or ImageNet-style n01440764/ class folders)"
    )
    p.add_argument(
        "--out", required=True, help="results folder (created; --resume to continue one)"
    )
    _attack_args(p, targets=False, early_stop=True)
    _attack_arg_flag(p, note="; eps, alpha, steps and seed come from their own flags")
    p.add_argument(
        "--eps-sweep",
        help="comma-separated ε values to sweep, e.g. 1/255,2/255,4/255,8/255 (--eps picks the main one)",
    )
    p.add_argument(
        "--targets",
        default="untargeted",
        help=f"comma-separated target modes: {','.join(TARGET_MODES)} (default untargeted; see "
        "`advtui attacks`)",
    )
    _explain_args(p)
    p.add_argument("--n", help="use only the first N photos")
    p.add_argument(
        "--views",
        default=1,
        help="crops/scales per photo, 1–8 (full, c80, tl70, br70, flip, tr70, bl70, c60; default 1)",
    )
    p.add_argument("--batch-size", default=8, help="images per attack batch (default 8)")
    p.add_argument(
        "--protocol",
        default="corrected",
        choices=("corrected", "seed"),
        help="corrected (default) or seed: the original repository's BIM, layer SHAP, 90/10 split",
    )
    p.add_argument(
        "--labels",
        help="true classes: CSV (name,class), JSON {name: class}, LOC_val_solution.csv or one "
        "WordNet id a line (ILSVRC2012_val_* order); classes exactly (index, name or WordNet "
        "id); keeps correct ones",
    )
    p.add_argument(
        "--folds",
        default=5,
        help="cross-validation folds (default 5; warns when too few photos support them)",
    )
    p.add_argument(
        "--detectors",
        type=_detectors,
        default=",".join(DEFAULT_DETECTORS),
        metavar="LIST",
        help=f"comma-separated detectors to compare on the same rows and folds: "
        f"{','.join(DETECTORS)} (default {','.join(DEFAULT_DETECTORS)}; see `advtui attacks`)",
    )
    p.add_argument(
        "--adaptive",
        action="store_true",
        help=f"then attack every photo again with --method {detector_attack()} against the SHAP-LR "
        "detector of its fold, and report each detector before/after",
    )
    p.add_argument(
        "--adaptive-weight",
        type=float,
        default=1.0,
        metavar="λ",
        help="weight of the detector's logit in the adaptive loss (default 1)",
    )
    p.add_argument(
        "--eot", type=int, default=1, help="fresh SHAP draws per adaptive step (default 1)"
    )
    p.add_argument(
        "--transfer-to",
        metavar="MODEL",
        help="also classify every adversarial image with MODEL (e.g. efficientnet-lite2) and "
        "report the transfer success rate",
    )
    p.add_argument(
        "--bootstrap",
        default=1000,
        metavar="N",
        help="resamples of the photos for the 95 %% intervals of every detection figure "
        "(default 1000, seeded by --seed; 0 = none). Not a row parameter: a --resume may change it",
    )
    p.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    p.add_argument(
        "--engine",
        default="inprocess",
        choices=("inprocess", "ray"),
        help='inprocess (default) or ray: a pool of Ray actors (pip install "advtui[ray]")',
    )
    p.add_argument(
        "--workers",
        help="--engine ray: actors, one model each (default: one per GPU, else one per CPU)",
    )
    p.add_argument(
        "--gpus-per-worker",
        type=float,
        help="--engine ray: GPUs per actor (default 1 when the cluster has GPUs, else 0)",
    )
    p.add_argument(
        "--address",
        help="--engine ray: an existing cluster (ray://HOST:10001 or HOST:6379; default a local Ray)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip histogram.png and roc.png")
    _common_model_args(p)
    # protocol-dependent defaults: None means "the protocol decides"; the parser itself, so
    # that a Ctrl-C can print the command that continues the run (resume_command)
    p.set_defaults(method=None, nsamples=None, local_smoothing=None, eval_parser=p)


def _detectors(text: str) -> str:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in DETECTORS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown detector {bad[0] if bad else text!r}; choose from {','.join(DETECTORS)}"
        )
    return ",".join(dict.fromkeys(names))


def resume_command(args: argparse.Namespace) -> str:
    """The shell-quoted ``advtui eval … --resume`` that continues the run ``args`` started:
    the folder and every flag given a non-default value (from the eval parser's own options,
    so a flag added later is not forgotten)."""
    parser = getattr(args, "eval_parser", None)
    words = ["advtui", "eval", str(args.folder)]
    for action in parser.options if parser is not None else ():
        if not action.option_strings or action.dest in ("help", "folder", "resume", "debug"):
            continue
        value = getattr(args, action.dest, None)
        if value is None or value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0 and action.const is True:  # a store_true flag
            words.append(flag)
            continue
        if isinstance(value, list) and all(isinstance(v, tuple) for v in value):
            for pair in value:  # a repeated KEY=VALUE flag (--attack-arg): once per pair
                words += [flag, "=".join(map(str, pair))]
            continue
        text = ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
        words += [f"{flag}={text}"] if text.startswith("-") else [flag, text]
    if parser is None:  # not parsed by add_parser's parser: the folder and --out at least
        words += ["--out", str(args.out)]
    return " ".join(shell_word(w) for w in [*words, "--resume"])


def shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell, as :func:`shlex.quote` does, except that a word with
    control characters or undecodable bytes becomes bash's ``$'…'`` with them escaped: the
    command can be pasted back, and printing it never sends an escape sequence."""
    import shlex

    from advtui.names import safe_name

    if safe_name(word) == word:
        return shlex.quote(word)
    out = []
    for ch in word:
        if ch in "\\'":
            out.append("\\" + ch)
        else:
            out.append(safe_name(ch))
    return "$'" + "".join(out) + "'"


def config_from_args(args: argparse.Namespace):
    from advtui.eval.config import EvalConfig

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    eps = (
        [e.strip() for e in args.eps_sweep.split(",") if e.strip()]
        if args.eps_sweep
        else [args.eps]
    )
    primary: float | str | None
    if args.eps_sweep and args.eps not in eps:
        from advtui.attacks import parse_fraction

        primary = parse_fraction(args.eps, "eps")
        if all(abs(parse_fraction(e, "eps") - primary) > 1e-9 for e in eps):
            primary = None  # the default --eps is not in the sweep: use the strongest
    else:
        primary = args.eps
    return EvalConfig(
        folder=args.folder,
        out=args.out,
        method=args.method,
        attack_args=tuple(getattr(args, "attack_arg", None) or ()),
        eps=eps,
        primary_eps=primary,
        alpha=args.alpha,
        steps=args.steps,
        early_stop=args.early_stop,
        targets=targets,
        **explain_fields(args),
        n=args.n,
        views=args.views,
        batch_size=args.batch_size,
        seed=args.seed,
        protocol=args.protocol,
        labels=args.labels,
        resume=args.resume,
        folds=args.folds,
        plots=not args.no_plots,
        detectors=args.detectors.split(","),
        adaptive=args.adaptive,
        adaptive_weight=args.adaptive_weight,
        eot=args.eot,
        transfer_to=args.transfer_to,
        bootstrap=args.bootstrap,
    )


def _engine(args: argparse.Namespace):
    """The engine ``--engine`` names, checked before any model is loaded (None: in-process)."""
    if args.engine != "ray":
        for flag in ("workers", "gpus_per_worker", "address"):
            if getattr(args, flag, None) is not None:
                from advtui.eval.dataset import EvalError

                raise EvalError(f"--{flag.replace('_', '-')} needs --engine ray")
        return None
    import functools

    from advtui.eval.ray_engine import RayEngine
    from advtui.models import load_model

    engine = RayEngine(
        functools.partial(
            load_model,
            args.model,
            weights=args.weights,
            device=args.device,
            input_size=args.input_size,
            mean=args.mean,
            std=args.std,
        ),
        workers=args.workers,
        gpus_per_worker=args.gpus_per_worker,
        threads=args.threads,
        address=args.address,
        device=args.device,
    )
    engine.check()
    return engine


def stored_threads(out: str) -> int | None:
    """The torch thread count a stored in-process run used (``run.json``), or None."""
    import json
    from pathlib import Path

    from advtui.eval.store import RUN_JSON

    try:
        value = json.loads((Path(out) / RUN_JSON).read_text(encoding="utf-8")).get("threads")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def run(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from advtui.eval.lock import holding

    cfg = config_from_args(args)
    with contextlib.ExitStack() as held:
        if Path(args.out).is_dir():  # a run already there is named before any other problem
            held.enter_context(holding(args.out))
        cfg.precheck()  # fail fast on bad flags and folders, before loading the model
        held.enter_context(holding(args.out))  # one writer per folder, before any engine
        return _run(args, cfg)


def _run(args: argparse.Namespace, cfg) -> int:
    from advtui.eval.loop import run_eval

    engine = _engine(args)
    if engine is None and args.resume and args.threads is None:
        stored = stored_threads(args.out)
        if stored is not None:  # PGD's rows depend on the thread count: keep the run's
            from advtui import threads

            threads.configure(stored)
    if engine is not None and cfg.adaptive:
        from advtui.eval.dataset import EvalError
        from advtui.eval.loop import ADAPTIVE_NOT_ON_RAY

        raise EvalError(ADAPTIVE_NOT_ON_RAY)
    if engine is not None:  # the driver only checks and plans: its copy stays on the CPU
        args_cpu = argparse.Namespace(**(vars(args) | {"device": "cpu"}))
        model = common.load_model_from_args(args_cpu)
    else:
        model = common.load_model_from_args(args)
    transfer = None
    if args.transfer_to:
        from advtui.models import load_model

        transfer = load_model(args.transfer_to, device=model.device)
    progress = LiveProgress(sys.stderr) if sys.stderr.isatty() else Progress(sys.stderr)
    try:
        result = run_eval(
            cfg,
            model,
            progress=progress,
            note=note_line(progress),
            engine=engine,
            status=progress.status,
            transfer_model=transfer,
        )
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP (advtui.signals)
        progress.end_line()  # not glued to the progress line (nor to the terminal's ^C)
        sys.stderr.write(
            f"stored rows are kept; continue with: {resume_command(args)}\n"
        )  # plain write: never wrapped or styled, so it can be copied whole
        sys.stderr.flush()
        raise
    finally:
        progress.end_line()
    print_results(result, args.out)
    return 0
