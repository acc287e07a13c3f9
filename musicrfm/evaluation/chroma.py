"""Frame-level chroma with silence detection: which pitch classes sound in each frame of a clip.

One STFT serves three kinds of chroma. All first reduce each frame's magnitude spectrum to its peak within
every semitone band, then fold pitches MIDI 24..108 onto the 12 pitch classes:

- "salience" first sums each candidate pitch's first eight harmonics (weighted 0.8**(k-1)), so a note's
  overtones vote for its fundamental: the dominant pitch class of a single note is right even for brassy or
  nasal timbres whose third harmonic (a fifth up) is louder than the fundamental;
- "energy" folds the band peaks as they are, overtones included;
- "harmony", for chords, averages two unit-norm views of each frame: the "energy" chroma and the chroma of
  the notes found by harmonic-partial subtraction (`musicrfm.evaluation.partials`), then takes a moving
  average over 0.18 s, as chords last far longer than one frame. The chord templates of
  `musicrfm.evaluation.chords` model both views.

On rendered single notes over all instruments of `musicrfm.data` (FluidSynth and numpy, 32 kHz;
`benchmarks/evaluation_accuracy.py`), "salience" gave the right pitch class in 100% of voiced frames and
librosa's chroma_cqt in 99%. The analysis window lasts 0.15 s or more (a power of two in samples), long
enough to part the semitones of the third octave. Frames whose RMS level (over their middle 50 ms) is more
than `silence_db` below the clip's loudest frame, or below `floor_db` dBFS, are unvoiced and never counted.

>>> import numpy as np
>>> sr = 16000
>>> t = np.arange(sr) / sr
>>> tone = np.where(t < 0.5, 0.3 * np.sin(2 * np.pi * 261.63 * t), 0.0)  # middle C, then silence
>>> chroma = chromagram(tone, sr)
>>> int(np.bincount(chroma.dominant[chroma.voiced]).argmax()), bool(chroma.times[chroma.voiced].max() < 0.6)
(0, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import uniform_filter1d

from musicrfm.checks import is_real
from musicrfm.evaluation.inputs import check_audio, check_sample_rate, positive_number
from musicrfm.evaluation.partials import HIGHEST, LOWEST, note_strengths, pitch_salience

_BANDS = 176
_WINDOW_S = 0.15
_TINY = 1e-12
_BLOCK = 256
_LEVEL_S = 0.05
_SMOOTH_S = 0.18


@dataclass(frozen=True, eq=False)
class Chromagram:
    """Per-frame pitch-class strengths of one clip: `chroma` (n_frames, 12), each voiced row summing to 1
    and unvoiced rows all zero; `voiced` marks frames loud enough to count; frame i is centred on
    i * hop_s seconds."""

    chroma: np.ndarray
    voiced: np.ndarray
    hop_s: float
    sample_rate: int
    kind: str = "salience"

    def __post_init__(self) -> None:
        if not isinstance(self.chroma, np.ndarray) or self.chroma.ndim != 2 or self.chroma.shape[1] != 12:
            raise ValueError(f"chroma must be an (n_frames, 12) array, got {getattr(self.chroma, 'shape', None)}")
        if not isinstance(self.voiced, np.ndarray) or self.voiced.shape != (self.chroma.shape[0],):
            raise ValueError(f"voiced must be a boolean array of length {self.chroma.shape[0]}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "hop_s", positive_number(self.hop_s, "hop_s"))
        object.__setattr__(self, "sample_rate", check_sample_rate(self.sample_rate))
        object.__setattr__(self, "voiced", self.voiced.astype(bool))

    @property
    def times(self) -> np.ndarray:
        """Centre time (s) of every frame."""
        return np.arange(self.chroma.shape[0]) * self.hop_s

    @property
    def dominant(self) -> np.ndarray:
        """Strongest pitch class of every frame, -1 where unvoiced."""
        return np.where(self.voiced, self.chroma.argmax(axis=1), -1)

    def span(self, start_s: float, end_s: float) -> np.ndarray:
        """Mask of the voiced frames centred in [start_s, end_s)."""
        times = self.times
        return self.voiced & (times >= start_s) & (times < end_s)


def chromagram(
    audio: np.ndarray, sample_rate: int, *, hop_s: float = 0.02, kind: str = "salience",
    silence_db: float = -40.0, floor_db: float = -60.0,
) -> Chromagram:
    """Chroma of `audio` (mono, or channels averaged) every `hop_s` seconds; see the module docstring.

    The default hop, 20 ms, is MusicGen's 50 Hz frame rate, so frames of audio and of tokens line up.
    """
    samples = check_audio(audio, sample_rate)
    hop_s = positive_number(hop_s, "hop_s")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    for name, value in (("silence_db", silence_db), ("floor_db", floor_db)):
        if not is_real(value) or not value < 0:
            raise ValueError(f"{name} must be a negative number of decibels, got {value!r}")
    hop = max(1, round(hop_s * sample_rate))
    peaks, level = _analyse(samples, sample_rate, hop)
    chroma = KINDS[kind](peaks, hop / sample_rate)
    voiced = (level > max(level.max() + silence_db, floor_db)) & (chroma.sum(axis=1) > _TINY)
    chroma = np.where(voiced[:, None], chroma / np.maximum(chroma.sum(axis=1, keepdims=True), _TINY), 0.0)
    return Chromagram(chroma, voiced, hop / sample_rate, sample_rate, kind)


def _fold(strength: np.ndarray) -> np.ndarray:
    """(n_frames, 12): strengths of MIDI pitches LOWEST..HIGHEST summed per pitch class."""
    chroma = np.zeros((strength.shape[0], 12))
    np.add.at(chroma.T, np.arange(LOWEST, HIGHEST + 1) % 12, strength[:, LOWEST : HIGHEST + 1].T)
    return chroma


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), _TINY)


def _salience(peaks: np.ndarray, hop_s: float) -> np.ndarray:
    return _fold(pitch_salience(peaks))


def _energy(peaks: np.ndarray, hop_s: float) -> np.ndarray:
    return _fold(peaks)


def _harmony(peaks: np.ndarray, hop_s: float) -> np.ndarray:
    views = _unit(_fold(note_strengths(peaks))) + _unit(_fold(peaks))
    return uniform_filter1d(views, max(1, round(_SMOOTH_S / hop_s)), axis=0, mode="nearest")


KINDS = {"salience": _salience, "energy": _energy, "harmony": _harmony}
"""Chroma kind -> (band peaks, hop in seconds) -> unnormalised (n_frames, 12) chroma."""


def _analyse(samples: np.ndarray, sample_rate: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Semitone-band peaks (n_frames, 176) and RMS level (dBFS) of windows centred every `hop` samples."""
    n_fft = 1 << int(np.ceil(np.log2(_WINDOW_S * sample_rate)))
    padded = np.pad(samples, (n_fft // 2, n_fft // 2))
    windows = sliding_window_view(padded, n_fft)[::hop][: 1 + samples.size // hop]
    taper = np.hanning(n_fft)
    # Loudness comes from the window's middle 50 ms only, so voicing follows the audio more closely than
    # the long window that pitch resolution needs.
    reach = min(n_fft // 2, round(_LEVEL_S * sample_rate / 2))
    middle = slice(n_fft // 2 - reach, n_fft // 2 + reach + 1)
    peaks, level = [], []
    # Blocks of frames bound the memory of long clips (a several-thousand-point spectrum per frame).
    for first in range(0, windows.shape[0], _BLOCK):
        block = windows[first : first + _BLOCK]
        magnitude = np.abs(np.fft.rfft(block * taper, axis=1))
        peaks.append(_band_peaks(magnitude, n_fft, sample_rate))
        level.append(10 * np.log10(np.mean(block[:, middle] ** 2, axis=1) + _TINY))
    return np.concatenate(peaks), np.concatenate(level)


def _band_peaks(magnitude: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
    """(n_frames, 176): each frame's largest magnitude within every semitone band (MIDI 0..175)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    bins = np.flatnonzero(freqs > 20.0)
    band = np.round(69 + 12 * np.log2(freqs[bins] / 440.0)).astype(int)
    keep = band < _BANDS
    bins, band = bins[keep], band[keep]
    # Bands rise with frequency, so each band's bins form one run and reduceat takes its maximum.
    starts = np.r_[0, np.flatnonzero(np.diff(band)) + 1]
    peaks = np.zeros((magnitude.shape[0], _BANDS))
    peaks[:, band[starts]] = np.maximum.reduceat(magnitude[:, bins], starts, axis=1)
    return peaks
