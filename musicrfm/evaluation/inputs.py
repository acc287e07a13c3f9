"""Validation shared by the evaluators: audio arrays, sample rates, pitch-class names and time spans.

>>> import numpy as np
>>> check_audio(np.zeros((2, 4), dtype=np.float32), 16000).shape  # stereo is averaged to mono
(4,)
>>> pitch_class("Db"), pitch_class("c#"), pitch_class(11)
(1, 1, 11)
"""

from __future__ import annotations

import math
import re

import numpy as np

from musicrfm.checks import is_finite, is_int, is_real
from musicrfm.data.theory import PITCH_CLASSES

_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
_NOTE = re.compile(r"^([A-Ga-g])(#|♯|b|♭)?$")


def check_sample_rate(sample_rate: object, field: str = "sample_rate") -> int:
    """`sample_rate` as an int; TypeError for a non-integer, ValueError for one that is not positive."""
    if not is_int(sample_rate):
        raise TypeError(f"{field} must be an integer number of Hz, got {type(sample_rate).__name__} {sample_rate!r}")
    if sample_rate <= 0:
        raise ValueError(f"{field} must be positive, got {sample_rate}")
    return int(sample_rate)


def check_audio(audio: object, sample_rate: object, field: str = "audio") -> np.ndarray:
    """Validate a clip (samples,) or (channels, samples) and return it as mono float64 (channels averaged)."""
    check_sample_rate(sample_rate)
    if not isinstance(audio, np.ndarray):
        raise TypeError(f"{field} must be a numpy array, got {type(audio).__name__}")
    if audio.ndim not in (1, 2) or (audio.ndim == 2 and audio.shape[0] not in (1, 2)):
        raise ValueError(f"{field} must be shaped (samples,) or (channels<=2, samples), got {audio.shape}")
    if audio.size == 0:
        raise ValueError(f"{field} is empty")
    if not (np.issubdtype(audio.dtype, np.floating) or np.issubdtype(audio.dtype, np.integer)):
        raise TypeError(f"{field} must hold numbers, got dtype {audio.dtype}")
    mono = audio.astype(np.float64).reshape(-1, audio.shape[-1]).mean(axis=0)
    if not np.isfinite(mono).all():
        raise ValueError(f"{field} holds NaN or infinite samples")
    return mono


def positive_number(value: object, field: str) -> float:
    """`value` as a finite float > 0."""
    if not is_real(value):
        raise TypeError(f"{field} must be a number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{field} must be a finite number > 0, got {value!r}")
    return float(value)


def pitch_class(name: object, field: str = "target") -> int:
    """A pitch class 0..11 (C = 0) from a name such as "C", "F#", "Bb", "e" or an integer 0..11."""
    if is_int(name):
        if 0 <= name < 12:
            return int(name)
        raise ValueError(f"{field} must be a pitch class 0..11, got {name}")
    if not isinstance(name, str):
        raise TypeError(f"{field} must be a note name or 0..11, got {type(name).__name__}")
    match = _NOTE.match(name.strip())
    if match is None:
        raise ValueError(f"{field}: unknown pitch class {name!r}; use a letter A-G with an optional # or b "
                         f"(e.g. {', '.join(PITCH_CLASSES[:3])}) or 0..11")
    return (_NATURALS[match.group(1).upper()] + _ACCIDENTALS[match.group(2) or ""]) % 12


def check_span(start_s: object, end_s: object, field: str) -> tuple[float, float]:
    """A time span (start_s, end_s) in seconds with 0 <= start_s < end_s."""
    for name, value in (("start_s", start_s), ("end_s", end_s)):
        if not is_finite(value):
            raise TypeError(f"{field}.{name} must be a finite number of seconds, got {value!r}")
    if not 0 <= start_s < end_s:
        raise ValueError(f"{field}: need 0 <= start_s < end_s, got {start_s!r} and {end_s!r}")
    return float(start_s), float(end_s)
