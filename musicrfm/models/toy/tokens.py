"""The toy codec's token layout: what each of the four codebooks means, and the sound each token makes.

One frame holds four tokens, one per codebook (all codebooks share a 16-token vocabulary):

- codebook 0, melody pitch class: 0..11 (C..B), 12 = rest (13..15 also decode as a rest);
- codebook 1, melody octave: 0..2, the melody note being MIDI 60 + 12 * octave + pitch class (C4..B6);
  tokens above 2 decode as octave 2;
- codebook 2, dynamics: 4 * loudness level (0..3) + brightness (0 dark .. 3 bright);
- codebook 3, bass pitch class: 0..11, a pure tone at MIDI 36 + pitch class (C2..B2); 12..15 = no bass.

The melody is a harmonic tone whose partial amplitudes fall as k**-alpha (alpha set by the brightness) and
sum to the loudness level's gain. The bass sits more than an octave below the lowest melody note, so the
analysis can read both voices from one spectrum. In a rest frame the octave and dynamics tokens carry no
sound; `canonical` sets them to 0, the form the analysis returns.

>>> melody_midi(torch.tensor([9]), torch.tensor([0])).tolist()
[69]
>>> canonical(torch.tensor([[12], [2], [7], [3]])).flatten().tolist()
[12, 0, 0, 3]
"""

from __future__ import annotations

import torch

NUM_CODEBOOKS = 4
CODEBOOK_SIZE = 16
PITCH, OCTAVE, DYNAMICS, BASS = range(NUM_CODEBOOKS)

REST = 12
NO_BASS = 12
NUM_OCTAVES = 3
NUM_LEVELS = 4
NUM_BRIGHTNESS = 4
MELODY_LOW_MIDI = 60
BASS_LOW_MIDI = 36

LEVEL_GAINS = (0.2, 0.32, 0.5, 0.8)
"""Sum of the melody's partial amplitudes per loudness level (about 4 dB apart; the loudest peaks below 1)."""
BRIGHTNESS_ALPHAS = (2.5, 1.6, 1.0, 0.6)
"""Partial k of the melody has amplitude proportional to k**-alpha: dark (fundamental only) to bright."""
BASS_GAIN = 0.04
"""Quiet enough that the melody dominates a frame's chroma even at its softest and brightest."""
MAX_PARTIALS = 8
PARTIAL_CEILING_HZ = 7000.0
"""Partials at or above this frequency are left out (it keeps them below the Nyquist rate at 16 kHz)."""


def midi_to_hz(midi: torch.Tensor) -> torch.Tensor:
    """Equal-tempered frequency of (possibly fractional) MIDI numbers, A4 = 440 Hz, in float64."""
    return 440.0 * 2.0 ** ((midi.double() - 69.0) / 12.0)


def melody_midi(pitch: torch.Tensor, octave: torch.Tensor) -> torch.Tensor:
    """MIDI number of melody tokens (pitch classes must be 0..11; octave tokens above 2 clamp to 2)."""
    return MELODY_LOW_MIDI + 12 * octave.clamp(max=NUM_OCTAVES - 1) + pitch


def partial_templates(f0: torch.Tensor) -> torch.Tensor:
    """Relative partial amplitudes `(..., NUM_BRIGHTNESS, MAX_PARTIALS)` for fundamentals `f0` in Hz.

    Partials at or above the ceiling are zero; each template's audible partials sum to 1.
    """
    k = torch.arange(1, MAX_PARTIALS + 1, dtype=torch.float64, device=f0.device)
    alphas = torch.tensor(BRIGHTNESS_ALPHAS, dtype=torch.float64, device=f0.device)
    audible = (f0[..., None] * k < PARTIAL_CEILING_HZ).double()[..., None, :]
    shape = k ** -alphas[:, None] * audible
    return shape / shape.sum(dim=-1, keepdim=True)


def canonical(codes: torch.Tensor) -> torch.Tensor:
    """The codes the analysis returns for the sound of `codes` (..., 4, frames): silent fields zeroed."""
    out = codes.clone()
    rest = out[..., PITCH, :] >= REST
    out[..., PITCH, :][rest] = REST
    out[..., OCTAVE, :] = out[..., OCTAVE, :].clamp(max=NUM_OCTAVES - 1)
    out[..., OCTAVE, :][rest] = 0
    out[..., DYNAMICS, :][rest] = 0
    out[..., BASS, :] = out[..., BASS, :].clamp(max=NO_BASS)
    return out
