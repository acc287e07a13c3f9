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

