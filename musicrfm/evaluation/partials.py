"""Harmonic partials: the salience of a candidate pitch (its harmonics' summed strength), and the notes
behind a chord found by iterative harmonic-partial subtraction.

A chroma that folds every spectral peak onto its pitch class counts each note's overtones as extra pitch
classes (the third harmonic of E is B, the seventh of G# is F#), so bright timbres make triads read as
seventh chords. `note_strengths` instead takes the most salient pitch, removes its partials from the
spectrum, and repeats; a partial louder than the mean of its neighbouring partials is shared with another
note, so only that mean is removed (the spectral-smoothness principle of Klapuri's multiple-F0 estimation).

>>> import numpy as np
>>> peaks = np.zeros((1, 176))
>>> for note in (60, 64, 67):  # C major, each note with eight harmonics
...     for k in range(1, 9):
...         peaks[0, note + round(12 * np.log2(k))] += 0.8 ** (k - 1)
>>> np.flatnonzero(note_strengths(peaks)[0]).tolist()
[60, 64, 67]
"""

from __future__ import annotations

import numpy as np

LOWEST, HIGHEST = 24, 108
"""MIDI range of the candidate pitches (C1..C8)."""
HARMONICS = 8
HARMONIC_WEIGHT = 0.8
_OFFSETS = np.array([round(12 * np.log2(k)) for k in range(1, HARMONICS + 1)])
_MAX_NOTES, _STOP, _FLOOR = 6, 0.15, 0.05


def pitch_salience(peaks: np.ndarray, harmonics: int = HARMONICS) -> np.ndarray:
    """(n_frames, 128): MIDI pitch p collects the semitone-band peaks (n_frames, >= 164) of its harmonics
    1..`harmonics`, weighted HARMONIC_WEIGHT**(k - 1)."""
    strength = np.zeros((peaks.shape[0], 128))
    for k, offset in enumerate(_OFFSETS[:harmonics]):
        strength += HARMONIC_WEIGHT**k * peaks[:, offset : offset + 128]
    return strength


def note_strengths(peaks: np.ndarray) -> np.ndarray:
    """(n_frames, 128): the salience of each note found in every frame's band peaks (n_frames, 176).

    At most six notes per frame; the search stops at a pitch whose salience is under 15% of the frame's
    first note. A candidate's own band must hold 5% of the frame's strongest peak, or the octave below a
    note (whose even harmonics are that note's partials) would be taken for one.
    """
    residual = np.array(peaks, dtype=np.float64)
    if residual.ndim != 2 or residual.shape[1] < _OFFSETS[-1] + 128:
        raise ValueError(f"peaks must be an (n_frames, >= {_OFFSETS[-1] + 128}) array of semitone-band magnitudes "
                         f"from MIDI 0 up, got shape {residual.shape}")
    if not np.isfinite(residual).all() or (residual < 0).any():
        raise ValueError("peaks must hold finite magnitudes >= 0")
    rows = np.arange(residual.shape[0])
    audible = _FLOOR * residual.max(axis=1, keepdims=True)
    found = np.zeros((residual.shape[0], 128))
    first = None
    active = np.ones(rows.size, dtype=bool)
    for _ in range(_MAX_NOTES):
        candidates = residual[:, LOWEST : HIGHEST + 1]
        salience = np.where(candidates >= audible, pitch_salience(residual)[:, LOWEST : HIGHEST + 1], 0.0)
        best = salience.argmax(axis=1)
        value = salience[rows, best]
        first = value if first is None else first
        active &= value > _STOP * first
        pitch = best + LOWEST
        found[rows[active], pitch[active]] += value[active]
        _remove_partials(residual, pitch, active)
    return found


def _remove_partials(residual: np.ndarray, pitch: np.ndarray, active: np.ndarray) -> None:
    """Subtract, in place, the partials of `pitch` (one per frame) from the frames marked `active`."""
    rows = np.arange(residual.shape[0])[:, None]
    bands = pitch[:, None] + _OFFSETS
    amplitude = residual[rows, bands]
    padded = np.pad(amplitude, ((0, 0), (1, 1)), mode="edge")
    amplitude = np.minimum(amplitude, (padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]) / 3)
    amplitude[:, 0] = residual[rows[:, 0], pitch]
    residual[rows, bands] = np.maximum(residual[rows, bands] - amplitude * active[:, None], 0.0)
