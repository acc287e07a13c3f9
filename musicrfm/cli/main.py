"""The `musicrfm` command line: one entry point, one subcommand per task.

>>> args = build_parser().parse_args(["render", "jobs.yaml", "--out", "renders", "--shard", "2/4", "--json"])
>>> args.command, args.shard, args.json
('render', '2/4', True)
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from transformers.utils import logging as hf_logging

from musicrfm import __version__
from musicrfm.cli import evaluate_commands, probe_commands, render_commands
from musicrfm.cli.common import Context, UsageError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EPILOG = """\
examples:
  musicrfm dataset make notes --out data/notes --n-per-class 20
  musicrfm probe train --model toy --dataset data/notes --name notes
  musicrfm probe list
  musicrfm generate "calm piano" --model toy --probe notes --target C --strength 0.6 --out c.wav
  musicrfm render schedules/ramp_in.yaml --out renders/ramp
  musicrfm render jobs.yaml --out renders/grid --shard 2/4        # the second of four processes
  musicrfm evaluate renders/ramp
  musicrfm detect song.wav --probe notes --target C --model toy

Models: "toy" (the embedded offline model), a hub id such as facebook/musicgen-small, or a local folder.
Probes live in a library folder: --probes DIR, else $MUSICRFM_PROBES, else ~/.local/share/musicrfm/probes.

exit codes: 0 ok, 1 runtime failure, 2 usage or validation error, 130 interrupted.
"""
# Commands owned by other parts of musicrfm; offered only where their module is installed.
DELEGATES = {
    "demo": ("musicrfm.toy.demo", "main", "offline end-to-end demo on the toy model (trains, steers, measures)"),
    "app": ("musicrfm.app.launch", "main", "the Gradio app: steered generation, probe training, the AGOP lab"),
}


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"musicrfm: error: {message} (see '{self.prog} --help')\n")


def _globals(parser: argparse.ArgumentParser, suppress: bool) -> None:
    # On subcommands the defaults are suppressed so `musicrfm --json probe list` and
    # `musicrfm probe list --json` both work without the later one resetting the earlier.
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    group = parser.add_argument_group("global options")
    group.add_argument("--device", default=default("auto"), help="cpu, cuda, cuda:1, mps or auto (default)")
    group.add_argument("--seed", type=int, default=default(None), help="random seed (overrides a job's seeds)")
    group.add_argument("--probes", type=Path, default=default(None), metavar="DIR", help="probe library folder")
    group.add_argument("--quiet", action="store_true", default=default(False), help="no progress bars or notes")
    group.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    group.add_argument("--debug", action="store_true", default=default(False), help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand registered."""
    parser = _Parser(prog="musicrfm", description="Steer MusicGen with RFM concept directions.", epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"musicrfm {__version__}")
    _globals(parser, suppress=False)
    common = _Parser(add_help=False)
    _globals(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for module in (probe_commands, render_commands, evaluate_commands):
        module.register(commands, common)
    for name, (module, function, summary) in DELEGATES.items():
        if _installed(module):
            sub = commands.add_parser(name, help=summary, description=f"{summary}; every option after '{name}' "
                                      f"goes to {module}.{function} ('musicrfm {name} --help' shows them)")
            sub.set_defaults(run=_delegate(module, function), args=[])
    return parser


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


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _delegate(module: str, function: str):
    def run(args: argparse.Namespace, ctx: Context) -> int:
        return getattr(importlib.import_module(module), function)(list(args.args)) or EXIT_OK
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 failure, 2 usage/validation error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    ours, passed = _split_delegated(argv, parser)
    args = parser.parse_args(ours)
    if passed is not None:
        args.args = passed
    ctx = Context(device=args.device, seed=args.seed, quiet=args.quiet, json=args.json, debug=args.debug,
                  probes=args.probes)
    if ctx.quiet or ctx.json:
        _silence_libraries()
    try:
        return args.run(args, ctx) or EXIT_OK
    except KeyboardInterrupt:
        print("musicrfm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ValueError, TypeError) as error:
        return _fail(error, EXIT_USAGE, ctx)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        return _fail(error, EXIT_FAILURE, ctx)


def _silence_libraries() -> None:
    # transformers' weight-loading bars and config warnings would break "one line on stderr" and --json.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _fail(error: Exception, code: int, ctx: Context) -> int:
    if ctx.debug:
        raise error
    kind = "" if code == EXIT_USAGE else f"{type(error).__name__}: "
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"musicrfm: error: {kind}{message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
