"""Closed-loop steering: a term says what reading it wants, and a PI controller sets its strength per step.

A `Control` on a `SteeringTerm` names a `Reader` (the probe's live prediction) and a `goal`. At every
decoding step s the term's injection is `strength * u(s) * gate(s) * w_l * direction_l`, where

    e(s) = goal * schedule(s) - reading(s - 1)            (the schedule shapes the goal over time)
    u(s) = clip(kp * e(s) + ki * I(s), floor, ceiling),   I(s) = I(s - 1) + e(s)

with anti-windup: I is not updated at a step where adding e(s) would push an output that is already
clipped further past its limit. Before the first reading exists, u is 0. One controller state is kept
per batch row and term; `musicrfm.steering.loop` runs it between decoding steps.

>>> import torch
>>> law = PILaw(kp=torch.tensor([1.0]), ki=torch.tensor([0.5]), floor=torch.tensor([0.0]),
...             ceiling=torch.tensor([1.0]))
>>> [round(law.step(torch.tensor([[e]])).item(), 3) for e in (0.4, 0.4, 0.4, 0.4, -0.2)]
[0.6, 0.8, 1.0, 1.0, 0.3]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from musicrfm.checks import check_finite
from musicrfm.steering.monitor import Reader


@dataclass(frozen=True, eq=False)
class Control:
    """What a closed-loop term wants: its `reader`'s value at `goal` (a probability in [0, 1], or a target
    value inside the regression probe's training range), with PI gains `kp`, `ki` and the limits
    `floor` <= u <= `ceiling` of the strength factor u."""

    reader: Reader
    goal: float
    kp: float = 2.0
    ki: float = 0.5
    ceiling: float = 2.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.reader, Reader):
            raise TypeError(f"control reader must be a Reader, got {type(self.reader).__name__}")
        for name in ("goal", "kp", "ki", "ceiling", "floor"):
            object.__setattr__(self, name, check_finite(getattr(self, name), name))
        check_goal(self.reader, self.goal, "goal")
        if self.kp < 0 or self.ki < 0:
            raise ValueError(f"kp and ki must be non-negative, got kp={self.kp}, ki={self.ki}")
        if self.ceiling <= self.floor:
            raise ValueError(f"ceiling ({self.ceiling}) must exceed floor ({self.floor})")


def check_goal(reader: Reader, value: float, field: str) -> None:
    """ValueError when `value` is no reading `reader` can give."""
    low, high = reader.value_range
    if not low <= value <= high:
        what = "a probability" if reader.task != "regression" else "a value of the probe's training range"
        raise ValueError(f"{field} for {reader.name!r} must be {what} in [{low:g}, {high:g}], got {value:g}")


class PILaw:
    """The vectorised PI law with anti-windup: gains and limits per term (T,), errors per row (B, T)."""

    def __init__(self, *, kp: torch.Tensor, ki: torch.Tensor, floor: torch.Tensor, ceiling: torch.Tensor) -> None:
        self.kp, self.ki, self.floor, self.ceiling = kp, ki, floor, ceiling
        self.integral: torch.Tensor | None = None

    def step(self, error: torch.Tensor) -> torch.Tensor:
        """The strength factors u (B, T) for this step's errors."""
        integral = torch.zeros_like(error) if self.integral is None else self.integral
        candidate = integral + error
        raw = self.kp * error + self.ki * candidate
        winding = ((raw > self.ceiling) & (error > 0)) | ((raw < self.floor) & (error < 0))
        self.integral = torch.where(winding, integral, candidate)
        return torch.clamp(self.kp * error + self.ki * self.integral, min=self.floor, max=self.ceiling)
