"""The time-shaped schedule kinds: linear ramp, exponential decay, logistic, sine, steps, keyframes.

Times are in `unit` ("seconds" or "frames"); a step becomes a time as `step / frame_rate` in seconds.
Outside the times a kind names it holds its nearest value (see `ScheduleSpec.validate_for`).

>>> from musicrfm.schedules import ExponentialDecay, Keyframes
>>> ExponentialDecay(factor=0.998, unit="frames")(10) == 0.998 ** 10   # the research code's decay
True
>>> Keyframes(times=(0.0, 1.0, 2.0), levels=(0.0, 1.0, 0.0))(75)
0.5
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from musicrfm.checks import choice, increasing, number_tuple, require
from musicrfm.schedules.algebra import Schedule
from musicrfm.schedules.spec import Timed, set_numbers

INTERPOLATIONS = ("linear", "cosine")


@dataclass(frozen=True)
class LinearRamp(Timed, Schedule):
    """`from_value` until `start`, a straight line to `to_value` at `end`, then `to_value`.

    A ramp down is a ramp with `from_value > to_value`.

    >>> LinearRamp(start=1.0, end=3.0, from_value=1.0, to_value=0.0)(100)   # 2 s at 50 frames/s
    0.5
    """

    kind = "linear_ramp"
    start: float
    end: float
    from_value: float = 0.0
    to_value: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        set_numbers(self, "start", "end", bound=0.0)
        set_numbers(self, "from_value", "to_value")
        require(self.end > self.start, self.kind, "end", f"must be > start (got {self.end} <= {self.start})")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return np.interp(self._times(steps), (self.start, self.end), (self.from_value, self.to_value))

    def _edges(self) -> Iterator[tuple[str, float]]:
        return iter((("start", self.start), ("end", self.end)))


@dataclass(frozen=True)
class ExponentialDecay(Timed, Schedule):
    """`from_value` until `start`, then an exponential approach to `to_value`.

    Give exactly one of `rate` (per unit of time: exp(-rate * t)), `half_life` (in the unit) or `factor`
    (the multiplier per unit of time, in (0, 1): the research code's 0.998 per frame).

    >>> ExponentialDecay(half_life=1.0)(50)   # one second at 50 frames/s
    0.5
    """

    kind = "exponential_decay"
    rate: float | None = None
    half_life: float | None = None
    factor: float | None = None
    start: float = 0.0
    from_value: float = 1.0
    to_value: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        given = [name for name in ("rate", "half_life", "factor") if getattr(self, name) is not None]
        require(len(given) == 1, self.kind, "rate/half_life/factor",
                f"give exactly one (got {', '.join(given) or 'none'})")
        set_numbers(self, given[0], bound=0.0, strict=True)
        set_numbers(self, "start", bound=0.0)
        set_numbers(self, "from_value", "to_value")
        if self.factor is not None:
            require(self.factor < 1, self.kind, "factor", f"must be < 1 for a decay (got {self.factor})")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        elapsed = np.maximum(self._times(steps) - self.start, 0.0)
        if self.factor is not None:
            remaining = self.factor ** elapsed
        elif self.half_life is not None:
            remaining = 0.5 ** (elapsed / self.half_life)
        else:
            remaining = np.exp(-self.rate * elapsed)
        return self.to_value + (self.from_value - self.to_value) * remaining

    def _edges(self) -> Iterator[tuple[str, float]]:
        return iter((("start", self.start),))


@dataclass(frozen=True)
class Logistic(Timed, Schedule):
    """An S-curve from `from_value` to `to_value`, halfway at `midpoint`; `width` is its time scale.

    The value is from + (to - from) / (1 + exp(-(t - midpoint) / width)): 10% to 90% takes 4.39 widths.

    >>> Logistic(midpoint=2.0, width=0.5)(100)
    0.5
    """

    kind = "logistic"
    midpoint: float
    width: float
    from_value: float = 0.0
    to_value: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        set_numbers(self, "midpoint", bound=0.0)
        set_numbers(self, "width", bound=0.0, strict=True)
        set_numbers(self, "from_value", "to_value")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        # tanh form of the logistic: no overflow far from the midpoint.
        rise = 0.5 * (1.0 + np.tanh((self._times(steps) - self.midpoint) / (2.0 * self.width)))
        return self.from_value + (self.to_value - self.from_value) * rise

    def _edges(self) -> Iterator[tuple[str, float]]:
        return iter((("midpoint", self.midpoint),))


@dataclass(frozen=True)
class Sine(Timed, Schedule):
    """An LFO: offset + depth * sin(2 pi (frequency * t + phase)); by default it swings from 0 to 1.

    `frequency` is in cycles per unit (Hz for seconds), `phase` in cycles (0.25 starts at the top).

    >>> Sine(frequency=1.0, phase=0.25)(0)
    1.0
    """

    kind = "sine"
    frequency: float
    depth: float = 0.5
    offset: float = 0.5
    phase: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        set_numbers(self, "frequency", bound=0.0, strict=True)
        set_numbers(self, "depth", bound=0.0)  # phase 0.5 inverts, so a negative depth adds nothing
        set_numbers(self, "offset", "phase")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        cycles = self.frequency * self._times(steps) + self.phase
        return self.offset + self.depth * np.sin(2.0 * np.pi * cycles)


@dataclass(frozen=True)
class Steps(Timed, Schedule):
    """Piecewise constant: `levels[0]` until `boundaries[0]`, `levels[i]` from `boundaries[i - 1]` on.

    >>> s = Steps(boundaries=(1.0, 2.0), levels=(0.0, 1.0, 0.5))
    >>> s(49), s(50), s(100)
    (0.0, 1.0, 0.5)
    """

    kind = "steps"
    boundaries: tuple[float, ...]
    levels: tuple[float, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "boundaries", number_tuple(self.kind, "boundaries", self.boundaries))
        object.__setattr__(self, "levels", number_tuple(self.kind, "levels", self.levels))
        require(len(self.boundaries) >= 1, self.kind, "boundaries", "needs at least one (use constant)")
        increasing(self.kind, "boundaries", self.boundaries, minimum=0.0)
        require(self.boundaries[0] > 0, self.kind, "boundaries[0]", f"must be > 0 (got {self.boundaries[0]})")
        wanted = len(self.boundaries) + 1
        require(len(self.levels) == wanted, self.kind, "levels",
                f"needs len(boundaries) + 1 = {wanted} values (got {len(self.levels)})")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        index = np.searchsorted(np.asarray(self.boundaries), self._times(steps), side="right")
        return np.asarray(self.levels)[index]

    def _edges(self) -> Iterator[tuple[str, float]]:
        return ((f"boundaries[{i}]", t) for i, t in enumerate(self.boundaries))


@dataclass(frozen=True)
class Keyframes(Timed, Schedule):
    """`levels[i]` at `times[i]`, interpolated between ("linear" or smooth "cosine"), held outside.

    >>> Keyframes(times=(0.0, 2.0), levels=(0.0, 1.0), interpolation="cosine")(25)   # a quarter of the way
    0.1464466094067262
    """

    kind = "keyframes"
    times: tuple[float, ...]
    levels: tuple[float, ...]
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "times", number_tuple(self.kind, "times", self.times))
        object.__setattr__(self, "levels", number_tuple(self.kind, "levels", self.levels))
        choice(self.kind, "interpolation", self.interpolation, INTERPOLATIONS)
        require(len(self.times) >= 2, self.kind, "times", f"needs at least 2 keyframes (got {len(self.times)})")
        increasing(self.kind, "times", self.times, minimum=0.0)
        require(len(self.levels) == len(self.times), self.kind, "levels",
                f"needs one level per time: {len(self.times)} (got {len(self.levels)})")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        count = len(self.times)
        position = np.interp(self._times(steps), self.times, np.arange(count, dtype=np.float64))
        segment = np.minimum(np.floor(position), count - 2).astype(np.intp)
        fraction = position - segment
        if self.interpolation == "cosine":
            fraction = 0.5 - 0.5 * np.cos(np.pi * fraction)
        levels = np.asarray(self.levels)
        # Weighted form (not v0 + (v1 - v0) * f) so keyframe values come back exactly.
        return levels[segment] * (1.0 - fraction) + levels[segment + 1] * fraction

    def _edges(self) -> Iterator[tuple[str, float]]:
        return ((f"times[{i}]", t) for i, t in enumerate(self.times))
