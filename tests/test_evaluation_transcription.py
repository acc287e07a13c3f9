"""basic-pitch transcription on rendered audio (the bundled ONNX model runs offline)."""

from __future__ import annotations

import numpy as np
import pytest

from musicrfm.data.render import Renderer
from musicrfm.data.specs import ClipSpec, NoteEvent
from musicrfm.evaluation.transcription import (
    TranscribedNote,
    notes_within,
    pitch_class_weights,
    transcribe,
    transcribed_accuracy,
    transcribed_pitch_classes,
    transcription_note_accuracy,
)

SR = 22050


def _render(pitches, program: int, backend: str) -> np.ndarray:
    spec = ClipSpec(tuple(NoteEvent(p, 0.05, 1.7, 96) for p in pitches), program=program, is_drum=False,
                    duration_s=2.0)
    with Renderer(backend, SR) as renderer:
        return renderer.render(spec)


@pytest.mark.parametrize("backend, program", [("fluidsynth", 0), ("numpy", 48)])
def test_c_major_triad_transcribes_as_c_e_g(backend, program):
    notes = transcribe(_render([60, 64, 67], program, backend), SR)
    assert all(isinstance(n, TranscribedNote) and n.end_s > n.start_s for n in notes)
    assert transcribed_pitch_classes(notes) == frozenset({0, 4, 7})
    assert {60, 64, 67} <= {n.pitch for n in notes}


def test_note_accuracy_from_transcription():
    audio = _render([64], 0, "fluidsynth")
    assert transcription_note_accuracy(audio, SR, "E") >= 0.9
    assert transcription_note_accuracy(audio, SR, "F") <= 0.05
    assert np.isnan(transcription_note_accuracy(np.zeros(SR), SR, "E"))


def test_accuracy_within_a_span_reads_only_its_notes():
    notes = [TranscribedNote(0.0, 1.0, 60, 1.0), TranscribedNote(1.0, 2.0, 64, 1.0), TranscribedNote(1.0, 2.0, 67, 1.0),
             TranscribedNote(1.0, 2.0, 71, 1.0)]
    assert [n.pitch for n in notes_within(notes, 0.5, 1.5)] == [60, 64, 67, 71]
    assert [(n.start_s, n.end_s) for n in notes_within(notes, 0.5, 1.5)][:2] == [(0.5, 1.0), (1.0, 1.5)]
    assert transcribed_accuracy(notes_within(notes, 0.0, 1.0), "C", "note") == 1.0
    assert transcribed_accuracy(notes_within(notes, 1.0, 2.0), "Em", "chord") == 1.0
    assert transcribed_accuracy(notes_within(notes, 1.0, 2.0), "C", "chord") == 0.0
    assert np.isnan(transcribed_accuracy(notes_within(notes, 2.0, 3.0), "C", "note"))


def test_weights_follow_duration_and_amplitude():
    notes = [TranscribedNote(0.0, 1.0, 60, 1.0), TranscribedNote(0.0, 0.5, 64, 0.5), TranscribedNote(0, 0.1, 79, 0.5)]
    assert np.allclose(pitch_class_weights(notes)[[0, 4, 7]], np.array([1.0, 0.25, 0.05]) / 1.3)
    assert transcribed_pitch_classes(notes, min_share=0.2) == frozenset({0, 4})
    assert transcribed_pitch_classes([]) == frozenset()


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: transcribe(np.zeros(0), SR), ValueError, "empty"),
        (lambda: transcribe(np.ones(SR), 22050.0), TypeError, "sample_rate"),
        (lambda: transcribe(np.ones(SR), SR, onset_threshold=1.5), ValueError, "onset_threshold"),
        (lambda: transcription_note_accuracy(np.ones(SR), SR, "H#"), ValueError, "H#"),
        (lambda: transcribed_pitch_classes([], min_share=0), ValueError, "min_share"),
        (lambda: transcribed_accuracy([], "C", "tempo"), ValueError, "measure"),
        (lambda: transcribed_accuracy([], "C:major9", "chord"), ValueError, "unknown chord"),
        (lambda: notes_within([], 1.0, 0.5), ValueError, "start_s < end_s"),
    ],
)
def test_bad_inputs(call, error, words):
    with pytest.raises(error, match=words):
        call()
