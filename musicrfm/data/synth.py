"""A pure-numpy additive synthesiser: the fallback renderer when FluidSynth is missing.

Each General MIDI family gets a timbre (harmonic amplitudes and an attack / decay / sustain / release
envelope); percussion keys become short tuned clicks with a little seeded noise. Rendering is a few
vectorised sines per note, so hundreds of clips take seconds.

>>> from musicrfm.data.specs import ClipSpec, NoteEvent
>>> spec = ClipSpec((NoteEvent(69, 0.0, 0.5, 100),), program=0, is_drum=False, duration_s=1.0)
>>> render_numpy(spec, 16000).shape
(16000,)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicrfm.data.specs import ClipSpec


@dataclass(frozen=True)
class Timbre:
    """Harmonic k's amplitude is partials[k-1]; the envelope rises over `attack_s`, decays with time
    constant `decay_s` towards `sustain`, and fades with time constant `release_s` after note-off."""

    partials: tuple[float, ...]
    attack_s: float
    decay_s: float
    sustain: float
    release_s: float


def _power_law(n: int, exponent: float) -> tuple[float, ...]:
    return tuple(1.0 / k**exponent for k in range(1, n + 1))


# Keyed by GM family (program // 8); programs of families not listed here use the piano timbre.
_FAMILY_TIMBRES: dict[int, Timbre] = {
    0: Timbre(_power_law(10, 1.5), 0.005, 0.6, 0.05, 0.15),  # pianos: bright strike, decaying
    1: Timbre((1.0, 0.05, 0.02, 0.3), 0.002, 0.8, 0.0, 0.3),  # mallets: near-pure, 4th-partial shimmer
    2: Timbre((1.0, 0.8, 0.5, 0.6, 0.0, 0.4, 0.0, 0.3), 0.01, 1.0, 1.0, 0.05),  # drawbar organs
    3: Timbre(_power_law(10, 2.0), 0.003, 0.4, 0.0, 0.1),  # plucked guitars
    5: Timbre(_power_law(12, 1.0), 0.12, 1.0, 1.0, 0.2),  # bowed strings: sawtooth-like
    6: Timbre(_power_law(12, 1.2), 0.2, 1.0, 1.0, 0.25),  # ensembles and choir
    7: Timbre(_power_law(10, 0.8), 0.05, 0.5, 0.9, 0.1),  # brass
    8: Timbre((1.0, 0.2, 0.6, 0.15, 0.4, 0.1, 0.25), 0.03, 1.0, 1.0, 0.08),  # reeds: odd harmonics lead
    9: Timbre((1.0, 0.15, 0.05, 0.02), 0.04, 1.0, 1.0, 0.08),  # flutes: nearly sinusoidal
    10: Timbre(_power_law(12, 1.0), 0.01, 1.0, 1.0, 0.05),  # synth leads
    11: Timbre(_power_law(10, 1.2), 0.3, 1.0, 1.0, 0.3),  # synth pads
}

_TABLE_BITS = 13
_TABLE_SIZE = 2**_TABLE_BITS
_MAX_RELEASE_TAIL = 5.0
"""Release is computed for this many time constants; beyond that the note is inaudible."""


def timbre_for(program: int) -> Timbre:
    """The additive timbre used for a General MIDI program."""
    return _FAMILY_TIMBRES.get(program // 8, _FAMILY_TIMBRES[0])


def _envelope(timbre: Timbre, n_on: int, n_total: int, sample_rate: int) -> np.ndarray:
    t = np.arange(n_total, dtype=np.float32) / sample_rate
    env = np.minimum(1.0, t / max(timbre.attack_s, 1e-4))
    if timbre.sustain < 1.0:
        decay = np.exp(-np.maximum(t - timbre.attack_s, 0.0) / timbre.decay_s)
        env *= timbre.sustain + (1.0 - timbre.sustain) * decay
    if n_total > n_on:
        # The release starts from wherever the envelope stood at note-off, so it never jumps.
        env[n_on:] = env[n_on - 1] * np.exp(-(t[n_on:] - t[n_on - 1]) / timbre.release_s)
    return env


def _wavetable(pitch: int, timbre: Timbre, sample_rate: int, n: int) -> np.ndarray:
    """n samples of the timbre's waveform at the pitch: one period is summed from the partials once, then
    read back at the note's rate, one table look-up per sample instead of one sine per partial."""
    freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    phase = 2.0 * np.pi * np.arange(_TABLE_SIZE) / _TABLE_SIZE
    table = np.zeros(_TABLE_SIZE, dtype=np.float32)
    for k, amp in enumerate(timbre.partials, start=1):
        if k * freq < sample_rate / 2:  # partials above Nyquist would alias into wrong pitches
            table += amp * np.sin(k * phase).astype(np.float32)
    # A 32-bit fixed-point phase accumulator: integer wrap-around does the modulo for free.
    step = round(freq / sample_rate * 2**32)
    index = ((np.arange(n, dtype=np.int64) * step) & 0xFFFFFFFF) >> (32 - _TABLE_BITS)
    return table[index]


def _strike(pitches: list[int], length_s: float, timbre: Timbre, sample_rate: int, room: int) -> np.ndarray:
    """Pitches struck together for `length_s`, sharing one envelope, with their release tail."""
    n_on = max(1, round(length_s * sample_rate))
    n_total = min(room, n_on + round(_MAX_RELEASE_TAIL * timbre.release_s * sample_rate))
    wave = sum(_wavetable(pitch, timbre, sample_rate, n_total) for pitch in pitches)
    return wave * _envelope(timbre, min(n_on, n_total), n_total, sample_rate)


def _click(key: int, start: int, sample_rate: int, room: int) -> np.ndarray:
    """A percussion hit: a decaying tone whose pitch follows the key, plus a short burst of noise."""
    decay = 0.015 if key >= 42 else 0.03
    n = min(room, round(6 * decay * sample_rate))
    t = np.arange(n) / sample_rate
    freq = 220.0 * 2.0 ** ((key - 36) / 24.0)
    # Noise is seeded by the hit itself so the same clip always renders the same samples.
    noise = np.random.default_rng([key, start]).standard_normal(n)
    return (np.sin(2 * np.pi * freq * t) + 0.3 * noise * np.exp(-t / (decay / 3))) * np.exp(-t / decay)


def render_numpy(spec: ClipSpec, sample_rate: int) -> np.ndarray:
    """Render a clip spec to mono float32 of exactly duration_s * sample_rate samples (not normalised)."""
    out = np.zeros(round(spec.duration_s * sample_rate), dtype=np.float32)
    timbre = timbre_for(spec.program)
    strikes: dict[tuple[float, float, int], list[int]] = {}
    for event in spec.events:
        strikes.setdefault((event.start, event.end, event.velocity), []).append(event.pitch)
    for (start_s, end_s, velocity), pitches in strikes.items():
        start = round(start_s * sample_rate)
        room = len(out) - start
        if room <= 0:
            continue
        if spec.is_drum:
            sound = sum(_click(pitch, start, sample_rate, room) for pitch in pitches)
        else:
            sound = _strike(pitches, end_s - start_s, timbre, sample_rate, room)
        out[start : start + len(sound)] += (velocity / 127.0) ** 1.5 * sound
    return out
