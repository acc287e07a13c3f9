"""Frame analysis for the toy codec: audio back to tokens, exact for the codec's own synthesis.

Each frame (one hop of samples) is windowed with a 4-term Blackman-Harris window, whose sidelobes are low
enough that the partials of the two voices never disturb each other, and zero-padded to a fine frequency
grid. Reading the normalised magnitude at a frequency then gives the amplitude of a partial there.

- melody: the candidate note (C4..B6) with the largest harmonic sum (partial k weighted 1/k, which puts a
  note above its sub-octaves); its partial amplitudes give the loudness (their sum) and the brightness
  (the nearest template); a sum below a threshold is a rest;
- bass: the candidate C2..B2 with the largest magnitude, if it is loud enough and a spectral peak (so a
  melody-range note of other audio does not leak into it).

>>> import torch
>>> from musicrfm.models.toy.synthesis import synthesize
>>> codes = torch.tensor([[[4, 4, 12], [1, 1, 0], [13, 13, 0], [0, 0, 7]]])
>>> analyse(synthesize(codes, sample_rate=16000, hop_length=640), sample_rate=16000, hop_length=640).tolist()
[[[4, 4, 12], [1, 1, 0], [13, 13, 0], [0, 0, 7]]]
"""

from __future__ import annotations

import math

import torch

from musicrfm.models.toy.tokens import (
    BASS_GAIN,
    BASS_LOW_MIDI,
    LEVEL_GAINS,
    MAX_PARTIALS,
    MELODY_LOW_MIDI,
    NO_BASS,
    NUM_BRIGHTNESS,
    NUM_OCTAVES,
    REST,
    midi_to_hz,
    partial_templates,
)

FFT_SIZE = 4096
REST_THRESHOLD = 0.3 * LEVEL_GAINS[0]
"""A melody whose partials sum to less than this is a rest (the synthesis leaks far less in silence)."""
BASS_THRESHOLD = 0.5 * BASS_GAIN
_BLACKMAN_HARRIS = (0.35875, 0.48829, 0.14128, 0.01168)
_PEAK_SPAN = 0.5
"""A bass candidate must not be beaten by the spectrum half a semitone to either side."""


def analyse(audio: torch.Tensor, *, sample_rate: int, hop_length: int) -> torch.Tensor:
    """Codes `(B, 4, ceil(samples / hop_length))` int64 for mono audio `(B, 1, samples)`."""
    frames = _frames(audio[:, 0].double(), hop_length)
    spectrum = _magnitudes(frames)
    bin_per_hz = FFT_SIZE / sample_rate
    pitch, octave, dynamics = _melody(spectrum, bin_per_hz)
    bass = _bass(spectrum, bin_per_hz)
    return torch.stack([pitch, octave, dynamics, bass], dim=1)


def _frames(audio: torch.Tensor, hop: int) -> torch.Tensor:
    """(B, T, hop) frames, the last one zero-padded."""
    count = max(1, math.ceil(audio.shape[-1] / hop))
    padded = torch.nn.functional.pad(audio, (0, count * hop - audio.shape[-1]))
    return padded.reshape(audio.shape[0], count, hop)


def _magnitudes(frames: torch.Tensor) -> torch.Tensor:
    """Windowed magnitude spectra scaled so that a sinusoid of amplitude A peaks at A."""
    n = frames.shape[-1]
    x = 2 * torch.pi * torch.arange(n, dtype=torch.float64, device=frames.device) / n
    window = sum(((-1) ** i) * c * torch.cos(i * x) for i, c in enumerate(_BLACKMAN_HARRIS))
    return torch.fft.rfft(frames * window, n=FFT_SIZE).abs() * (2.0 / window.sum())


def _read(spectrum: torch.Tensor, hz: torch.Tensor, bin_per_hz: float) -> torch.Tensor:
    """Linearly interpolated magnitudes (B, T, *hz.shape) at the frequencies `hz` (any shape)."""
    position = (hz * bin_per_hz).clamp(max=spectrum.shape[-1] - 2).flatten()
    low = position.floor().long()
    frac = position - low
    values = spectrum[..., low] * (1 - frac) + spectrum[..., low + 1] * frac
    return values.reshape(*spectrum.shape[:-1], *hz.shape)


def _melody(spectrum: torch.Tensor, bin_per_hz: float) -> tuple[torch.Tensor, ...]:
    device = spectrum.device
    midi = torch.arange(MELODY_LOW_MIDI, MELODY_LOW_MIDI + 12 * NUM_OCTAVES, device=device)
    f0 = midi_to_hz(midi)
    k = torch.arange(1, MAX_PARTIALS + 1, dtype=torch.float64, device=device)
    templates = partial_templates(f0)  # (notes, brightness, K)
    audible = templates[:, 0] > 0
    partials = _read(spectrum, f0[:, None] * k, bin_per_hz) * audible  # (B, T, notes, K)
    best = ((partials / k).sum(-1)).argmax(-1)  # (B, T)
    amps = partials.gather(2, best[..., None, None].expand(-1, -1, 1, MAX_PARTIALS))[:, :, 0]
    total = amps.sum(-1)
    gains = torch.tensor(LEVEL_GAINS, dtype=torch.float64, device=device)
    level = (total.clamp(min=1e-12).log()[..., None] - gains.log()).abs().argmin(-1)
    shape = amps / total.clamp(min=1e-12)[..., None]
    brightness = (shape[..., None, :] - templates[best]).abs().sum(-1).argmin(-1)
    sounding = total >= REST_THRESHOLD
    pitch = torch.where(sounding, best % 12, REST)
    octave = torch.where(sounding, best // 12, 0)
    dynamics = torch.where(sounding, level * NUM_BRIGHTNESS + brightness, 0)
    return pitch, octave, dynamics


def _bass(spectrum: torch.Tensor, bin_per_hz: float) -> torch.Tensor:
    notes = BASS_LOW_MIDI + torch.arange(12, device=spectrum.device)
    offsets = torch.tensor([-_PEAK_SPAN, 0.0, _PEAK_SPAN], dtype=torch.float64, device=spectrum.device)
    around = _read(spectrum, midi_to_hz(notes[:, None] + offsets), bin_per_hz)  # (B, T, 12, 3)
    level, best = around[..., 1].max(-1)
    sides = around.gather(2, best[..., None, None].expand(-1, -1, 1, 3))[:, :, 0]
    is_peak = (sides[..., 1] >= sides[..., 0]) & (sides[..., 1] >= sides[..., 2])
    return torch.where((level >= BASS_THRESHOLD) & is_peak, best, NO_BASS)
