"""Target-note accuracy and tempo, measured on audio.

>>> import numpy as np
>>> sr = 16000
>>> t = np.arange(sr) / sr
>>> e4 = 0.3 * np.sin(2 * np.pi * 329.63 * t)
>>> note_accuracy(e4, sr, "E"), note_accuracy(e4, sr, "F")
(1.0, 0.0)
>>> round(tempo_error(123.0, 120.0), 3), tempo_error(60.0, 120.0, octave_tolerant=True)
(0.025, 0.0)
"""

from __future__ import annotations

import numpy as np

from musicrfm.data.analysis import estimate_tempo
from musicrfm.evaluation.chroma import Chromagram, chromagram
from musicrfm.evaluation.inputs import check_audio, pitch_class, positive_number

TEMPO_METHODS = ("autocorrelation", "onsets")
LEVELS = ("frame", "segment")


def note_match(chroma: Chromagram, target: str | int, mask: np.ndarray | None = None, *,
               level: str = "frame") -> float:
    """Share of the voiced frames (within `mask`) whose dominant pitch class is `target`; NaN if none.

    `level="segment"` asks once whether the frames' mean chroma peaks at `target` (1.0 or 0.0).
    """
    goal = pitch_class(target)
    rows = voiced_rows(chroma, mask, level)
    return float("nan") if rows is None else float(np.mean(rows.argmax(axis=1) == goal))


def voiced_rows(chroma: Chromagram, mask: np.ndarray | None, level: str) -> np.ndarray | None:
    """The chroma rows of voiced frames within `mask` (their mean for `level="segment"`); None if none."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    picked = chroma.voiced if mask is None else chroma.voiced & mask
    if not picked.any():
        return None
    rows = chroma.chroma[picked]
    return rows.mean(axis=0, keepdims=True) if level == "segment" else rows


def note_accuracy(audio: np.ndarray, sample_rate: int, target: str | int, *, level: str = "frame",
                  hop_s: float = 0.02) -> float:
    """Fraction of voiced frames whose dominant pitch class is `target` ("C", "F#", "Bb" or 0..11); NaN
    when no frame is voiced. See `note_match` for `level`."""
    pitch_class(target)
    return note_match(chromagram(audio, sample_rate, hop_s=hop_s), target, level=level)


def estimate_bpm(audio: np.ndarray, sample_rate: int, *, method: str = "autocorrelation") -> float:
    """Tempo in beats per minute.

    "autocorrelation" (librosa's onset-strength tempogram with its 120 BPM prior) suits music, but may
    report half or double the tempo; "onsets" (median interval between detected onsets) is exact for
    click tracks and sparse attacks, and counts subdivisions in busy music.
    """
    samples = check_audio(audio, sample_rate)
    if method not in TEMPO_METHODS:
        raise ValueError(f"method must be one of {TEMPO_METHODS}, got {method!r}")
    if method == "onsets":
        return estimate_tempo(samples, sample_rate)
    import librosa

    envelope = librosa.onset.onset_strength(y=samples, sr=sample_rate, hop_length=256)
    if not envelope.any():
        raise ValueError("audio has no onsets to estimate a tempo from")
    return float(librosa.feature.tempo(onset_envelope=envelope, sr=sample_rate, hop_length=256)[0])


def tempo_error(estimated_bpm: float, target_bpm: float, *, octave_tolerant: bool = False) -> float:
    """Relative tempo error |estimated - target| / target; `octave_tolerant` also forgives reading half
    or double the tempo (the smallest error over target x 1/2, 1, 2)."""
    estimated = positive_number(estimated_bpm, "estimated_bpm")
    target = positive_number(target_bpm, "target_bpm")
    factors = (0.5, 1.0, 2.0) if octave_tolerant else (1.0,)
    return min(abs(estimated - f * target) / (f * target) for f in factors)
