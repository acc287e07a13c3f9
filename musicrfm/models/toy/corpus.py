"""Synthetic training music for the toy model, written directly in toy-codec tokens from a seed.

Each clip has a style - mode (happy = major, sad = harmonic minor), tempo (fast or slow notes), energy
(calm = soft, energetic = loud), instrument (piano: bright, decaying; organ: brightest, steady; flute:
dark, steady) and texture (a bare melody, or chords: a bass on each bar's chord root under a melody
that favours chord tones). Keys are uniform over all twelve tonics and the melody ranges over three
octaves, so every pitch class is common. The prompt names a random subset of the style's words, so
unnamed attributes are learned as "any", which is what classifier-free guidance contrasts against.

>>> clip = sample_clip(np.random.default_rng(0), frames=50)
>>> clip.codes.shape, clip.codes.dtype
((4, 50), dtype('int64'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicrfm.checks import is_int
from musicrfm.models.toy.tokens import (
    BASS,
    DYNAMICS,
    MELODY_LOW_MIDI,
    NO_BASS,
    NUM_BRIGHTNESS,
    NUM_OCTAVES,
    OCTAVE,
    PITCH,
    REST,
)

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 11)}
# Progressions as scale-degree indices (0 = tonic triad); triads are stacked thirds inside the scale, so
# harmonic minor's dominant (degree 4) is major, as in common practice.
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 0, 4), (0, 5, 1, 4))
STYLE_WORDS: dict[str, tuple[str, str] | tuple[str, str, str]] = {
    "mode": ("happy", "sad"),
    "tempo": ("fast", "slow"),
    "energy": ("calm", "energetic"),
    "instrument": ("piano", "organ", "flute"),
    "texture": ("melody", "chords"),
}
VOCABULARY = tuple(word for words in STYLE_WORDS.values() for word in words)
NOTE_FRAMES = {"fast": (3, 4, 5, 6), "slow": (9, 11, 13, 16)}
BAR_NOTES = 4
BRIGHTNESS = {"piano": 2, "organ": 3, "flute": 0}
LEVELS = {"calm": (0, 1), "energetic": (2, 3)}
PIANO_DECAY_FRAMES = 5
"""A piano note drops one loudness level every this many frames, down to one below its base level."""
MELODY_SPAN = 12 * NUM_OCTAVES
PROMPT_WORD_P = 0.75


@dataclass(frozen=True)
class ToyClip:
    """Codes `(4, frames)` of one clip, its full style (word per attribute) and its text prompt."""

    codes: np.ndarray
    style: dict[str, str]
    prompt: str


def sample_clip(rng: np.random.Generator, frames: int) -> ToyClip:
    """One random clip of `frames` frames: a style, a prompt naming part of it, and the music."""
    style = {attribute: str(rng.choice(words)) for attribute, words in STYLE_WORDS.items()}
    named = [word for word in style.values() if rng.random() < PROMPT_WORD_P]
    prompt = " ".join(rng.permutation(named)) if named else ""
    return ToyClip(codes=render_style(rng, style, frames), style=style, prompt=prompt)


def render_style(rng: np.random.Generator, style: dict[str, str], frames: int) -> np.ndarray:
    """Codes `(4, frames)` of a random piece in `style` (every attribute of STYLE_WORDS given)."""
    _check_request(style, frames)
    tonic = int(rng.integers(12))
    scale = np.array(SCALES["major" if style["mode"] == "happy" else "minor"])
    in_key = np.isin((np.arange(12) - tonic) % 12, scale)
    note_frames = NOTE_FRAMES[style["tempo"]]
    bar_frames = BAR_NOTES * int(np.median(note_frames))
    progression = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    melody = np.full(frames, -1)
    level = np.zeros(frames, dtype=np.int64)
    bass = np.full(frames, NO_BASS)
    pitch = MELODY_LOW_MIDI + int(rng.integers(6, MELODY_SPAN - 6))
    start = 0
    while start < frames:
        length = int(rng.choice(note_frames))
        bar = start // bar_frames
        chord = _triad(tonic, scale, progression[bar % len(progression)])
        on_bar_start = start % bar_frames < length
        pitch = _next_pitch(rng, pitch, in_key, chord, prefer_chord=on_bar_start or style["texture"] == "chords")
        end = min(frames, start + length)
        phrase_end = (bar % 2 == 1) and (start + length) // bar_frames > bar
        if not (phrase_end and rng.random() < 0.5):
            melody[start:end] = pitch
            level[start:end] = _envelope(rng, style, end - start)
        if style["texture"] == "chords":
            bass[start:end] = chord[0] % 12
        start = end
    return _codes(melody, level, BRIGHTNESS[style["instrument"]], bass)


def _check_request(style: dict[str, str], frames: int) -> None:
    if not is_int(frames) or frames < 1:
        raise ValueError(f"frames must be a positive integer, got {frames!r}")
    if not isinstance(style, dict):
        raise TypeError(f"style must be a dict of attribute -> word, got {type(style).__name__}")
    for attribute, words in STYLE_WORDS.items():
        if style.get(attribute) not in words:
            raise ValueError(f"style[{attribute!r}] must be one of {words}, got {style.get(attribute)!r}")


def _triad(tonic: int, scale: np.ndarray, degree: int) -> np.ndarray:
    """Pitch classes (root, third, fifth) of the triad on a scale degree."""
    return np.array([(tonic + scale[(degree + step) % 7]) % 12 for step in (0, 2, 4)])


def _next_pitch(rng: np.random.Generator, pitch: int, in_key: np.ndarray, chord: np.ndarray,
                prefer_chord: bool) -> int:
    """A new melody note near `pitch` in the key (`in_key`: 12 flags by pitch class), favouring chord
    tones; never the same note again."""
    low, high = MELODY_LOW_MIDI, MELODY_LOW_MIDI + MELODY_SPAN - 1
    candidates = np.arange(max(low, pitch - 7), min(high, pitch + 7) + 1)
    in_scale = in_key[candidates % 12]
    in_chord = np.isin(candidates % 12, chord)
    distance = np.abs(candidates - pitch)
    weight = in_scale * np.exp(-distance / 2.5) * (1.0 + (6.0 if prefer_chord else 1.0) * in_chord)
    weight[candidates == pitch] = 0.0
    # Drift back towards the middle of the range so that all three octaves stay in use.
    weight *= np.exp(-np.abs(candidates - (low + high) / 2) / 24.0)
    return int(rng.choice(candidates, p=weight / weight.sum()))


def _envelope(rng: np.random.Generator, style: dict[str, str], length: int) -> np.ndarray:
    """Loudness levels over one note: steady, or a decaying strike for the piano."""
    base = int(rng.choice(LEVELS[style["energy"]]))
    if style["instrument"] != "piano":
        return np.full(length, base)
    top = min(base + 1, 3)
    return np.maximum(top - np.arange(length) // PIANO_DECAY_FRAMES, max(base - 1, 0))


def _codes(melody: np.ndarray, level: np.ndarray, brightness: int, bass: np.ndarray) -> np.ndarray:
    sounding = melody >= 0
    offset = np.where(sounding, melody - MELODY_LOW_MIDI, 0)
    codes = np.zeros((4, melody.size), dtype=np.int64)
    codes[PITCH] = np.where(sounding, offset % 12, REST)
    codes[OCTAVE] = np.where(sounding, offset // 12, 0)
    codes[DYNAMICS] = np.where(sounding, level * NUM_BRIGHTNESS + brightness, 0)
    codes[BASS] = bass
    return codes
