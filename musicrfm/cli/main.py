"""The `musicrfm` command line: one entry point, one subcommand per task.

The parser (`musicrfm.cli.parsers`) is light; the module that runs a command (and with it torch and
transformers) is imported only once its command line has parsed, so `--help` and `--version` are instant.

>>> build_parser().parse_args(["probe", "list"]).run   # what main imports and calls once parsing is done
'musicrfm.cli.probe_commands:run_probe_list'
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from musicrfm.cli.parsers import DELEGATES, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, build_parser

__all__ = ["build_parser", "main"]


def _split_delegated(argv: list[str], parser: argparse.ArgumentParser) -> tuple[list[str], list[str] | None]:
    """(our arguments, the delegated command's own) when argv names a delegated command, else (argv, None)."""
    choices = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public accessor
    takes_value = {"--device", "--seed", "--probes"}
    i = 0
    while i < len(argv):
        if argv[i] in DELEGATES and argv[i] in choices:
            return argv[: i + 1], argv[i + 1 :]
        if not argv[i].startswith("-"):
            return argv, None  # another command comes first
        i += 2 if argv[i] in takes_value else 1
    return argv, None


def _resolve(target: str) -> Callable:
    """The function a "module:function" string names, importing its module now (the CLI's lazy loading)."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "delegated", False):
        return _resolve(args.run)(list(args.args)) or EXIT_OK
    context = _resolve("musicrfm.cli.common:Context")
    ctx = context(device=args.device, seed=args.seed, quiet=args.quiet, json=args.json, debug=args.debug,
                  probes=args.probes)
    return _resolve(args.run)(args, ctx) or EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 failure, 2 usage/validation error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    ours, passed = _split_delegated(argv, parser)
    args = parser.parse_args(ours)
    if passed is not None:
        args.args = passed
    if args.quiet or args.json:
        _silence_libraries()
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("musicrfm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError) as error:  # the CLI's UsageError is a ValueError
        return _fail(error, EXIT_USAGE, args.debug)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        return _fail(error, EXIT_FAILURE, args.debug)


def _silence_libraries() -> None:
    # transformers' weight-loading bars and config warnings would break "one line on stderr" and --json.
    # transformers reads these when first imported (by the command's module, after this); where it is
    # already loaded (main called from Python), its logging module is told directly.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    loaded = sys.modules.get("transformers.utils.logging")
    if loaded is not None:
        loaded.set_verbosity_error()
        loaded.disable_progress_bar()


def _fail(error: Exception, code: int, debug: bool) -> int:
    if debug:
        raise error
    kind = "" if code == EXIT_USAGE else f"{type(error).__name__}: "
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"musicrfm: error: {kind}{message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
