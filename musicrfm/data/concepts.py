"""The concept registry: which musical concepts can be generated, their classes and their task.

>>> get_concept("notes").classes[:3]
('C', 'C#', 'D')
>>> get_concept("tempo").task
'regression'
"""

from __future__ import annotations

from dataclasses import dataclass

from musicrfm.data.theory import (
    CHORD_QUALITIES,
    INTERVALS,
    PITCH_CLASSES,
    PROGRESSIONS,
    SCALES,
    TIME_SIGNATURES,
)

TEMPO_RANGE = (60, 180)
TEMPO_BIN_WIDTH = 20
_TEMPO_BINS = tuple(f"{lo}-{lo + TEMPO_BIN_WIDTH}" for lo in range(*TEMPO_RANGE, TEMPO_BIN_WIDTH))


@dataclass(frozen=True)
class Concept:
    """One concept: its class names (for regression, equal-width target bins used as strata), task and
    default clip length, and where it lives in the public SynTheory dataset (config, label column)."""

    name: str
    task: str
    classes: tuple[str, ...]
    default_duration_s: float
    description: str
    syntheory: tuple[str, str]

    def class_index(self, label: str) -> int:
        """Position of `label` in `classes`; ValueError naming the valid ones otherwise."""
        if label not in self.classes:
            raise ValueError(f"classes: {label!r} is not a class of concept {self.name!r}; valid: {list(self.classes)}")
        return self.classes.index(label)


def tempo_bin(bpm: float) -> str:
    """The tempo concept's class (a BPM range such as '100-120') holding `bpm`."""
    lo, hi = TEMPO_RANGE
    if not lo <= bpm <= hi:
        raise ValueError(f"bpm must lie in [{lo}, {hi}], got {bpm!r}")
    # The top edge belongs to the last bin so the whole closed range maps somewhere.
    return _TEMPO_BINS[min(int((bpm - lo) // TEMPO_BIN_WIDTH), len(_TEMPO_BINS) - 1)]

# SynTheory label columns: those of notes, intervals, scales and chords are from the dataset card; the
# tempo, time-signature and progression ones are unverified guesses (load_syntheory takes label_column).
CONCEPTS: dict[str, Concept] = {
    c.name: c
    for c in (
        Concept("notes", "classification", PITCH_CLASSES, 2.0, "single held notes; label = pitch class",
                ("notes", "root_note_name")),
        Concept("intervals", "classification", INTERVALS, 2.0,
                "two notes, together or one after the other; label = interval", ("intervals", "interval")),
        Concept("scales", "classification", tuple(SCALES), 4.0,
                "a scale or mode played up or down from its root; label = scale", ("scales", "mode")),
        Concept("chords", "classification", tuple(CHORD_QUALITIES), 2.0,
                "a block chord on any root, in any inversion; label = quality", ("chords", "chord_type")),
        Concept("progressions", "classification", tuple(PROGRESSIONS), 4.0,
                "four chords in a major or minor key; label = progression",
                ("simple_progressions", "chord_progression")),
        Concept("tempo", "regression", _TEMPO_BINS, 4.0,
                "a click track in 4/4; target = BPM, label = BPM range", ("tempos", "bpm")),
        Concept("time_signatures", "classification", tuple(TIME_SIGNATURES), 4.0,
                "an accented click track; label = time signature", ("time_signatures", "time_signature")),
    )
}


def get_concept(name: str) -> Concept:
    """The registered concept called `name`; ValueError listing the valid names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"concept must be a string, got {type(name).__name__}")
    if name not in CONCEPTS:
        raise ValueError(f"concept: unknown concept {name!r}; valid concepts: {sorted(CONCEPTS)}")
    return CONCEPTS[name]
