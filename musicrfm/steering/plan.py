"""Steering terms and plans: what to add to MusicGen's residual stream, where, when and how strongly.

A `SteeringTerm` is one concept: per-layer directions, a strength, layer weights, a schedule over decoding
steps, a random gate, the classifier-free-guidance half it acts on and a strength mode. A `SteeringPlan`
sums several terms per layer. `apply_plan(plan, model)` (`musicrfm.steering.hooks`) injects it while the
model generates.

>>> import torch
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> model = tiny_musicgen(seed=0)
>>> term = SteeringTerm({0: torch.randn(32), -1: torch.randn(32)}, strength=0.5, gate_p=0.3)
>>> plan = SteeringPlan((term,))
>>> from musicrfm.steering import apply_plan
>>> with apply_plan(plan, model):
...     audio = model.generate(max_new_tokens=8, guidance_scale=3.0, do_sample=True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from musicrfm.checks import check_finite, check_seed
from musicrfm.schedules import Constant
from musicrfm.steering.control import Control
from musicrfm.steering.directions import LayerDirections, as_layer_directions
from musicrfm.steering.weights import LayerWeights, as_layer_weights

Target = Literal["both", "cond", "uncond"]
Mode = Literal["absolute", "relative"]
StepFunction = Callable[[int], float]
"""What a term's schedule must be: any callable from a frame index to a strength factor."""
_TARGETS = ("both", "cond", "uncond")
_MODES = ("absolute", "relative")


@dataclass(frozen=True, eq=False)
class SteeringTerm:
    """One concept injected as `strength * w_l * schedule(step) * gate(step) * direction_l` at layer `l`.

    Args:
        directions: a LayerDirections, `{layer: (d,) tensor}` or an `(n_layers, d)` tensor.
        strength: scale of the injection; in "relative" mode a fraction of the hidden state's norm.
        layers: "all", a list of layers, `{layer: weight}` or a LayerWeights rule (top-k, exponential).
        schedule: a `musicrfm.schedules` schedule, any callable `step -> float` (step = frame
            index) or a number for a constant.
        gate_p: probability that the term acts at a step; one draw per step shared by its layers.
        seed: seed of the gate draws (combined with the term's position in its plan).
        target: classifier-free-guidance rows to steer: "both" (research default), "cond" or "uncond".
        mode: "absolute" adds the vector as is; "relative" scales it by the steered state's L2 norm.
        fingerprint: optional facts of the model the probes were fit on (`MusicGen.fingerprint`, e.g.
            `{"hidden_size": 1024, "num_layers": 24}`); a plan is refused on a model that differs.
        name: label used in error messages.
        control: closed loop (`musicrfm.steering.control`): the strength factor follows the gap between
            the control's reader and its goal, which the schedule shapes; then `strength` scales the
            controller's output (keep 1.0 to read it as the strength itself). Absolute mode only.
    """

    directions: LayerDirections | Mapping[int, torch.Tensor] | torch.Tensor
    strength: float = 1.0
    layers: LayerWeights | str | Sequence[int] | Mapping[int, float] = "all"
    schedule: StepFunction | float = 1.0
    gate_p: float = 1.0
    seed: int = 0
    target: Target = "both"
    mode: Mode = "absolute"
    fingerprint: Mapping[str, int] | None = None
    name: str = ""
    control: Control | None = None

    def __post_init__(self) -> None:
        set_field = lambda field, value: object.__setattr__(self, field, value)  # noqa: E731
        set_field("directions", as_layer_directions(self.directions))
        set_field("layers", as_layer_weights(self.layers))
        set_field("strength", check_finite(self.strength, "strength"))
        set_field("schedule", _schedule(self.schedule))
        set_field("gate_p", check_finite(self.gate_p, "gate_p"))
        if not 0.0 <= self.gate_p <= 1.0:
            raise ValueError(f"gate_p must lie in [0, 1], got {self.gate_p}")
        check_seed(self.seed)
        if self.target not in _TARGETS:
            raise ValueError(f"target must be one of {_TARGETS}, got {self.target!r}")
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")
        _check_fingerprint(self.fingerprint)
        if self.control is not None:
            if not isinstance(self.control, Control):
                raise TypeError(f"control must be a Control or None, got {type(self.control).__name__}")
            if self.mode != "absolute":
                raise ValueError("control: a closed-loop term needs mode 'absolute'")

    @property
    def label(self) -> str:
        """The name, or a placeholder for error messages."""
        return self.name or "<unnamed>"


@dataclass(frozen=True, eq=False)
class SteeringPlan:
    """Several terms applied together (a single SteeringTerm is accepted too); contributions are summed
    per layer.

    With `orthogonalize`, the directions of the terms acting on one layer are made mutually orthogonal
    in term order (Gram-Schmidt), each keeping its own norm, so a later concept cannot re-add an earlier one.
    """

    terms: tuple[SteeringTerm, ...]
    orthogonalize: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.terms, SteeringTerm):
            object.__setattr__(self, "terms", (self.terms,))
        if not isinstance(self.terms, Sequence) or isinstance(self.terms, str):
            raise TypeError(f"terms must be a sequence of SteeringTerm, got {type(self.terms).__name__}")
        object.__setattr__(self, "terms", tuple(self.terms))
        for i, term in enumerate(self.terms):
            if not isinstance(term, SteeringTerm):
                raise TypeError(f"terms[{i}] must be a SteeringTerm, got {type(term).__name__}")
        if not isinstance(self.orthogonalize, bool):
            raise TypeError(f"orthogonalize must be a bool, got {type(self.orthogonalize).__name__}")


def _schedule(schedule: object) -> StepFunction:
    if isinstance(schedule, bool):
        raise TypeError("schedule must be a callable step -> float or a number, got bool")
    if isinstance(schedule, (int, float)):
        return Constant(check_finite(schedule, "schedule"))
    if not callable(schedule):
        raise TypeError(f"schedule must be a callable step -> float or a number, got {type(schedule).__name__}")
    return schedule


def _check_fingerprint(fingerprint: object) -> None:
    if fingerprint is None:
        return
    if not isinstance(fingerprint, Mapping):
        raise TypeError(f"fingerprint must be a mapping, got {type(fingerprint).__name__}")
    for key, value in fingerprint.items():
        if not isinstance(key, str):
            raise TypeError(f"fingerprint keys must be str, got {key!r}")
        if not isinstance(value, (int, float, str)):
            raise ValueError(f"fingerprint[{key!r}] must be a number or a string, got {value!r}")
