"""Accuracy against a schedule: one score per segment of a `ConceptSequence` (or of a list of
(concept, start_s, end_s)), measured away from the crossfades, where two concepts are meant to mix.

>>> import numpy as np
>>> from musicrfm.schedules import ConceptSequence
>>> sr = 16000
>>> t = np.arange(3 * sr) / sr
>>> freqs = np.select([t < 1, t < 2], [261.63, 329.63], 392.0)  # C, E, G for one second each
>>> audio = 0.3 * np.sin(2 * np.pi * np.cumsum(freqs) / sr)
>>> seq = ConceptSequence.chain([("C", 1.0), ("E", 1.0), ("G", None)], crossfade=0.2)
>>> [(s.concept, s.start_s, s.end_s, s.accuracy) for s in segment_accuracy(audio, sr, seq)]
[('C', 0.0, 0.9, 1.0), ('E', 1.1, 1.9, 1.0), ('G', 2.1, 3.0, 1.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musicrfm.checks import is_real
from musicrfm.evaluation.chords import chord_match, parse_chord
from musicrfm.evaluation.chroma import chromagram
from musicrfm.evaluation.inputs import check_audio, check_span, pitch_class
from musicrfm.evaluation.metrics import note_match
from musicrfm.schedules import ConceptSequence

MEASURES = {"note": (note_match, "salience", pitch_class), "chord": (chord_match, "harmony", parse_chord)}
"""Measure -> (scorer, chroma kind, target parser)."""


@dataclass(frozen=True)
class SegmentScore:
    """The accuracy of one segment over its evaluated span [start_s, end_s) (crossfades excluded);
    `frames` counts the voiced frames scored (0, with accuracy NaN, when the span is silent or empty)."""

    concept: str
    start_s: float
    end_s: float
    accuracy: float
    frames: int


def evaluated_spans(
    schedule: ConceptSequence | Sequence[tuple[str, float, float | None]], duration_s: float, *,
    crossfade_s: float | None = None,
) -> tuple[tuple[str, float, float], ...]:
    """(concept, start_s, end_s) per segment, less half a crossfade at every edge that has one (an edge
    at 0 s or an open end has none), cut to `duration_s`.

    `crossfade_s` defaults to the sequence's own crossfade, or 0 for a list.
    """
    items, fade = _segments(schedule)
    if crossfade_s is not None:
        if not is_real(crossfade_s) or not crossfade_s >= 0:
            raise ValueError(f"crossfade_s must be a number >= 0, got {crossfade_s!r}")
        fade = float(crossfade_s)
    half = fade / 2
    spans = []
    for concept, start, end in items:
        begin = start + half if start > 0 else start
        stop = duration_s if end is None else min(end - half, duration_s)
        spans.append((concept, round(begin, 9), round(max(stop, begin), 9)))
    return tuple(spans)


def _segments(schedule: object) -> tuple[list[tuple[str, float, float | None]], float]:
    """Segments in seconds and the crossfade in seconds."""
    if isinstance(schedule, (str, bytes)) or not isinstance(schedule, Sequence):
        return _sequence_segments(schedule)
    if not schedule:
        raise ValueError("schedule must hold at least one (concept, start_s, end_s) segment")
    items = []
    for i, item in enumerate(schedule):
        if not isinstance(item, (tuple, list)) or len(item) != 3 or not isinstance(item[0], str):
            raise ValueError(f"schedule[{i}] must be (concept, start_s, end_s), got {item!r}")
        concept, start, end = item
        if end is None:
            check_span(start, start + 1.0, f"schedule[{i}]")
        else:
            start, end = check_span(start, end, f"schedule[{i}]")
        items.append((concept, float(start), end))
    return items, 0.0


def _sequence_segments(schedule: object) -> tuple[list[tuple[str, float, float | None]], float]:
    if not isinstance(schedule, ConceptSequence):
        raise TypeError("schedule must be a ConceptSequence or a list of (concept, start_s, end_s), "
                        f"got {type(schedule).__name__}")
    scale = 1.0 if schedule.unit == "seconds" else 1.0 / schedule.frame_rate
    items = [(s.concept, s.start * scale, None if s.end is None else s.end * scale) for s in schedule.segments]
    return items, schedule.crossfade * scale


def segment_accuracy(
    audio: np.ndarray, sample_rate: int, schedule: ConceptSequence | Sequence[tuple[str, float, float | None]],
    *, measure: str = "note", level: str = "frame", crossfade_s: float | None = None, hop_s: float = 0.02,
) -> tuple[SegmentScore, ...]:
    """Score each segment's concept on its own span of `audio`.

    `measure="note"` reads concepts as pitch classes ("C", "F#") and scores target-note accuracy;
    `measure="chord"` reads them as chords ("major", "Am") and scores chord accuracy. `level` is "frame"
    (share of frames) or "segment" (one decision on the span's mean chroma).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {sorted(MEASURES)}, got {measure!r}")
    scorer, kind, parse = MEASURES[measure]
    samples = check_audio(audio, sample_rate)
    spans = evaluated_spans(schedule, samples.size / sample_rate, crossfade_s=crossfade_s)
    for i, (concept, _, _) in enumerate(spans):
        try:
            parse(concept)
        except (TypeError, ValueError) as error:
            raise ValueError(f"schedule segment {i} ({concept!r}) is not a {measure}: {error}") from error
    chroma = chromagram(samples, sample_rate, hop_s=hop_s, kind=kind)
    scores = []
    for concept, start, end in spans:
        mask = chroma.span(start, end)
        accuracy = scorer(chroma, concept, mask, level=level)
        scores.append(SegmentScore(concept, start, end, accuracy, int(mask.sum())))
    return tuple(scores)
