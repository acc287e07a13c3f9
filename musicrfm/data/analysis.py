"""Small audio analyses to check what a clip plays: pitch salience and pitch-class profile (harmonic
summation over an FFT), onset times and tempo (energy novelty and inter-onset intervals).

>>> import numpy as np
>>> sr = 16000
>>> t = np.arange(sr) / sr
>>> a4 = np.sin(2 * np.pi * 440.0 * t) + 0.5 * np.sin(2 * np.pi * 880.0 * t)
>>> int(np.argmax(pitch_class_profile(a4, sr)))  # A
9
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from musicrfm.checks import is_int

_ONSET_LOOKBACK_S = 0.03
_SILENCE = 1e-10
_HARMONICS = 8
_HARMONIC_WEIGHT = 0.8
"""Harmonic k of a candidate pitch counts with weight 0.8**(k-1), so a fundamental outweighs its
subharmonics, which collect only some of its partials."""


def _check_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"audio must be a non-empty 1-D array, got shape {audio.shape}")
    if not is_int(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    return audio


def pitch_salience(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Salience of each MIDI pitch 0..127 over the whole clip.

    The magnitude spectrum is reduced to its peak within each semitone band, then each candidate pitch
    sums the bands of its first eight harmonics (weighted 0.8**(k-1)).
    """
    audio = _check_audio(audio, sample_rate)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    freqs = np.fft.rfftfreq(audio.size, 1.0 / sample_rate)
    keep = freqs > 20.0
    band = np.round(69 + 12 * np.log2(freqs[keep] / 440.0)).astype(int)
    in_range = (band >= 0) & (band < 176)
    peaks = np.zeros(176)
    np.maximum.at(peaks, band[in_range], spectrum[keep][in_range])
    salience = np.zeros(128)
    for k in range(1, _HARMONICS + 1):
        offset = round(12 * np.log2(k))
        salience += _HARMONIC_WEIGHT ** (k - 1) * peaks[offset : offset + 128]
    return salience


def pitch_class_profile(audio: np.ndarray, sample_rate: int, *, lowest: int = 24, highest: int = 108) -> np.ndarray:
    """Pitch salience of MIDI pitches lowest..highest folded onto the 12 pitch classes (C = 0), summing
    to 1 (all zeros for silence)."""
    if not 0 <= lowest <= highest <= 127:
        raise ValueError(f"lowest and highest must satisfy 0 <= lowest <= highest <= 127, got {lowest}, {highest}")
    salience = pitch_salience(audio, sample_rate)
    profile = np.zeros(12)
    np.add.at(profile, np.arange(lowest, highest + 1) % 12, salience[lowest : highest + 1])
    total = profile.sum()
    return profile / total if total > 0 else profile


def onset_times(audio: np.ndarray, sample_rate: int, *, hop_s: float = 0.005, min_gap_s: float = 0.08) -> np.ndarray:
    """Times (s) where the frame log energy rises above its minimum over the previous 30 ms by more than
    a fifth of the clip's largest such rise; onsets closer than `min_gap_s` merge into the first."""
    audio = _check_audio(audio, sample_rate)
    if not hop_s > 0 or not min_gap_s >= 0:
        raise ValueError(f"hop_s must be > 0 and min_gap_s >= 0, got {hop_s!r} and {min_gap_s!r}")
    hop = max(1, round(hop_s * sample_rate))
    frames = audio[: audio.size // hop * hop].reshape(-1, hop)
    energy = np.log10(_SILENCE + (frames**2).mean(axis=1))
    # Comparing with a recent minimum, not the previous frame, catches attacks spread over a few frames
    # and hits that land while the previous one still rings.
    lag = max(1, round(_ONSET_LOOKBACK_S / (hop / sample_rate)))
    # Silence before the clip, so sound present from the first sample counts as an onset at 0.
    history = np.concatenate([np.full(lag, np.log10(_SILENCE)), energy[:-1]])
    rise = np.maximum(energy - sliding_window_view(history, lag).min(axis=1), 0.0)
    onsets, last = [], -np.inf
    for t in np.flatnonzero(rise > 0.2 * rise.max()) * hop / sample_rate:
        if t - last >= min_gap_s:
            onsets.append(t)
            last = t
    return np.array(onsets)


def estimate_tempo(audio: np.ndarray, sample_rate: int) -> float:
    """Beats per minute from the median inter-onset interval of a click track."""
    onsets = onset_times(audio, sample_rate)
    if onsets.size < 2:
        raise ValueError("estimate_tempo needs at least two onsets in the audio")
    return float(60.0 / np.median(np.diff(onsets)))
