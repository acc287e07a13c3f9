"""Steering schedules: how strong a concept is at each decoding step, and text files that describe them.

Every schedule is a frozen dataclass callable as `s(step) -> float` (step = frame index, 0-based) with a
vectorised `s.values(steps)`. Times are in seconds or frames (`unit`); the engine binds the model's frame
rate with `s.with_frame_rate(rate)`. `ConceptSequence` weights several concepts over time. Each object
serialises to a dict / YAML / JSON with a `kind:` field and loads back equal; `validate_for(n_steps)`
refuses a schedule that names a time past the end of a generation.

>>> ramp = LinearRamp(start=0.0, end=2.0, from_value=0.0, to_value=1.0)
>>> shaped = 0.5 * ramp * Sine(frequency=2.0)
>>> load_schedule(shaped.to_yaml()) == shaped
True
>>> ramp.values([0, 25, 50, 100, 200]).tolist()
[0.0, 0.25, 0.5, 1.0, 1.0]
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


from musicrfm.steering.schedule_base import (
    DEFAULT_FRAME_RATE,
    UNITS,
    Schedule,
    ScheduleSpec,
    schedule_from_dict,
    schedule_kinds,
)
from musicrfm.steering.schedule_compose import Product, Scaled, Sum
from musicrfm.steering.schedule_kinds import (
    Constant,
    ExponentialDecay,
    Keyframes,
    LinearRamp,
    Logistic,
    Sine,
    Steps,
)
from musicrfm.steering.schedule_sequence import ConceptSequence, ConceptWeight, Segment
from musicrfm.yaml_text import parse_yaml

__all__ = [
    "DEFAULT_FRAME_RATE", "UNITS", "Schedule", "ScheduleSpec", "Constant", "LinearRamp", "ExponentialDecay",
    "Logistic", "Sine", "Steps", "Keyframes", "Product", "Sum", "Scaled", "ConceptSequence", "ConceptWeight",
    "Segment", "schedule_from_dict", "schedule_kinds", "load_schedule", "save_schedule",
]

_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def load_schedule(source: str | os.PathLike[str]) -> ScheduleSpec:
    """A schedule from a YAML/JSON file path or from YAML/JSON text, validated.

    A path object, or a one-line string that names an existing file or ends in .yaml/.yml/.json, is read
    as a file; any other string is parsed as text.

    >>> load_schedule("{kind: constant, value: 0.25}")
    Constant(value=0.25)
    """
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _names_file(source)):
        text = Path(source).read_text(encoding="utf-8")
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"source: must be a path or YAML/JSON text (got {type(source).__name__})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = parse_yaml(text, "schedule", expected="YAML or JSON")
    return schedule_from_dict(data)


def save_schedule(schedule: ScheduleSpec, path: str | os.PathLike[str]) -> Path:
    """Write `schedule` to `path` (JSON for a .json suffix, YAML otherwise) atomically; returns the path."""
    if not isinstance(schedule, ScheduleSpec):
        raise TypeError(f"schedule: must be a schedule (got {type(schedule).__name__})")
    target = Path(path)
    text = schedule.to_json() if target.suffix.lower() == ".json" else schedule.to_yaml()
    # A temporary file in the same folder, then os.replace: readers never see half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _names_file(text: str) -> bool:
    if "\n" in text:
        return False
    return os.path.isfile(text) or text.strip().lower().endswith(_FILE_SUFFIXES)
