"""`musicrfm evaluate` (measure a render folder) and `musicrfm detect` (probe-based concept detection over time)."""

from __future__ import annotations

import argparse
from pathlib import Path

from musicrfm.cli.common import Context, UsageError, load_model, table
from musicrfm.evaluation import plot_scores_over_time
from musicrfm.evaluation.clap import load_clap
from musicrfm.evaluation.transcription import check_transcriber
from musicrfm.jobs.evaluate import evaluate_render, parse_target
from musicrfm.jobs.plans import load_probe
from musicrfm.models import read_audio
from musicrfm.probes.detect import detect_concept

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


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `evaluate` and `detect`."""
    raw = argparse.RawDescriptionHelpFormatter
    ev = commands.add_parser("evaluate", help="measure a render folder against its steering targets",
                             parents=[common], epilog=EVALUATE_EPILOG, formatter_class=raw)
    ev.add_argument("folder", type=Path, help="a folder written by `musicrfm render`")
    ev.add_argument("--target", help="measure this target instead of each item's own")
    ev.add_argument("--clap", type=Path, metavar="FOLDER", help="local CLAP model: also score text adherence")
    ev.add_argument("--transcribe", action="store_true", help="also score basic-pitch transcriptions of the audio")
    ev.add_argument("--report", type=Path, help="where tables and plots go (default FOLDER/evaluation)")
    ev.set_defaults(run=run_evaluate)
    det = commands.add_parser("detect", help="score a probe's concept over time in any audio file", parents=[common],
                              epilog=DETECT_EPILOG, formatter_class=raw)
    det.add_argument("audio", type=Path, help=".wav or .flac file")
    det.add_argument("--probe", required=True, help="library name or bundle folder")
    det.add_argument("--target", help="one class of a multiclass probe (default: all classes)")
    det.add_argument("--model", default="toy", help="the model the probe was trained on (default toy)")
    det.add_argument("--window", type=float, default=2.0, help="window length in seconds (default 2)")
    det.add_argument("--hop", type=float, default=1.0, help="hop between windows in seconds (default 1)")
    det.add_argument("--plot", type=Path, help="also plot the scores over time (.png, .svg or .pdf)")
    det.set_defaults(run=run_detect)


def run_evaluate(args: argparse.Namespace, ctx: Context) -> int:
    if args.target is not None:
        try:
            parse_target(args.target)
        except ValueError as error:
            raise UsageError(f"--target: {error}") from None
    if args.transcribe:
        try:
            check_transcriber()
        except ImportError as error:
            raise UsageError(f"--transcribe: {error}") from None
    clap = None if args.clap is None else load_clap(args.clap, device="cpu" if ctx.device == "auto" else ctx.device)
    with ctx.bar("evaluate") as progress:
        result = evaluate_render(args.folder, target=args.target, clap=clap, transcribe_notes=args.transcribe,
                                 report=args.report, progress=ctx.counter(progress))
    columns = [c for c in result.rows[0] if c != "file"]
    ctx.emit({"rows": result.rows, "files": result.files},
             table(result.rows, columns) + f"\nwrote {', '.join(result.files)}")
    return 0


def run_detect(args: argparse.Namespace, ctx: Context) -> int:
    if not (args.window > 0 and args.hop > 0):
        raise UsageError(f"--window and --hop must be > 0, got {args.window} and {args.hop}")
    probe = load_probe(args.probe, Path.cwd(), ctx.library()).probe
    model = load_model(args.model, ctx)
    probe.check_model(model)
    audio, _ = read_audio(args.audio, sample_rate=model.sample_rate, channels=model.audio_channels)
    with ctx.bar("detect", unit="window") as progress:
        rows = detect_concept(model, probe, audio, window_s=args.window, hop_s=args.hop, target=args.target,
                              progress=ctx.counter(progress))
    if args.plot is not None:
        plot_scores_over_time(rows, args.plot)
    ctx.emit(rows, table(rows, list(rows[0])))
    return 0

