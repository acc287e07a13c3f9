"""Schedules: how strong a concept is at each decoding step, and text files that describe them.

Every schedule is a frozen dataclass callable as `s(step) -> float` (step = frame index, 0-based) with a
vectorised `s.values(steps)`. Times are in seconds or frames (`unit`); the engine binds the model's frame
rate with `s.with_frame_rate(rate)`. `ConceptSequence` weights several concepts over time. Each object
serialises to a dict / YAML / JSON with a `kind:` field and loads back equal; `validate_for(n_steps)`
refuses a schedule that names a time past the end of a generation. The package needs numpy, not torch.

>>> ramp = LinearRamp(start=0.0, end=2.0, from_value=0.0, to_value=1.0)
>>> shaped = 0.5 * ramp * Sine(frequency=2.0)
>>> load_schedule(shaped.to_yaml()) == shaped
True
>>> ramp.values([0, 25, 50, 100, 200]).tolist()
[0.0, 0.25, 0.5, 1.0, 1.0]
"""

from musicrfm.schedules.algebra import Constant, Product, Scaled, Schedule, Sum
from musicrfm.schedules.curves import ExponentialDecay, Keyframes, LinearRamp, Logistic, Sine, Steps
from musicrfm.schedules.io import load_schedule, save_schedule
from musicrfm.schedules.sequence import ConceptSequence, ConceptWeight, Segment
from musicrfm.schedules.spec import DEFAULT_FRAME_RATE, UNITS, ScheduleSpec, schedule_from_dict, schedule_kinds

__all__ = [
    "DEFAULT_FRAME_RATE", "UNITS", "Schedule", "ScheduleSpec", "Constant", "LinearRamp", "ExponentialDecay",
    "Logistic", "Sine", "Steps", "Keyframes", "Product", "Sum", "Scaled", "ConceptSequence", "ConceptWeight",
    "Segment", "schedule_from_dict", "schedule_kinds", "load_schedule", "save_schedule",
]
