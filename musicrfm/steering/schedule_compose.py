"""Composite schedules: product, sum and scaling, built directly or with `*` and `+`.

>>> from musicrfm.steering.schedules import Constant, LinearRamp, Sine
>>> shaped = 2.0 * LinearRamp(start=0.0, end=1.0) * Sine(frequency=1.0, phase=0.25)
>>> type(shaped).__name__, shaped(50)
('Product', 2.0)
>>> (LinearRamp(start=0.0, end=1.0) + 0.5)(25)
1.0
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from musicrfm.steering.schedule_base import Schedule, decode_schedule, decode_schedules, require, set_numbers
from musicrfm.steering.schedule_kinds import Constant


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
