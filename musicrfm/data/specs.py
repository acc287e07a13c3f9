"""Clip plans: what each clip of a concept dataset plays, before any audio is rendered.

Each class cycles through a seeded shuffle of its nuisance grid (root, octave or inversion, play style,
instrument or click kit), so classes are balanced and the nuisances are spread evenly over them; the
continuous choices (velocity, tempo, start offset) come from a per-clip generator, so clip j of a class is
the same whatever `n_per_class` is.

>>> clips = plan_clips("chords", ("major",), n_per_class=2, seed=0, programs=(0, 40), duration_s=2.0)
>>> [c.label for c in clips], len(clips[0].spec.events)
(['major', 'major'], 3)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from musicrfm.data.concepts import get_concept
from musicrfm.data.theory import (
    CHORD_QUALITIES,
    INSTRUMENTS,
    INTERVALS,
    PERCUSSION_KITS,
    PITCH_CLASSES,
    PROGRESSIONS,
    SCALES,
    TIME_SIGNATURES,
    progression_chords,
)

LEAD_S = 0.05
"""Silence before the first note, so every clip starts with a clean onset."""
RELEASE_S = 0.3
"""Room left after the last note-off for the instrument's release to fade inside the clip."""
CLICK_S = 0.05
OCTAVES = (3, 4, 5)
STYLES = ("harmonic", "ascending", "descending")
ACCENTS = {"strong": 127, "medium": 95, "weak": 60}


@dataclass(frozen=True)
class NoteEvent:
    """One note: MIDI pitch (or percussion key), start and end in seconds, velocity 1..127."""

    pitch: int
    start: float
    end: float
    velocity: int


@dataclass(frozen=True)
class ClipSpec:
    """What to play: note events on one GM program, or on the percussion channel, for `duration_s`."""

    events: tuple[NoteEvent, ...]
    program: int
    is_drum: bool
    duration_s: float


@dataclass(frozen=True)
class PlannedClip:
    """A clip to render: its id, label, regression target (None for classification), the spec, and the
    metadata fields it sets (root, octave, style, instrument, tempo...)."""

    clip_id: str
    label: str
    target: float | None
    spec: ClipSpec
    fields: dict[str, Any]


Built = tuple[ClipSpec, dict[str, Any]]
"""A builder's result: the spec and the metadata fields it sets."""
Grid = Callable[[str, tuple[int, ...]], list[tuple]]
"""Nuisance combinations of one class: (label, programs) -> [(root, style, program), ...]."""


def _velocity(rng: np.random.Generator) -> int:
    return int(rng.integers(80, 111))


def _held(pitches: Sequence[int], duration: float, velocity: int) -> tuple[NoteEvent, ...]:
    return tuple(NoteEvent(p, LEAD_S, duration - RELEASE_S, velocity) for p in pitches)


def _in_turn(groups: Sequence[Sequence[int]], duration: float, velocity: int) -> tuple[NoteEvent, ...]:
    """Play each group of pitches in turn, evenly spread over the clip, slightly detached."""
    span = (duration - LEAD_S - RELEASE_S) / len(groups)
    return tuple(
        NoteEvent(p, LEAD_S + k * span, LEAD_S + (k + 0.9) * span, velocity)
        for k, group in enumerate(groups)
        for p in group
    )


def _pitched(program: int, events: tuple[NoteEvent, ...], duration: float, **fields: Any) -> Built:
    fields.update(program=program, instrument=INSTRUMENTS[program])
    return ClipSpec(events, program, False, duration), fields


def _notes(label: str, combo: tuple, rng: np.random.Generator, duration: float) -> Built:
    octave, program = combo
    pitch = 12 * (octave + 1) + PITCH_CLASSES.index(label)
    return _pitched(program, _held([pitch], duration, _velocity(rng)), duration, root=label, octave=octave)


def _intervals(label: str, combo: tuple, rng: np.random.Generator, duration: float) -> Built:
    root_pc, style, program = combo
    root = 55 + (root_pc - 7) % 12  # roots G3..F#4 keep both notes, even an octave apart, in a mid register
    low, high = root, root + INTERVALS.index(label) + 1
    groups = {"harmonic": [[low, high]], "ascending": [[low], [high]], "descending": [[high], [low]]}[style]
    velocity = _velocity(rng)
    events = _held(groups[0], duration, velocity) if style == "harmonic" else _in_turn(groups, duration, velocity)
    return _pitched(program, events, duration, root=PITCH_CLASSES[root_pc], style=style)


def _scales(label: str, combo: tuple, rng: np.random.Generator, duration: float) -> Built:
    root_pc, style, program = combo
    pitches = [48 + root_pc + offset for offset in (*SCALES[label], 12)]
    if style == "descending":
        pitches.reverse()
    events = _in_turn([[p] for p in pitches], duration, _velocity(rng))
    return _pitched(program, events, duration, root=PITCH_CLASSES[root_pc], style=style)


def _chords(label: str, combo: tuple, rng: np.random.Generator, duration: float) -> Built:
    root_pc, inversion, program = combo
    pitches = [48 + root_pc + offset for offset in CHORD_QUALITIES[label]]
    # An inversion lifts the lowest notes by an octave, leaving a chord tone other than the root in the bass.
    pitches = sorted(p + 12 * (i < inversion) for i, p in enumerate(pitches))
    return _pitched(program, _held(pitches, duration, _velocity(rng)), duration,
                    root=PITCH_CLASSES[root_pc], inversion=inversion)


def _progressions(label: str, combo: tuple, rng: np.random.Generator, duration: float) -> Built:
    key_pc, program = combo
    groups = []
    for offset, quality in progression_chords(label):
        chord_root = 48 + (key_pc + offset) % 12
        groups.append([chord_root - 12] + [chord_root + o for o in CHORD_QUALITIES[quality]])
    events = _in_turn(groups, duration, _velocity(rng))
    return _pitched(program, events, duration, root=PITCH_CLASSES[key_pc], style=PROGRESSIONS[label])


def _clicks(kit: str, levels: Sequence[str], pulse_s: float, offset_s: float, duration: float) -> ClipSpec:
    """A click track: pulse k sounds at offset + k * pulse with accent levels[k % len(levels)]."""
    accent_key, plain_key = PERCUSSION_KITS[kit]
    events, k = [], 0
    while offset_s + k * pulse_s + CLICK_S <= duration - 0.05:
        level = levels[k % len(levels)]
        key = accent_key if level == "strong" else plain_key
        start = round(offset_s + k * pulse_s, 6)
        events.append(NoteEvent(key, start, start + CLICK_S, ACCENTS[level]))
        k += 1
    return ClipSpec(tuple(events), 0, True, duration)


def _tempo(label: str, combo: tuple, rng: np.random.Generator, duration: float) -> Built:
    (kit,) = combo
    lo, hi = (float(x) for x in label.split("-"))
    bpm = round(float(rng.uniform(lo, hi)), 2)
    offset = round(float(rng.uniform(0.0, 0.2)), 3)
    spec = _clicks(kit, ("strong", "weak", "weak", "weak"), 60.0 / bpm, offset, duration)
    return spec, dict(instrument=kit, tempo_bpm=bpm, time_signature="4/4", onset_s=offset, target=bpm)


def bar_accents(time_signature: str) -> tuple[str, ...]:
    """Accent level of each pulse in one bar: strong downbeat, medium on the other group starts, else weak."""
    levels = []
    for g, size in enumerate(TIME_SIGNATURES[time_signature]):
        levels += ["strong" if g == 0 else "medium"] + ["weak"] * (size - 1)
    return tuple(levels)


def _time_signatures(label: str, combo: tuple, rng: np.random.Generator, duration: float) -> Built:
    (kit,) = combo
    # Quarter pulses sit at 150-240 per minute, eighths at 375-500, so two bars of 12/8 fit in 4 s.
    low, high = (0.25, 0.4) if label.endswith("/4") else (0.12, 0.16)
    pulse = round(float(rng.uniform(low, high)), 4)
    offset = round(float(rng.uniform(0.0, 0.2)), 3)
    spec = _clicks(kit, bar_accents(label), pulse, offset, duration)
    return spec, dict(instrument=kit, tempo_bpm=round(60.0 / pulse, 2), time_signature=label, onset_s=offset)


def _pitch_grid(*axes: Iterable) -> Grid:
    return lambda label, programs: list(product(*axes, programs))


def _chord_grid(label: str, programs: tuple[int, ...]) -> list[tuple]:
    return list(product(range(12), range(len(CHORD_QUALITIES[label])), programs))


def _kit_grid(label: str, programs: tuple[int, ...]) -> list[tuple]:
    return [(kit,) for kit in PERCUSSION_KITS]


_BUILDERS: dict[str, tuple[Grid, Callable[..., Built]]] = {
    "notes": (_pitch_grid(OCTAVES), _notes),
    "intervals": (_pitch_grid(range(12), STYLES), _intervals),
    "scales": (_pitch_grid(range(12), STYLES[1:]), _scales),
    "chords": (_chord_grid, _chords),
    "progressions": (_pitch_grid(range(12)), _progressions),
    "tempo": (_kit_grid, _tempo),
    "time_signatures": (_kit_grid, _time_signatures),
}


def plan_clips(
    concept: str, classes: Sequence[str], *, n_per_class: int, seed: int, programs: Sequence[int], duration_s: float
) -> list[PlannedClip]:
    """The clips of a dataset, class by class; inputs are assumed validated by the caller."""
    info = get_concept(concept)
    grid_of, build = _BUILDERS[concept]
    salt = zlib.crc32(concept.encode())
    clips = []
    for label in classes:
        index = info.class_index(label)
        grid = grid_of(label, tuple(programs))
        order = np.random.default_rng([seed, salt, index]).permutation(len(grid))
        for j in range(n_per_class):
            rng = np.random.default_rng([seed, salt, index, j])
            spec, fields = build(label, grid[order[j % len(grid)]], rng, duration_s)
            target = fields.pop("target", None)
            clips.append(PlannedClip(f"{concept}-{index:02d}-{j:05d}", label, target, spec, fields))
    return clips
