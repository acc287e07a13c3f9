"""`musicrfm evaluate` (measure a render folder) and `musicrfm detect` (probe-based concept detection over time)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from musicrfm.cli.common import Context, UsageError, load_model, table
from musicrfm.evaluation import parse_chord, pitch_class
from musicrfm.jobs import measure_audio, read_manifest
from musicrfm.models import read_audio

EVALUATE_EPILOG = """examples:
  musicrfm evaluate renders/ramp                    # what each item's terms aimed for (from the manifest)
  musicrfm evaluate renders/grid --target note:C    # one target for every item
  musicrfm evaluate renders/grid --target chord:minor --clap models/clap
Targets: note:<pitch class>, chord:<quality or chord>, tempo, or a bare pitch class / chord name.
Writes summary.md, summary.csv and plots (accuracy vs strength, per-segment accuracy) to --report."""
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


def parse_target(text: str) -> dict[str, Any]:
    """A `--target` value as a measure record."""
    kind, _, value = text.partition(":") if ":" in text else ("", "", text)
    if not kind:
        kind = "tempo" if value == "tempo" else _guess(value)
    if kind == "tempo":
        return {"label": "tempo", "measure": "tempo", "target": None}
    try:
        {"note": pitch_class, "chord": parse_chord}[kind](value)
    except KeyError:
        raise UsageError(f"--target kind must be note, chord or tempo, got {kind!r}") from None
    return {"label": f"{kind}:{value}", "measure": kind, "target": value}


def _guess(value: str) -> str:
    try:
        pitch_class(value)
        return "note"
    except (TypeError, ValueError):
        return "chord"


def run_evaluate(args: argparse.Namespace, ctx: Context) -> int:
    entries = sorted(read_manifest(args.folder) if args.folder.is_dir() else [], key=lambda e: e.get("index", 0))
    if not entries:
        raise UsageError(f"'{args.folder}' holds no render manifest entries (run `musicrfm render` first)")
    override = None if args.target is None else [parse_target(args.target)]
    clap = None
    if args.clap is not None:
        from musicrfm.evaluation import load_clap

        clap = load_clap(args.clap, device="cpu" if ctx.device == "auto" else ctx.device)
    rows = []
    with ctx.bar("evaluate", total=len(entries)) as progress:
        for entry in entries:
            rows.append(_row(args.folder, entry, override, clap))
            progress.update()
    report = args.report or args.folder / "evaluation"
    files = _write_report(rows, report)
    columns = [c for c in rows[0] if c not in ("file",)]
    ctx.emit({"rows": rows, "files": files}, table(rows, columns) + f"\nwrote {', '.join(files)}")
    return 0


def _row(folder: Path, entry: dict[str, Any], override, clap) -> dict[str, Any]:
    audio, rate = read_audio(folder / entry["file"])
    params = entry.get("params", {})
    strengths = entry.get("strengths") or [None]
    row: dict[str, Any] = {"id": entry["id"], "prompt": params.get("prompt"), "seed": entry.get("seed"),
                           "guidance": params.get("sampling", {}).get("guidance_scale"), "strength": strengths[0],
                           "file": entry["file"]}
    row.update(measure_audio(audio, rate, override if override is not None else entry.get("targets", [])))
    if clap is not None:
        row["clap"] = float(clap.score(audio.mean(axis=0), rate, params.get("prompt", "")))
    return row


def _write_report(rows: list[dict[str, Any]], report: Path) -> list[str]:
    from musicrfm.evaluation import plot_accuracy_vs_strength, save_table

    report.mkdir(parents=True, exist_ok=True)
    files = [str(save_table(rows, report / "summary.md")), str(save_table(rows, report / "summary.csv"))]
    strengths = {r["strength"] for r in rows if r["strength"] is not None}
    for metric in [c for c in rows[0] if c.endswith("accuracy")]:
        measured = [r for r in rows if r["strength"] is not None and _finite(r.get(metric))]
        if len(strengths) > 1 and measured:
            path = report / f"{metric.replace(':', '_').replace('.', '_')}_vs_strength.png"
            plot_accuracy_vs_strength(measured, strength="strength", accuracy=metric, path=path)
            files.append(str(path))
    return files


def _finite(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def run_detect(args: argparse.Namespace, ctx: Context) -> int:
    from musicrfm.cli.detect import detect_concept, plot_scores
    from musicrfm.jobs.plans import load_probe

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
        plot_scores(rows, args.plot)
    ctx.emit(rows, table(rows, list(rows[0])))
    return 0

