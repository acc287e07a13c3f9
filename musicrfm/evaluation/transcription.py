"""Transcription-based measures with basic-pitch's bundled ONNX model (runs offline).

basic-pitch is an optional extra installed without its TensorFlow requirement:
`pip install --no-deps basic-pitch==0.4.0` and `pip install onnxruntime mir_eval pretty_midi "resampy>=0.4.3"`.

>>> import numpy as np
>>> sr = 22050
>>> t = np.arange(2 * sr) / sr
>>> triad = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)) / 4  # C4 E4 G4
>>> sorted(transcribed_pitch_classes(transcribe(triad, sr)))
[0, 4, 7]
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import soundfile as sf
import soxr

from musicrfm.checks import is_real
from musicrfm.evaluation.chords import parse_chord
from musicrfm.evaluation.inputs import check_audio, check_span, pitch_class

INSTALL_HINT = ('pip install --no-deps basic-pitch==0.4.0 && pip install onnxruntime mir_eval pretty_midi '
                '"resampy>=0.4.3"')


@dataclass(frozen=True)
class TranscribedNote:
    """One note found by the transcriber: MIDI `pitch`, onset and offset in seconds, `amplitude` 0..1."""

    start_s: float
    end_s: float
    pitch: int
    amplitude: float

    @property
    def weight(self) -> float:
        """Duration times amplitude: how much of the clip this note accounts for."""
        return (self.end_s - self.start_s) * self.amplitude


@functools.lru_cache(maxsize=1)
def _basic_pitch():
    """basic-pitch's inference functions and its ONNX model, loaded once."""
    # basic-pitch logs a warning for every backend it does not find (TensorFlow, CoreML, TFLite) on import.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from basic_pitch import ICASSP_2022_MODEL_PATH, inference, note_creation
    except ImportError as error:
        raise ImportError(f"transcription needs basic-pitch and onnxruntime: {INSTALL_HINT}") from error
    finally:
        logger.setLevel(level)
    # basic-pitch points its default path at the first backend it can import; only ONNX is expected here.
    if ICASSP_2022_MODEL_PATH.suffix != ".onnx":
        raise ImportError(f"basic-pitch found no ONNX runtime (install onnxruntime): {INSTALL_HINT}")
    return inference, note_creation, inference.Model(ICASSP_2022_MODEL_PATH)


def check_transcriber() -> None:
    """Load basic-pitch's ONNX model now; ImportError (one line, with the install command) if it cannot."""
    _basic_pitch()


def transcribe(audio: np.ndarray, sample_rate: int, *, onset_threshold: float = 0.5,
               frame_threshold: float = 0.3, min_note_s: float = 0.127) -> tuple[TranscribedNote, ...]:
    """Notes in `audio` found by basic-pitch (polyphonic), ordered by onset then pitch."""
    samples = check_audio(audio, sample_rate)
    for name, value in (("onset_threshold", onset_threshold), ("frame_threshold", frame_threshold)):
        if not is_real(value) or not 0 < value < 1:
            raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    if not is_real(min_note_s) or not min_note_s > 0:
        raise ValueError(f"min_note_s must be a number of seconds > 0, got {min_note_s!r}")
    inference, note_creation, model = _basic_pitch()
    if not samples.any():  # basic-pitch divides by the peak onset activation, which silence leaves at zero
        return ()
    rate = inference.AUDIO_SAMPLE_RATE
    resampled = soxr.resample(samples, sample_rate, rate, quality="HQ") if sample_rate != rate else samples
    with _wav_file(resampled, rate) as path:
        output = inference.run_inference(path, model)
    _, events = note_creation.model_output_to_notes(
        output, onset_thresh=onset_threshold, frame_thresh=frame_threshold,
        min_note_len=max(1, round(min_note_s * rate / inference.FFT_HOP)), include_pitch_bends=False,
    )
    notes = [TranscribedNote(float(s), float(e), int(p), float(a)) for s, e, p, a, *_ in events]
    return tuple(sorted(notes, key=lambda n: (n.start_s, n.pitch)))


@contextlib.contextmanager
def _wav_file(samples: np.ndarray, rate: int):
    """A temporary float WAV holding `samples` (basic-pitch reads its input from a file)."""
    folder = tempfile.mkdtemp(prefix="musicrfm-transcribe-")
    path = os.path.join(folder, "clip.wav")
    try:
        sf.write(path, samples.astype(np.float32), rate, subtype="FLOAT")
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.rmdir(folder)


def pitch_class_weights(notes: Sequence[TranscribedNote]) -> np.ndarray:
    """Each pitch class's share (0..1, summing to 1) of the notes' duration x amplitude; zeros if none."""
    weights = np.zeros(12)
    for note in notes:
        weights[note.pitch % 12] += note.weight
    total = weights.sum()
    return weights / total if total > 0 else weights


def transcribed_pitch_classes(notes: Sequence[TranscribedNote], *, min_share: float = 0.5) -> frozenset[int]:
    """Pitch classes holding at least `min_share` of the strongest one's weight (overtones that the
    transcriber reports as faint, short notes fall below it)."""
    if not is_real(min_share) or not 0 < min_share <= 1:
        raise ValueError(f"min_share must be a number in (0, 1], got {min_share!r}")
    weights = pitch_class_weights(notes)
    if not weights.any():
        return frozenset()
    return frozenset(int(i) for i in np.flatnonzero(weights >= min_share * weights.max()))


def transcription_note_accuracy(audio: np.ndarray, sample_rate: int, target: str | int) -> float:
    """Share of the transcribed notes' duration x amplitude at the `target` pitch class; NaN when the
    transcriber finds no note."""
    pitch_class(target)  # a bad target fails before the transcriber runs
    check_audio(audio, sample_rate)
    return transcribed_accuracy(transcribe(audio, sample_rate), target, "note")


def notes_within(notes: Sequence[TranscribedNote], start_s: float, end_s: float) -> tuple[TranscribedNote, ...]:
    """The notes sounding within [start_s, end_s), cut to it."""
    start_s, end_s = check_span(start_s, end_s, "span")
    return tuple(replace(n, start_s=max(n.start_s, start_s), end_s=min(n.end_s, end_s))
                 for n in notes if n.start_s < end_s and n.end_s > start_s)


def transcribed_accuracy(notes: Sequence[TranscribedNote], target: str | int, measure: str) -> float:
    """How well transcribed notes meet a target; NaN when there are none.

    `measure="note"`: the target pitch class's share of the notes' duration x amplitude; `measure="chord"`:
    1.0 when the prominent pitch classes (`transcribed_pitch_classes`) form the target chord, else 0.0.

    >>> notes = [TranscribedNote(0.0, 1.0, 60, 1.0), TranscribedNote(0.0, 1.0, 64, 0.5),
    ...          TranscribedNote(0.5, 1.0, 67, 1.0)]
    >>> transcribed_accuracy(notes, "C", "note"), transcribed_accuracy(notes, "C:major", "chord")
    (0.5, 1.0)
    >>> transcribed_accuracy(notes_within(notes, 0.0, 0.5), "C:major", "chord")
    0.0
    """
    if measure not in ("note", "chord"):
        raise ValueError(f"measure must be 'note' or 'chord', got {measure!r}")
    goal = pitch_class(target) if measure == "note" else parse_chord(target)
    weights = pitch_class_weights(notes)
    if not weights.any():
        return float("nan")
    if measure == "note":
        return float(weights[goal])
    return float(goal.matches([transcribed_pitch_classes(notes)])[0])
