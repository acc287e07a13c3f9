"""Style read back from toy-codec codes: the proxies that check whether generated music follows its prompt.

- mode: the share of sounding frames (melody and bass) whose pitch class lies in the best-fitting major
  scale, minus that share for the best-fitting harmonic minor scale (the two scales the corpus writes
  happy and sad music in); > 0 reads as major (happy), < 0 as minor (sad), 0 as undecided;
- tempo: melody note onsets per second (a note starts where the pitch changes or follows a rest).

Because the toy codec's analysis inverts its synthesis exactly, codes re-encoded from decoded audio give
the same answers as the generated codes.

>>> import numpy as np
>>> c_major = np.array([[0] * 10 + [4] * 10 + [7] * 10 + [5] * 5 + [11] * 5 + [0] * 10, [1] * 50, [10] * 50, [12] * 50])
>>> round(float(mode_margin(c_major)), 2) > 0, onset_rate(c_major, frame_rate=25)
(True, 3.0)
"""

from __future__ import annotations

import numpy as np

from musicrfm.models.toy.corpus import SCALES
from musicrfm.models.toy.tokens import BASS, NO_BASS, PITCH, REST

_SCALE_MASKS = {name: np.isin(np.arange(12), steps).astype(float) for name, steps in SCALES.items()}


def _check(codes: object) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != 4 or codes.shape[1] == 0 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be an integer array shaped (4, frames>0), got {codes.shape}")
    return codes


def pitch_class_histogram(codes: object) -> np.ndarray:
    """Frames per pitch class (12,) over the melody and the bass, normalised to sum 1 (zeros if silent)."""
    codes = _check(codes)
    counts = np.zeros(12)
    for row, silent in ((PITCH, REST), (BASS, NO_BASS)):
        tokens = codes[row]
        np.add.at(counts, tokens[tokens < silent], 1.0)
    total = counts.sum()
    return counts / total if total else counts


def mode_margin(codes: object) -> float:
    """Best major-scale fit minus best harmonic-minor fit, in [-1, 1]: > 0 reads as major, < 0 as minor."""
    histogram = pitch_class_histogram(codes)
    best = {name: max(histogram @ np.roll(mask, tonic) for tonic in range(12)) for name, mask in _SCALE_MASKS.items()}
    return float(best["major"] - best["minor"])


def onset_rate(codes: object, *, frame_rate: float) -> float:
    """Melody notes started per second."""
    pitch = _check(codes)[PITCH]
    sounding = pitch < REST
    starts = sounding & np.concatenate([[True], pitch[1:] != pitch[:-1]])
    return float(starts.sum() * frame_rate / pitch.size)
