"""The ``advtui`` command: the terminal explorer and the headless subcommands.

``advtui [FOLDER]`` opens the explorer (:mod:`advtui.cli.tui`); ``advtui
predict|attack|explain|eval|models|attacks`` run the same pipeline headless, one module per
subcommand, each with ``add_parser(sub)`` and ``run(args)``; :mod:`advtui.cli.common` holds what
they share. Torch is imported lazily so that the explorer's first frame is fast. Bad usage or
input exits 2 with one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from advtui import threads
from advtui.cli import attack, attacks, explain, models, predict
from advtui.cli import eval as eval_command
from advtui.cli.common import (
    SUBCOMMANDS,
    UsageError,
    _check_model_name,
    _os_error,
    _Parser,
    _say,
    check_args,
)
from advtui.cli.tui import build_app, check_sources, ensure_terminal, tui_parser

COMMANDS = {
    "predict": predict,
    "attack": attack,
    "explain": explain,
    "eval": eval_command,
    "models": models,
    "attacks": attacks,
}

__all__ = ["COMMANDS", "UsageError", "build_app", "console", "main", "sub_parser", "tui_parser"]


def sub_parser() -> argparse.ArgumentParser:
    """The headless commands' parser: each command module adds its own sub-parser."""
    p = _Parser(prog="advtui", description="advtui headless commands")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in SUBCOMMANDS:
        COMMANDS[name].add_parser(sub)
    return p


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
        args = check_args(sub_parser().parse_args(argv))
        from advtui import signals

        threads.configure(getattr(args, "threads", None))
        with signals.installed():  # SIGTERM and SIGHUP stop a run as Ctrl-C does (143, 129)
            return COMMANDS[args.command].run(args)
    app = build_app(argv)
    check_sources(app.config, argv)
    _check_model_name(app.config.model)
    ensure_terminal()  # keys from /dev/tty when stdin is not a terminal; none: one line
    app.run()
    return int(app.return_code or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 ok, 1 internal error, 2 bad usage/input, 130 ^C,
    143 SIGTERM, 129 SIGHUP)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("ADVTUI_DEBUG") == "1"
    try:
        return _dispatch(argv)
    except UsageError as exc:
        _say(str(exc))
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (advtui.signals)
        from advtui.signals import exit_code, signal_name

        name = signal_name(exc)
        saved = getattr(exc, "saved", None)  # a set of files finished before it stopped
        if saved:
            from advtui.names import safe_name

            _say(f"advtui: wrote {safe_name(saved)}/ whole before stopping")
        _say("advtui: interrupted" + ("" if name == "Ctrl-C" else f" ({name})"))
        return exit_code(exc)
    except BrokenPipeError:  # `advtui … | head`: the reader has all it wanted
        _quiet_stdout()
        return 141  # what a shell reports for a writer ended by SIGPIPE
    except SystemExit as exc:  # argparse --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except BaseException as exc:  # noqa: BLE001 - the user never sees a traceback unless asked
        from advtui.errors import AdvtuiError

        if debug:
            raise
        if isinstance(exc, AdvtuiError):
            _say(f"advtui: error: {exc}")
            return 2
        msg = " ".join(str(exc).split())[:300]
        if isinstance(exc, MemoryError) or "out of memory" in msg.lower():
            _say(
                "advtui: error: out of memory (try fewer --nsamples, a smaller --batch-size or --device cpu)"
            )
            return 2
        if isinstance(exc, OSError):
            _say(f"advtui: error: {_os_error(exc) or msg or type(exc).__name__}")
            return 2
        _say(
            f"advtui: internal error: {type(exc).__name__}: {msg} (run with --debug for the traceback)"
        )
        return 1


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: its buffer, flushed again at exit, must not fail twice."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (a test's capture)
        pass


def console() -> None:
    """The ``advtui`` script and ``python -m advtui``: :func:`main`, then a quick exit.

    Tearing down an interpreter that has loaded torch, shap and sklearn takes 1–2 s of module
    finalisers after the work is done (it made ``q`` in the explorer take 2–3 s, and every
    command 1–2 s longer). By the time main() returns every output is written and closed
    (atomic files, ``with`` blocks; Ray shut down by its engine) and, for the explorer,
    ``App.run`` has waited for its worker threads (a save in progress finishes). So once
    stdout and stderr are flushed, the process ends with ``os._exit``. In-process callers
    of main() (tests, embedding programs) are unaffected.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader left before the last lines: as in main()
            code = code or 141
        except (OSError, ValueError):  # a closed or broken stream: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
