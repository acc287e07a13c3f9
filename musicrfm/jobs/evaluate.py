"""Evaluate a render folder: every manifest item measured against what its steering aimed for.

`evaluate_render(folder)` reads the folder's manifest, measures each item's audio (chroma note / chord
accuracy, per-segment accuracy for a concept sequence, tempo; optionally basic-pitch transcription and
CLAP text adherence) and writes `summary.md`, `summary.csv` and plots (accuracy vs strength, one chromagram
with segment spans per sequence item) to the report folder. `musicrfm evaluate` is a shell over it.

>>> parse_target("note:C"), parse_target("minor")["measure"], parse_target("tempo")["measure"]
({'label': 'note:C', 'measure': 'note', 'target': 'C'}, 'chord', 'tempo')
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicrfm.evaluation import (
    chromagram,
    evaluated_spans,
    parse_chord,
    pitch_class,
    plot_accuracy_vs_strength,
    plot_chromagram,
    save_table,
    segment_accuracy,
)
from musicrfm.evaluation.segments import MEASURES
from musicrfm.evaluation.transcription import notes_within, transcribe, transcribed_accuracy
from musicrfm.jobs.manifest import read_manifest
from musicrfm.jobs.metrics import finite_or_none, measure_audio
from musicrfm.models import read_audio
from musicrfm.schedules import schedule_from_dict

if TYPE_CHECKING:
    from musicrfm.evaluation.clap import ClapScorer


@dataclass(frozen=True)
class RenderEvaluation:
    """One row of measures per item (manifest order) and the report files written."""

    rows: list[dict[str, Any]]
    files: list[str] = field(default_factory=list)


def parse_target(text: str) -> dict[str, Any]:
    """A target written as `note:<pitch class>`, `chord:<quality or chord>`, `tempo`, or a bare pitch class
    or chord name, as a measure record; a ValueError names what is wrong."""
    kind, _, value = text.partition(":") if ":" in text else ("", "", text)
    if not kind:
        kind = "tempo" if value == "tempo" else _guess(value)
    if kind == "tempo":
        return {"label": "tempo", "measure": "tempo", "target": None}
    try:
        {"note": pitch_class, "chord": parse_chord}[kind](value)
    except KeyError:
        raise ValueError(f"target kind must be note, chord or tempo, got {kind!r}") from None
    return {"label": f"{kind}:{value}", "measure": kind, "target": value}


def evaluate_render(folder: str | os.PathLike, *, target: str | None = None, clap: ClapScorer | None = None,
                    transcribe_notes: bool = False, report: str | os.PathLike | None = None,
                    progress: Callable[[int, int], None] | None = None) -> RenderEvaluation:
    """Measure every item of the render `folder` and write the report (default `folder/evaluation`).

    `target` (as `parse_target` reads it) replaces each item's own targets; `transcribe_notes` needs
    basic-pitch (check with `evaluation.transcription.check_transcriber`).
    """
    folder = Path(folder)
    entries = sorted(read_manifest(folder) if folder.is_dir() else [], key=lambda e: e.get("index", 0))
    if not entries:
        raise ValueError(f"'{folder}' holds no render manifest entries (run `musicrfm render` first)")
    settings = _Settings(None if target is None else [parse_target(target)], clap, transcribe_notes,
                         Path(report) if report is not None else folder / "evaluation")
    settings.report.mkdir(parents=True, exist_ok=True)
    rows, plots = [], []
    for done, entry in enumerate(entries, 1):
        row, figures = _row(folder, entry, settings)
        rows.append(row)
        plots += figures
        if progress is not None:
            progress(done, len(entries))
    return RenderEvaluation(rows, _write_report(rows, settings.report) + plots)


@dataclass(frozen=True)
class _Settings:
    override: list[dict[str, Any]] | None
    clap: ClapScorer | None
    transcribe: bool
    report: Path


def _guess(value: str) -> str:
    try:
        pitch_class(value)
        return "note"
    except (TypeError, ValueError):
        return "chord"


def _row(folder: Path, entry: dict[str, Any], settings: _Settings) -> tuple[dict[str, Any], list[str]]:
    """The item's table row and the paths of its per-segment plots."""
    audio, rate = read_audio(folder / entry["file"])
    clip = audio.mean(axis=0)
    params = entry.get("params", {})
    strengths = entry.get("strengths") or [None]
    records = settings.override if settings.override is not None else entry.get("targets", [])
    row: dict[str, Any] = {"id": entry["id"], "prompt": params.get("prompt"), "seed": entry.get("seed"),
                           "guidance": params.get("sampling", {}).get("guidance_scale"), "strength": strengths[0],
                           "file": entry["file"]}
    row.update(measure_audio(audio, rate, records))
    if settings.transcribe:
        row.update(_transcribed(clip, rate, records))
    if settings.clap is not None:
        row["clap"] = float(settings.clap.score(clip, rate, params.get("prompt", "")))
    sequences = [r for r in records if r.get("sequence") is not None and r["measure"] in ("note", "chord")]
    return row, [_segment_plot(clip, rate, entry["id"], r, settings.report) for r in sequences]


def _transcribed(clip: np.ndarray, rate: int, records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Transcription measures of every note or chord record, per segment for a sequence."""
    notes = transcribe(clip, rate)
    out: dict[str, float | None] = {}
    for record in [r for r in records if r["measure"] in ("note", "chord")]:
        label, kind = record["label"], record["measure"]
        if record.get("sequence") is None:
            accuracy = transcribed_accuracy(notes, record["target"], kind)
            out[f"{label}.transcribed_{kind}_accuracy"] = finite_or_none(accuracy)
            continue
        spans = evaluated_spans(schedule_from_dict(record["sequence"]), clip.size / rate)
        for i, (concept, start, end) in enumerate(spans):
            within = notes_within(notes, start, end) if end > start else ()
            out[f"{label}.segment{i}_{concept}_transcribed_accuracy"] = finite_or_none(
                transcribed_accuracy(within, concept, kind))
    return out


def _segment_plot(clip: np.ndarray, rate: int, item: str, record: dict[str, Any], report: Path) -> str:
    """A chromagram of the item with each segment's evaluated span and accuracy; returns its path."""
    kind = record["measure"]
    scores = segment_accuracy(clip, rate, schedule_from_dict(record["sequence"]), measure=kind)
    path = report / f"{_slug(item)}_{_slug(record['label'])}_segments.png"
    plot_chromagram(chromagram(clip, rate, kind=MEASURES[kind][1]), scores=scores,
                    title=f"{item}: {record['label']}", path=path)
    return str(path)


def _write_report(rows: list[dict[str, Any]], report: Path) -> list[str]:
    files = [str(save_table(rows, report / "summary.md")), str(save_table(rows, report / "summary.csv"))]
    strengths = {r["strength"] for r in rows if r["strength"] is not None}
    for metric in [c for c in rows[0] if c.endswith("accuracy")]:
        measured = [r for r in rows if r["strength"] is not None and _is_finite_float(r.get(metric))]
        if len(strengths) > 1 and measured:
            path = report / f"{_slug(metric)}_vs_strength.png"
            plot_accuracy_vs_strength(measured, strength="strength", accuracy=metric, path=path)
            files.append(str(path))
    return files


def _slug(text: str) -> str:
    """`text` as a file-name part: runs of anything but letters, digits, '-' and '_' become '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)


def _is_finite_float(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)
