"""A sequence of concepts over time (C for 2 s, then E, then G) with crossfades between them.

A `ConceptSequence` gives each concept a weight per step: 1 inside its segments, 0 outside, and fades
of length `crossfade` centred on every segment edge (except an edge at time 0 or an open end). Where one
segment ends as the next starts the two fades cross: "linear" weights sum to 1, "equal_power" weights'
squares sum to 1. The steering engine gives each concept's term `seq.for_concept(name)`, a Schedule.

>>> seq = ConceptSequence.chain([("C", 2.0), ("E", 2.0), ("G", None)], crossfade=0.5)
>>> seq.weights(100)   # 2.0 s, the middle of the C -> E crossfade
{'C': 0.5, 'E': 0.5, 'G': 0.0}
>>> seq.for_concept("G")(250)
1.0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from musicrfm.checks import at_least, choice, number, require
from musicrfm.schedules.algebra import Schedule
from musicrfm.schedules.spec import ScheduleSpec, Timed, as_step, as_steps, checked_fields, decode_schedule, set_numbers

CROSSFADE_SHAPES = ("linear", "equal_power")


@dataclass(frozen=True)
class Segment:
    """`concept` from `start` until `end` (in the sequence's unit); `end=None` lasts to the end.

    >>> Segment("C", 0.0, 2.0).end
    2.0
    """

    concept: str
    start: float
    end: float | None = None

    def __post_init__(self) -> None:
        require(isinstance(self.concept, str) and bool(self.concept.strip()), "segment", "concept",
                f"must be a non-empty string (got {self.concept!r})")
        start = at_least("segment", "start", self.start)
        object.__setattr__(self, "start", start)
        if self.end is not None:
            end = number("segment", "end", self.end)
            require(end > start, "segment", "end", f"must be > start (got {end} <= {start})")
            object.__setattr__(self, "end", end)


def decode_segments(path: str, raw: Any) -> tuple[Segment, ...]:
    """Segments from a list of `{concept, start, end}` mappings, naming the bad one on error."""
    if not isinstance(raw, (list, tuple)):
        raise TypeError(f"{path}: must be a list of segments (got {type(raw).__name__})")
    segments = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            raise TypeError(f"{where}: must be a mapping with concept, start, end (got {type(item).__name__})")
        fields = checked_fields(where, Segment, item)
        try:
            segments.append(Segment(**fields))
        except (ValueError, TypeError) as error:
            raise type(error)(f"{where}: {error}") from error
    return tuple(segments)


@dataclass(frozen=True)
class ConceptSequence(Timed, ScheduleSpec):
    """Concepts in non-overlapping segments, with crossfades; see the module docstring."""

    kind = "sequence"
    segments: tuple[Segment, ...]
    crossfade: float = 0.0
    crossfade_shape: str = "linear"
    DECODERS = {"segments": decode_segments}

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.segments, (list, tuple)) or not all(isinstance(s, Segment) for s in self.segments):
            raise TypeError(f"{self.kind}.segments: must be a list of Segment")
        object.__setattr__(self, "segments", tuple(self.segments))
        require(len(self.segments) >= 1, self.kind, "segments", "needs at least one segment")
        set_numbers(self, "crossfade", bound=0.0)
        choice(self.kind, "crossfade_shape", self.crossfade_shape, CROSSFADE_SHAPES)
        for i, (before, after) in enumerate(zip(self.segments, self.segments[1:]), start=1):
            self._check_order(i, before, after)
        for i, segment in enumerate(self.segments):
            length = None if segment.end is None else segment.end - segment.start
            require(length is None or self.crossfade <= length, self.kind, "crossfade",
                    f"must be <= every segment's length (got {self.crossfade} > {length} in segments[{i}])")

    def _check_order(self, i: int, before: Segment, after: Segment) -> None:
        require(before.end is not None, self.kind, f"segments[{i - 1}].end", "only the last segment may be open")
        require(after.start >= before.end, self.kind, f"segments[{i}].start",
                f"overlaps segments[{i - 1}] (starts at {after.start} < its end {before.end})")
        require(after.start > before.end or after.concept != before.concept, self.kind, f"segments[{i}].concept",
                f"repeats {after.concept!r} right after segments[{i - 1}]; merge the two segments")

    @classmethod
    def chain(cls, items: Iterable[tuple[str, float | None]], *, start: float = 0.0,
              **options: Any) -> ConceptSequence:
        """Back-to-back segments from `(concept, duration)` pairs; the last duration may be None (open).

        `options` are the other fields (crossfade, crossfade_shape, unit, frame_rate).
        """
        segments: list[Segment] = []
        time: float | None = number(cls.kind, "start", start)
        for i, (concept, duration) in enumerate(items):
            require(time is not None, cls.kind, f"durations[{i - 1}]", "only the last duration may be None")
            if duration is None:
                end = None
            else:
                end = time + at_least(cls.kind, f"durations[{i}]", duration, strict=True)
            segments.append(Segment(concept, time, end))
            time = end
        return cls(tuple(segments), **options)

    @property
    def concepts(self) -> tuple[str, ...]:
        """Each concept once, in order of first appearance."""
        return tuple(dict.fromkeys(s.concept for s in self.segments))

    def for_concept(self, concept: str) -> ConceptWeight:
        """The weight of `concept` over time, as a Schedule (ValueError for a concept not in the sequence)."""
        return ConceptWeight(self, concept)

    def weights(self, step: float) -> dict[str, float]:
        """Every concept's weight at one step."""
        array = as_step(step)
        return {concept: float(self._weight(concept, array)[0]) for concept in self.concepts}

    def weight_table(self, steps: Any) -> dict[str, np.ndarray]:
        """Every concept's weights at every entry of `steps` (arrays of the shape of `steps`)."""
        array = as_steps(steps)
        flat = array.reshape(-1)
        return {c: self._weight(c, flat).reshape(array.shape) for c in self.concepts}

    def _weight(self, concept: str, steps: np.ndarray) -> np.ndarray:
        times = self._times(steps)
        total = np.zeros_like(times)
        for segment in self.segments:
            if segment.concept == concept:
                total += self._envelope(segment, times)
        return total

    def _envelope(self, segment: Segment, times: np.ndarray) -> np.ndarray:
        # An edge at time 0 gets no fade-in: generation starts there, at full weight.
        rise = np.ones_like(times) if segment.start == 0 else self._past(segment.start, times)
        fall = np.ones_like(times) if segment.end is None else 1.0 - self._past(segment.end, times)
        level = np.minimum(rise, fall)
        return np.sin(0.5 * np.pi * level) if self.crossfade_shape == "equal_power" else level

    def _past(self, edge: float, times: np.ndarray) -> np.ndarray:
        """0 before the fade centred on `edge`, 1 after it, linear inside (a hard edge without crossfade)."""
        if self.crossfade == 0:
            return (times >= edge).astype(np.float64)
        return np.clip((times - edge) / self.crossfade + 0.5, 0.0, 1.0)

    def _edges(self) -> Iterator[tuple[str, float]]:
        for i, segment in enumerate(self.segments):
            yield f"segments[{i}].start", segment.start
            if segment.end is not None:
                yield f"segments[{i}].end", segment.end


@dataclass(frozen=True)
class ConceptWeight(Schedule):
    """One concept's weight in a `ConceptSequence`, as a scalar Schedule.

    >>> seq = ConceptSequence.chain([("C", 1.0), ("E", None)])
    >>> ConceptWeight(seq, "E")(49), ConceptWeight(seq, "E")(50)
    (0.0, 1.0)
    """

    kind = "sequence_weight"
    sequence: ConceptSequence
    concept: str
    DECODERS = {"sequence": decode_schedule}

    def __post_init__(self) -> None:
        if not isinstance(self.sequence, ConceptSequence):
            raise TypeError(f"{self.kind}.sequence: must be a ConceptSequence (got {type(self.sequence).__name__})")
        concepts = self.sequence.concepts
        require(self.concept in concepts, self.kind, "concept",
                f"unknown concept {self.concept!r} (concepts: {', '.join(concepts)})")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return self.sequence._weight(self.concept, steps)
