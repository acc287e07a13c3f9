"""The scalar `Schedule` and its algebra: constants, products, sums and scaling, built with `*` and `+`.

The operators, the composites they build and `Constant` (what a number becomes in a sum) live together
so that no module needs another lazily.

>>> from musicrfm.schedules import Constant, LinearRamp, Sine
>>> shaped = 2.0 * LinearRamp(start=0.0, end=1.0) * Sine(frequency=1.0, phase=0.25)
>>> type(shaped).__name__, shaped(50)
('Product', 2.0)
>>> (LinearRamp(start=0.0, end=1.0) + 0.5)(25)
1.0
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from musicrfm.checks import require
from musicrfm.schedules.spec import ScheduleSpec, as_step, as_steps, decode_schedule, decode_schedules, set_numbers


@dataclass(frozen=True)
class Schedule(ScheduleSpec, ABC):
    """A scalar schedule: `s(step) -> float`, `s.values(steps) -> array`; `*` and `+` compose."""

    # Makes numpy scalars defer to __rmul__/__radd__ instead of building object arrays.
    __array_ufunc__ = None

    def __call__(self, step: float) -> float:
        """The value at decoding step `step` (a frame index >= 0; fractions allowed for plotting)."""
        return float(self._evaluate(as_step(step))[0])

    def values(self, steps: Any) -> np.ndarray:
        """Values at every entry of `steps`, same shape; the one code path behind scalar calls too."""
        array = as_steps(steps)
        return self._evaluate(array.reshape(-1)).reshape(array.shape)

    @abstractmethod
    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        """Values at validated, flat `steps`."""

    def __mul__(self, other: Any) -> Schedule:
        return combine("product", self, other)

    def __rmul__(self, other: Any) -> Schedule:
        return combine("product", other, self)

    def __add__(self, other: Any) -> Schedule:
        return combine("sum", self, other)

    def __radd__(self, other: Any) -> Schedule:
        return combine("sum", other, self)



@dataclass(frozen=True)
class Constant(Schedule):
    """The same value at every step.

    >>> Constant(0.3)(1000)
    0.3
    """

    kind = "constant"
    value: float = 1.0

    def __post_init__(self) -> None:
        set_numbers(self, "value")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return np.full(steps.shape, self.value)



def check_schedule(owner: str, field: str, value: Any) -> Schedule:
    """`value` if it is a scalar Schedule; a TypeError naming the field otherwise."""
    if not isinstance(value, Schedule):
        hint = " (a sequence gives one per concept: .for_concept(name))" if hasattr(value, "for_concept") else ""
        raise TypeError(f"{owner}.{field}: must be a Schedule (got {type(value).__name__}){hint}")
    return value


@dataclass(frozen=True)
class _Reduction(Schedule):
    """Several schedules reduced step by step with `_reduce` (at least two of them)."""

    schedules: tuple[Schedule, ...]
    DECODERS = {"schedules": decode_schedules}
    _reduce: ClassVar[Any]

    def __post_init__(self) -> None:
        parts = self.schedules
        if not isinstance(parts, (list, tuple)):
            raise TypeError(f"{self.kind}.schedules: must be a list of schedules (got {type(parts).__name__})")
        parts = tuple(check_schedule(self.kind, f"schedules[{i}]", s) for i, s in enumerate(parts))
        require(len(parts) >= 2, self.kind, "schedules", f"needs at least 2 schedules (got {len(parts)})")
        object.__setattr__(self, "schedules", parts)

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return self._reduce(np.stack([s._evaluate(steps) for s in self.schedules]), axis=0)


@dataclass(frozen=True)
class Product(_Reduction):
    """The step-by-step product of `schedules` (e.g. a ramp times an LFO)."""

    kind = "product"
    _reduce = staticmethod(np.prod)


@dataclass(frozen=True)
class Sum(_Reduction):
    """The step-by-step sum of `schedules`."""

    kind = "sum"
    _reduce = staticmethod(np.sum)


@dataclass(frozen=True)
class Scaled(Schedule):
    """`scale` times `schedule`.

    >>> Scaled(Constant(0.5), scale=-2.0)(0)
    -1.0
    """

    kind = "scaled"
    schedule: Schedule
    scale: float
    DECODERS = {"schedule": decode_schedule}

    def __post_init__(self) -> None:
        check_schedule(self.kind, "schedule", self.schedule)
        set_numbers(self, "scale")

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return self.scale * self.schedule._evaluate(steps)


def combine(kind: str, left: Any, right: Any) -> Schedule | Any:
    """`left * right` (kind "product") or `left + right` (kind "sum") where at least one is a Schedule.

    Numbers become a `Scaled` factor or a `Constant` term; nested products and sums are flattened.
    Anything else gives NotImplemented so Python raises its usual TypeError.
    """
    if isinstance(left, Schedule) and isinstance(right, Schedule):
        cls = Product if kind == "product" else Sum
        flat = [part for side in (left, right) for part in (side.schedules if type(side) is cls else (side,))]
        return cls(tuple(flat))
    if not isinstance(left, numbers.Real) and not isinstance(right, numbers.Real):
        return NotImplemented
    schedule, value = (left, right) if isinstance(left, Schedule) else (right, left)
    if kind == "product":
        return Scaled(schedule, value)
    constant = Constant(value)
    return Sum((schedule, constant) if schedule is left else (constant, schedule))
