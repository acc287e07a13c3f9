"""Measure steered audio: target-note and chord accuracy from frame-level chroma (overall and per
schedule segment; chords after harmonic-partial subtraction), tempo, optional basic-pitch transcription
measures, summary tables and plots; CLAP text adherence in `musicrfm.evaluation.clap` (it loads torch and
transformers, which the rest of the package does without).

>>> import numpy as np
>>> from musicrfm.evaluation import note_accuracy, segment_accuracy
>>> sr = 16000
>>> t = np.arange(2 * sr) / sr
>>> audio = 0.3 * np.sin(2 * np.pi * np.cumsum(np.where(t < 1, 261.63, 329.63)) / sr)  # C, then E
>>> round(note_accuracy(audio, sr, "C"), 1)
0.5
>>> [s.accuracy for s in segment_accuracy(audio, sr, [("C", 0.0, 1.0), ("E", 1.0, None)], crossfade_s=0.2)]
[1.0, 1.0]
"""

from musicrfm.evaluation.chords import ChordTarget, chord_accuracy, chord_frames, chord_match, parse_chord
from musicrfm.evaluation.chroma import Chromagram, chromagram
from musicrfm.evaluation.inputs import pitch_class
from musicrfm.evaluation.metrics import estimate_bpm, note_accuracy, note_match, tempo_error
from musicrfm.evaluation.partials import note_strengths
from musicrfm.evaluation.plots import (
    plot_accuracy_vs_strength,
    plot_chromagram,
    plot_scores_over_time,
    plot_segment_accuracy,
    save_figure,
)
from musicrfm.evaluation.report import csv_table, group_mean, markdown_table, save_table
from musicrfm.evaluation.segments import SegmentScore, evaluated_spans, segment_accuracy
from musicrfm.evaluation.transcription import (
    TranscribedNote,
    check_transcriber,
    notes_within,
    transcribe,
    transcribed_accuracy,
    transcribed_pitch_classes,
    transcription_note_accuracy,
)

__all__ = [
    "ChordTarget", "Chromagram", "SegmentScore", "TranscribedNote", "check_transcriber",
    "chord_accuracy", "chord_frames", "chord_match", "chromagram", "csv_table", "estimate_bpm", "evaluated_spans",
    "group_mean", "markdown_table", "note_accuracy", "note_match", "note_strengths", "notes_within",
    "parse_chord", "pitch_class", "plot_accuracy_vs_strength", "plot_chromagram", "plot_scores_over_time",
    "plot_segment_accuracy",
    "save_figure", "save_table", "segment_accuracy", "tempo_error", "transcribe",
    "transcribed_accuracy", "transcribed_pitch_classes", "transcription_note_accuracy",
]
