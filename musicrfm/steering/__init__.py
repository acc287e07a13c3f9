"""Steer MusicGen with concept directions: plans, schedules, hooks and seeded (long-form) generation.

>>> import torch
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.steering import LinearRamp, SteeringPlan, SteeringTerm, generate
>>> model = tiny_musicgen(seed=0)
>>> term = SteeringTerm({-1: torch.randn(32)}, strength=0.4, schedule=LinearRamp(0.0, 0.2), gate_p=0.5)
>>> out = generate(model, SteeringPlan((term,)), duration_s=0.2, seed=0)
>>> out.codes.shape
torch.Size([1, 4, 10])
"""

from musicrfm.schedules import *  # noqa: F403 - re-exported: README examples import schedules from here
from musicrfm.schedules import __all__ as _schedule_names
from musicrfm.steering.binding import BoundPlan, ModelShape, bind_plan
from musicrfm.steering.control import Control
from musicrfm.steering.directions import LayerDirections, as_layer_directions
from musicrfm.steering.generate import Generation, generate
from musicrfm.steering.hooks import apply_plan
from musicrfm.steering.loop import Loop, Trace
from musicrfm.steering.monitor import Reader
from musicrfm.steering.plan import SteeringPlan, SteeringTerm
from musicrfm.steering.weights import LayerWeights

__all__ = [
    "BoundPlan", "Control", "Generation", "LayerDirections", "LayerWeights", "Loop", "ModelShape", "Reader",
    "SteeringPlan", "SteeringTerm", "Trace",
    "apply_plan", "as_layer_directions", "bind_plan", "generate", *_schedule_names,
]
