"""`musicrfm evaluate` (measure a render folder) and `musicrfm detect` (probe-based concept detection over time)."""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicrfm.cli.common import Context, UsageError, load_model, table
from musicrfm.evaluation import parse_chord, pitch_class
from musicrfm.jobs import measure_audio, read_manifest
from musicrfm.models import read_audio

if TYPE_CHECKING:
    from musicrfm.evaluation import ClapScorer

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


@dataclass(frozen=True)
class _Measures:
    """What `evaluate` measures beyond the chroma metrics, and where its plots go."""

    override: list[dict[str, Any]] | None
    clap: ClapScorer | None
    transcribe: bool
    report: Path


def run_evaluate(args: argparse.Namespace, ctx: Context) -> int:
    entries = sorted(read_manifest(args.folder) if args.folder.is_dir() else [], key=lambda e: e.get("index", 0))
    if not entries:
        raise UsageError(f"'{args.folder}' holds no render manifest entries (run `musicrfm render` first)")
    if args.transcribe:
        _check_transcriber()
    clap = None
    if args.clap is not None:
        from musicrfm.evaluation import load_clap

        clap = load_clap(args.clap, device="cpu" if ctx.device == "auto" else ctx.device)
    measures = _Measures(None if args.target is None else [parse_target(args.target)], clap, args.transcribe,
                         args.report or args.folder / "evaluation")
    measures.report.mkdir(parents=True, exist_ok=True)
    rows, plots = [], []
    with ctx.bar("evaluate", total=len(entries)) as progress:
        for entry in entries:
            row, figures = _row(args.folder, entry, measures)
            rows.append(row)
            plots += figures
            progress.update()
    files = _write_report(rows, measures.report) + plots
    columns = [c for c in rows[0] if c not in ("file",)]
    ctx.emit({"rows": rows, "files": files}, table(rows, columns) + f"\nwrote {', '.join(files)}")
    return 0


def _check_transcriber() -> None:
    from musicrfm.evaluation.transcription import check_transcriber

    try:
        check_transcriber()
    except ImportError as error:
        raise UsageError(f"--transcribe: {error}") from None


def _row(folder: Path, entry: dict[str, Any], measures: _Measures) -> tuple[dict[str, Any], list[str]]:
    """The item's table row and the paths of its per-segment plots."""
    audio, rate = read_audio(folder / entry["file"])
    clip = audio.mean(axis=0)
    params = entry.get("params", {})
    strengths = entry.get("strengths") or [None]
    records = measures.override if measures.override is not None else entry.get("targets", [])
    row: dict[str, Any] = {"id": entry["id"], "prompt": params.get("prompt"), "seed": entry.get("seed"),
                           "guidance": params.get("sampling", {}).get("guidance_scale"), "strength": strengths[0],
                           "file": entry["file"]}
    row.update(measure_audio(audio, rate, records))
    if measures.transcribe:
        row.update(_transcribed(clip, rate, records))
    if measures.clap is not None:
        row["clap"] = float(measures.clap.score(clip, rate, params.get("prompt", "")))
    sequences = [r for r in records if r.get("sequence") is not None and r["measure"] in ("note", "chord")]
    return row, [_segment_plot(clip, rate, entry["id"], r, measures.report) for r in sequences]


def _transcribed(clip: np.ndarray, rate: int, records: list[dict[str, Any]]) -> dict[str, float | None]:
    """Transcription measures of every note or chord record, per segment for a sequence."""
    from musicrfm.evaluation import evaluated_spans
    from musicrfm.evaluation.transcription import notes_within, transcribe, transcribed_accuracy
    from musicrfm.schedules import schedule_from_dict

    notes = transcribe(clip, rate)
    out: dict[str, float | None] = {}
    for record in [r for r in records if r["measure"] in ("note", "chord")]:
        label, kind = record["label"], record["measure"]
        if record.get("sequence") is None:
            out[f"{label}.transcribed_{kind}_accuracy"] = _clean(transcribed_accuracy(notes, record["target"], kind))
            continue
        spans = evaluated_spans(schedule_from_dict(record["sequence"]), clip.size / rate)
        for i, (concept, start, end) in enumerate(spans):
            within = notes_within(notes, start, end) if end > start else ()
            out[f"{label}.segment{i}_{concept}_transcribed_accuracy"] = _clean(
                transcribed_accuracy(within, concept, kind))
    return out


def _segment_plot(clip: np.ndarray, rate: int, item: str, record: dict[str, Any], report: Path) -> str:
    """A chromagram of the item with each segment's evaluated span and accuracy; returns its path."""
    from musicrfm.evaluation import chromagram, plot_chromagram, segment_accuracy
    from musicrfm.evaluation.segments import MEASURES
    from musicrfm.schedules import schedule_from_dict

    kind = record["measure"]
    scores = segment_accuracy(clip, rate, schedule_from_dict(record["sequence"]), measure=kind)
    path = report / f"{_slug(item)}_{_slug(record['label'])}_segments.png"
    plot_chromagram(chromagram(clip, rate, kind=MEASURES[kind][1]), scores=scores,
                    title=f"{item}: {record['label']}", path=path)
    return str(path)


def _write_report(rows: list[dict[str, Any]], report: Path) -> list[str]:
    from musicrfm.evaluation import plot_accuracy_vs_strength, save_table

    files = [str(save_table(rows, report / "summary.md")), str(save_table(rows, report / "summary.csv"))]
    strengths = {r["strength"] for r in rows if r["strength"] is not None}
    for metric in [c for c in rows[0] if c.endswith("accuracy")]:
        measured = [r for r in rows if r["strength"] is not None and _finite(r.get(metric))]
        if len(strengths) > 1 and measured:
            path = report / f"{_slug(metric)}_vs_strength.png"
            plot_accuracy_vs_strength(measured, strength="strength", accuracy=metric, path=path)
            files.append(str(path))
    return files


def _slug(text: str) -> str:
    """`text` as a file-name part: runs of anything but letters, digits, '-' and '_' become '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)


def _clean(value: float) -> float | None:
    return value if math.isfinite(value) else None


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

