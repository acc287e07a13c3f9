"""Additive synthesis of toy-codec tokens: frame-wise constant partials with continuous phase.

Every frame holds its partials' frequencies and amplitudes constant, except for a short linear amplitude
ramp at its start (from the previous frame's amplitude), which removes clicks yet stays where the
analysis window is nearly zero. Phases are accumulated over the whole clip, so a held note is one
unbroken sinusoid per partial.

>>> codes = torch.tensor([[[9] * 4, [0] * 4, [10] * 4, [12] * 4]])  # A4, level 2, brightness 2, no bass
>>> synthesize(codes, sample_rate=16000, hop_length=640).shape
torch.Size([1, 1, 2560])
"""

from __future__ import annotations

import torch

from musicrfm.models.toy.tokens import (
    BASS,
    BASS_GAIN,
    BASS_LOW_MIDI,
    DYNAMICS,
    LEVEL_GAINS,
    NO_BASS,
    NUM_BRIGHTNESS,
    OCTAVE,
    PITCH,
    REST,
    melody_midi,
    midi_to_hz,
    partial_templates,
)

RAMP_S = 0.005
"""Length of the amplitude ramp at the start of each frame."""


def synthesize(codes: torch.Tensor, *, sample_rate: int, hop_length: int) -> torch.Tensor:
    """Audio `(B, 1, frames * hop_length)` float32 for codes `(B, 4, frames)`, on the codes' device."""
    melody_hz, melody_amps, bass_hz, bass_amp = _frame_parameters(codes.long())
    ramp = _ramp(hop_length, max(1, round(RAMP_S * sample_rate)), codes.device)
    audio = _voice(bass_hz, bass_amp[..., None], ramp, sample_rate, hop_length)
    audio = audio + _voice(melody_hz, melody_amps, ramp, sample_rate, hop_length)
    return audio.float()[:, None, :]


def _frame_parameters(codes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-frame melody f0 (B, T), partial amplitudes (B, T, K), bass frequency (B, T) and amplitude (B, T).

    Silent frames keep the previous frame's frequency, so a voice fades out at the pitch it had.
    """
    pitch, octave, dynamics, bass = (codes[:, i] for i in (PITCH, OCTAVE, DYNAMICS, BASS))
    sounding = pitch < REST
    midi = melody_midi(pitch.clamp(max=REST - 1), octave)
    melody_hz = _hold_last(midi_to_hz(midi), sounding)
    gains = torch.tensor(LEVEL_GAINS, dtype=torch.float64, device=codes.device)[dynamics // NUM_BRIGHTNESS]
    shapes = partial_templates(melody_hz)  # (B, T, brightness, K)
    index = (dynamics % NUM_BRIGHTNESS)[..., None, None].expand(-1, -1, 1, shapes.shape[-1])
    melody_amps = shapes.gather(2, index)[:, :, 0] * (gains * sounding)[..., None]
    has_bass = bass < NO_BASS
    bass_hz = _hold_last(midi_to_hz(BASS_LOW_MIDI + bass.clamp(max=NO_BASS - 1)), has_bass)
    return melody_hz, melody_amps, bass_hz, BASS_GAIN * has_bass.double()


def _hold_last(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Replace entries where `valid` is False (B, T) with the last valid entry before them (or the first after)."""
    frames = torch.arange(values.shape[-1], device=values.device).expand_as(values)
    last = torch.cummax(torch.where(valid, frames, -1), dim=-1).values
    first = torch.where(valid.any(-1, keepdim=True), torch.argmax(valid.int(), dim=-1, keepdim=True), 0)
    return values.gather(-1, torch.where(last >= 0, last, first))


def _ramp(hop_length: int, ramp_samples: int, device: torch.device) -> torch.Tensor:
    """Weight of the current frame's amplitude at each sample of a frame (the rest is the previous one's)."""
    n = torch.arange(hop_length, dtype=torch.float64, device=device)
    return ((n + 0.5) / ramp_samples).clamp(max=1.0)


def _voice(f0: torch.Tensor, amps: torch.Tensor, ramp: torch.Tensor, sample_rate: int, hop: int) -> torch.Tensor:
    """Sum of harmonic partials k * f0 with per-frame amplitudes `amps` (B, T, K), as (B, T * hop) samples."""
    batch, frames, partials = amps.shape
    phase = torch.cumsum(f0.repeat_interleave(hop, dim=-1) * (2 * torch.pi / sample_rate), dim=-1)
    # Phase starts at zero on the first sample; the cumulative sum starts one step ahead.
    phase = phase - phase[..., :1]
    previous = torch.cat([amps.new_zeros(batch, 1, partials), amps[:, :-1]], dim=1)
    out = torch.zeros(batch, frames * hop, dtype=torch.float64, device=amps.device)
    for k in range(partials):
        if not bool(amps[..., k].any()):
            continue
        envelope = previous[..., k, None] + (amps[..., k, None] - previous[..., k, None]) * ramp
        out += envelope.reshape(batch, -1) * torch.sin((k + 1) * phase)
    return out
