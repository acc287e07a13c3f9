"""The `musicrfm` command line's parser: every subcommand, its options and examples, and nothing heavy.

Each subcommand names the function that runs it as "module:function"; `musicrfm.cli.main` imports that
module only once the command line has parsed, so `--help` and `--version` answer without loading torch.

>>> args = build_parser().parse_args(["render", "jobs.yaml", "--out", "renders", "--shard", "2/4", "--json"])
>>> args.command, args.shard, args.json, args.run
('render', '2/4', True, 'musicrfm.cli.render_commands:run_render')
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from musicrfm import __version__
from musicrfm.data.concepts import CONCEPTS

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
# Commands owned by other parts of musicrfm, with the optional package each needs (from an extra); offered
# only where that package is installed. Looking up a top-level package imports nothing.
DELEGATES = {
    "demo": ("musicrfm.toy.demo", "main", "offline end-to-end demo on the toy model (trains, steers, measures)",
             "matplotlib"),
    "app": ("musicrfm.app.launch", "main", "the Gradio app: steered generation, probe training, the AGOP lab",
            "gradio"),
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
    for register in (_register_probe, _register_render, _register_evaluate):
        register(commands, common)
    for name, (module, function, summary, requirement) in DELEGATES.items():
        if importlib.util.find_spec(requirement) is not None:
            sub = commands.add_parser(name, help=summary, description=f"{summary}; every option after '{name}' "
                                      f"goes to {module}.{function} ('musicrfm {name} --help' shows them)")
            sub.set_defaults(run=f"{module}:{function}", delegated=True, args=[])
    return parser


DATASET_EPILOG = """examples:
  musicrfm dataset make notes --out data/notes --n-per-class 20
  musicrfm dataset make chords --out data/chords --classes major,minor --backend numpy
concepts: """ + ", ".join(CONCEPTS)
TRAIN_EPILOG = """examples:
  musicrfm probe train --model toy --dataset data/notes --name notes              # multiclass: one direction per note
  musicrfm probe train --model toy --dataset data/notes --target C --name note_C   # binary: C vs the rest
  musicrfm probe train --model facebook/musicgen-small --dataset tempo --n-per-class 30 --name tempo
--dataset is a folder written by `musicrfm dataset make`, or a concept name (rendered on the fly)."""


def _register_probe(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the dataset and probe commands."""
    raw = argparse.RawDescriptionHelpFormatter
    dataset = commands.add_parser("dataset", help="concept datasets", parents=[common]).add_subparsers(
        dest="action", metavar="ACTION", required=True)
    make = dataset.add_parser("make", help="render a SynTheory-style concept dataset to a folder", parents=[common],
                              epilog=DATASET_EPILOG, formatter_class=raw)
    make.add_argument("concept", help="concept name")
    make.add_argument("--out", type=Path, required=True, help="new folder for the dataset")
    _dataset_options(make)
    make.set_defaults(run="musicrfm.cli.probe_commands:run_dataset_make")

    probe = commands.add_parser("probe", help="train and inspect concept probes", parents=[common]).add_subparsers(
        dest="action", metavar="ACTION", required=True)
    train = probe.add_parser("train", help="train an RFM probe and save it to the library", parents=[common],
                             epilog=TRAIN_EPILOG, formatter_class=raw)
    train.add_argument("--model", default="toy", help="toy (default), a hub id or a local folder")
    train.add_argument("--dataset", required=True, help="dataset folder or concept name")
    train.add_argument("--name", help="library name (default: the concept, or concept_target)")
    train.add_argument("--target", help="positive class for a binary probe (default: multiclass)")
    train.add_argument("--layers", default="all", help="all (default) or a comma list of layer indices")
    train.add_argument("--k", type=int, default=3, help="directions per layer (default 3)")
    train.add_argument("--configs", type=int, default=100, help="random-search configurations (default 100)")
    train.add_argument("--iters", type=int, default=30, help="RFM iterations at most (default 30)")
    _dataset_options(train)
    train.set_defaults(run="musicrfm.cli.probe_commands:run_probe_train")
    probe.add_parser("list", help="list the probes in the library", parents=[common]).set_defaults(run="musicrfm.cli.probe_commands:run_probe_list")
    show = probe.add_parser("show", help="show one probe's metadata and per-layer scores", parents=[common])
    show.add_argument("name", help="library name or bundle folder")
    show.set_defaults(run="musicrfm.cli.probe_commands:run_probe_show")


def _dataset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-per-class", type=int, default=20, help="clips per class (default 20)")
    parser.add_argument("--classes", help="comma list restricting the concept's classes")
    parser.add_argument("--duration", type=float, help="clip length in seconds (default: the concept's)")
    parser.add_argument("--sample-rate", type=int, default=32000, help="Hz (default 32000)")
    parser.add_argument("--backend", default="auto", choices=("auto", "fluidsynth", "numpy"), help="renderer")


GENERATE_EPILOG = """examples:
  musicrfm generate "calm piano" --model toy --out plain.wav
  musicrfm generate "calm piano" --model toy --probe notes --target C --strength 0.6 --out c.wav
  musicrfm generate "lofi beat" --probe tempo --strength -0.3 --layers top_k:8 --out slow.wav \
      --schedule "{kind: sine, frequency: 0.25, offset: 0.5, amplitude: 0.5}"
--schedule takes a schedule file or inline YAML such as "{kind: linear_ramp, start: 0, end: 4}"
(see schedules/README.md). Several concepts at once, grids and sequences: use a job file with `render`."""
RENDER_EPILOG = """examples:
  musicrfm render schedules/ramp_in.yaml --out renders/ramp
  musicrfm render jobs.yaml --out renders/grid --dry-run           # validate and list the items only
  musicrfm render jobs.yaml --out renders/grid --shard 1/2 &        # two processes, one folder
  musicrfm render jobs.yaml --out renders/grid --shard 2/2
Rerunning the same command resumes: items with a manifest line and an audio file are skipped. Killing a
render never leaves a truncated file. On the toy model, probes named notes, chords or tempo that the library
lacks are trained once (cached) on first use. The job format is described in schedules/README.md ("Job files")."""


def _register_render(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `generate` and `render`."""
    raw = argparse.RawDescriptionHelpFormatter
    gen = commands.add_parser("generate", help="generate one clip, optionally steered by one probe", parents=[common],
                              epilog=GENERATE_EPILOG, formatter_class=raw)
    gen.add_argument("prompt", help="text prompt ('' for none)")
    gen.add_argument("--out", type=Path, required=True, help="output .wav or .flac file")
    gen.add_argument("--model", default="toy", help="toy (default), a hub id or a local folder")
    gen.add_argument("--duration", type=float, default=4.0, help="seconds (default 4)")
    gen.add_argument("--top-k", type=int, default=250, help="top-k sampling (default 250)")
    gen.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    gen.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale (default 3)")
    steer = gen.add_argument_group("steering (optional)")
    steer.add_argument("--probe", help="library name or bundle folder")
    steer.add_argument("--target", help="class of a multiclass probe (e.g. C)")
    steer.add_argument("--strength", type=float, default=0.5, help="injection strength (default 0.5)")
    steer.add_argument("--layers", default="all", help="all, exponential, top_k:K or a comma list of layers")
    steer.add_argument("--schedule", help="schedule file or inline YAML (default: constant 1)")
    steer.add_argument("--gate-p", type=float, default=1.0, help="per-step injection probability (default 1)")
    steer.add_argument("--cfg-target", default="both", choices=("both", "cond", "uncond"), help="CFG rows to steer")
    gen.set_defaults(run="musicrfm.cli.render_commands:run_generate")

    render = commands.add_parser("render", help="render a job file (grid, schedules) resumably", parents=[common],
                                 epilog=RENDER_EPILOG, formatter_class=raw)
    render.add_argument("job", type=Path, help="job file (.yaml, .yml or .json)")
    render.add_argument("--out", type=Path, required=True, help="output folder (audio/ and manifest*.jsonl)")
    render.add_argument("--model", help="override the job's model")
    render.add_argument("--shard", default="1/1", help="render only shard i of n, e.g. 2/4 (default 1/1)")
    render.add_argument("--dry-run", action="store_true", help="validate and list the items without rendering")
    render.set_defaults(run="musicrfm.cli.render_commands:run_render")


EVALUATE_EPILOG = """examples:
  musicrfm evaluate renders/ramp                    # what each item's terms aimed for (from the manifest)
  musicrfm evaluate renders/grid --target note:C    # one target for every item
  musicrfm evaluate renders/grid --target chord:minor --clap models/clap
  musicrfm evaluate renders/ceg --transcribe        # add basic-pitch transcription measures
Targets: note:<pitch class>, chord:<quality or chord>, tempo, or a bare pitch class / chord name.
Writes summary.md, summary.csv and plots to --report: accuracy vs strength, and for every item whose term
follows a concept sequence, a chromagram with the segments' spans and their accuracy (<id>_<label>_segments.png).
--transcribe needs basic-pitch (ONNX); it adds the transcribed notes' share at the target note, or whether
their prominent pitch classes form the target chord, per item or per segment."""
DETECT_EPILOG = """examples:
  musicrfm detect song.wav --probe notes --model toy                 # every class of a multiclass probe
  musicrfm detect song.wav --probe note_C --window 2 --hop 0.5 --plot c.png
Each window is encoded with the model's codec, its residual stream is captured at the probe's layers and
pooled as in training, and projected on the probe's directions; the score is the mean over layers weighted
by the probe's validation scores. Compare scores over time or between classes, not with a fixed threshold."""


def _register_evaluate(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `evaluate` and `detect`."""
    raw = argparse.RawDescriptionHelpFormatter
    ev = commands.add_parser("evaluate", help="measure a render folder against its steering targets",
                             parents=[common], epilog=EVALUATE_EPILOG, formatter_class=raw)
    ev.add_argument("folder", type=Path, help="a folder written by `musicrfm render`")
    ev.add_argument("--target", help="measure this target instead of each item's own")
    ev.add_argument("--clap", type=Path, metavar="FOLDER", help="local CLAP model: also score text adherence")
    ev.add_argument("--transcribe", action="store_true", help="also score basic-pitch transcriptions of the audio")
    ev.add_argument("--report", type=Path, help="where tables and plots go (default FOLDER/evaluation)")
    ev.set_defaults(run="musicrfm.cli.evaluate_commands:run_evaluate")
    det = commands.add_parser("detect", help="score a probe's concept over time in any audio file", parents=[common],
                              epilog=DETECT_EPILOG, formatter_class=raw)
    det.add_argument("audio", type=Path, help=".wav or .flac file")
    det.add_argument("--probe", required=True, help="library name or bundle folder")
    det.add_argument("--target", help="one class of a multiclass probe (default: all classes)")
    det.add_argument("--model", default="toy", help="the model the probe was trained on (default toy)")
    det.add_argument("--window", type=float, default=2.0, help="window length in seconds (default 2)")
    det.add_argument("--hop", type=float, default=1.0, help="hop between windows in seconds (default 1)")
    det.add_argument("--plot", type=Path, help="also plot the scores over time (.png, .svg or .pdf)")
    det.set_defaults(run="musicrfm.cli.evaluate_commands:run_detect")
