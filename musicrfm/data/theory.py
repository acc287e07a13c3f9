"""Music-theory tables behind the concept datasets: pitch names, intervals, chords, scales, progressions,
metres, and the General MIDI instruments and percussion kits the clips are played on.

>>> PITCH_CLASSES[7], CHORD_QUALITIES["minor7"], SCALES["dorian"]
('G', (0, 3, 7, 10), (0, 2, 3, 5, 7, 9, 10))
>>> progression_chords("i-VI-III-VII")
((0, 'minor'), (8, 'major'), (3, 'major'), (10, 'major'))
"""

from __future__ import annotations

from collections.abc import Iterable

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

INTERVALS = ("m2", "M2", "m3", "M3", "P4", "TT", "P5", "m6", "M6", "m7", "M7", "P8")
"""Interval names for 1..12 semitones."""

CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "major": (0, 4, 7),
    "minor": (0, 3, 7),
    "diminished": (0, 3, 6),
    "augmented": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "dominant7": (0, 4, 7, 10),
    "major7": (0, 4, 7, 11),
    "minor7": (0, 3, 7, 10),
}

_IONIAN_STEPS = (2, 2, 1, 2, 2, 2, 1)
_MODE_NAMES = ("ionian", "dorian", "phrygian", "lydian", "mixolydian", "aeolian", "locrian")


def _offsets(steps: Iterable[int]) -> tuple[int, ...]:
    """Semitone offsets from the root of a scale given its steps (the last step returns to the octave)."""
    out, total = [0], 0
    for step in list(steps)[:-1]:
        total += step
        out.append(total)
    return tuple(out)


# Church modes are rotations of the major scale's step pattern, so derive them rather than type seven rows.
SCALES: dict[str, tuple[int, ...]] = {
    name: _offsets(_IONIAN_STEPS[k:] + _IONIAN_STEPS[:k]) for k, name in enumerate(_MODE_NAMES)
}
SCALES.update(
    harmonic_minor=(0, 2, 3, 5, 7, 8, 11),
    melodic_minor=(0, 2, 3, 5, 7, 9, 11),
    major_pentatonic=(0, 2, 4, 7, 9),
    minor_pentatonic=(0, 3, 5, 7, 10),
    whole_tone=(0, 2, 4, 6, 8, 10),
)

PROGRESSIONS: dict[str, str] = {
    "I-IV-V-I": "major",
    "I-V-vi-IV": "major",
    "I-vi-IV-V": "major",
    "vi-IV-I-V": "major",
    "ii-V-I-vi": "major",
    "i-iv-v-i": "minor",
    "i-VI-III-VII": "minor",
    "i-iv-VII-III": "minor",
    "i-VII-VI-V": "minor",
    "i-ii°-V-i": "minor",
}
"""Progression name -> key mode; numerals are read against the key's diatonic scale (natural minor)."""

_NUMERALS = ("i", "ii", "iii", "iv", "v", "vi", "vii")


def roman_chord(numeral: str, mode: str) -> tuple[int, str]:
    """(root offset in semitones from the tonic, chord quality) of one Roman numeral in a major/minor key.

    Upper case is a major triad, lower case minor; a trailing ``°`` makes it diminished, ``+`` augmented.
    """
    quality = "major" if numeral.rstrip("°+").isupper() else "minor"
    if numeral.endswith("°"):
        quality = "diminished"
    elif numeral.endswith("+"):
        quality = "augmented"
    base = numeral.rstrip("°+").lower()
    if base not in _NUMERALS or mode not in ("major", "minor"):
        raise ValueError(f"numeral must be one of I..VII (optionally ° or +) in a major/minor key, got {numeral!r}")
    scale = SCALES["ionian" if mode == "major" else "aeolian"]
    return scale[_NUMERALS.index(base)], quality


def progression_chords(name: str) -> tuple[tuple[int, str], ...]:
    """The (root offset, quality) chords of a named progression from PROGRESSIONS."""
    if name not in PROGRESSIONS:
        raise ValueError(f"progression must be one of {sorted(PROGRESSIONS)}, got {name!r}")
    return tuple(roman_chord(numeral, PROGRESSIONS[name]) for numeral in name.split("-"))


TIME_SIGNATURES: dict[str, tuple[int, ...]] = {
    "2/4": (2,),
    "3/4": (3,),
    "4/4": (2, 2),
    "5/4": (3, 2),
    "6/8": (3, 3),
    "7/8": (2, 2, 3),
    "9/8": (3, 3, 3),
    "12/8": (3, 3, 3, 3),
}
"""Time signature -> pulse grouping within one bar (each group's first pulse carries a secondary accent)."""

INSTRUMENTS: dict[int, str] = {
    0: "acoustic_grand_piano", 1: "bright_acoustic_piano", 2: "electric_grand_piano", 4: "electric_piano_1",
    5: "electric_piano_2", 6: "harpsichord", 11: "vibraphone", 16: "drawbar_organ", 17: "percussive_organ",
    18: "rock_organ", 19: "church_organ", 20: "reed_organ", 21: "accordion", 22: "harmonica",
    24: "acoustic_guitar_nylon", 25: "acoustic_guitar_steel", 26: "electric_guitar_jazz",
    27: "electric_guitar_clean", 40: "violin", 41: "viola", 42: "cello", 48: "string_ensemble_1",
    49: "string_ensemble_2", 50: "synth_strings_1", 52: "choir_aahs", 56: "trumpet", 57: "trombone",
    60: "french_horn", 61: "brass_section", 64: "soprano_sax", 65: "alto_sax", 66: "tenor_sax", 68: "oboe",
    70: "bassoon", 71: "clarinet", 73: "flute", 74: "recorder", 80: "lead_square", 81: "lead_sawtooth",
    88: "pad_new_age", 89: "pad_warm", 90: "pad_polysynth",
}
"""Curated General MIDI programs (0-based) that sound pitched and clear in the bundled soundfont."""

PERCUSSION_KITS: dict[str, tuple[int, int]] = {
    "woodblock": (76, 77),
    "claves": (75, 75),
    "side_stick": (37, 37),
    "cowbell": (56, 56),
    "hihat": (42, 42),
    "kick_hihat": (36, 42),
    "bongos": (60, 61),
}
"""Click kits for rhythm concepts: (accented key, plain key) on the General MIDI percussion channel."""


def resolve_instruments(instruments: Iterable[int | str] | None) -> tuple[int, ...]:
    """Validate a user's instrument choice (GM program numbers or names from INSTRUMENTS) as programs."""
    if instruments is None:
        return tuple(INSTRUMENTS)
    if isinstance(instruments, (str, int)):
        raise TypeError("instruments must be a list of GM program numbers or names, not a single value")
    by_name = {name: program for program, name in INSTRUMENTS.items()}
    programs = []
    for item in instruments:
        program = by_name.get(item) if isinstance(item, str) else item
        if isinstance(program, bool) or program not in INSTRUMENTS:
            raise ValueError(
                f"instruments: unknown instrument {item!r}; choose from {sorted(by_name)} or their GM programs"
            )
        programs.append(int(program))
    if not programs:
        raise ValueError("instruments must not be empty")
    return tuple(dict.fromkeys(programs))
