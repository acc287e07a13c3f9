"""Schedule files: YAML or JSON text with a `kind:` field, read with validation and written atomically.

>>> load_schedule("{kind: constant, value: 0.25}")
Constant(value=0.25)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from musicrfm.files import write_text_atomically
from musicrfm.schedules.spec import ScheduleSpec, schedule_from_dict
from musicrfm.yaml_text import parse_yaml

_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def load_schedule(source: str | os.PathLike[str]) -> ScheduleSpec:
    """A schedule from a YAML/JSON file path or from YAML/JSON text, validated.

    A path object, or a one-line string that names an existing file or ends in .yaml/.yml/.json, is read
    as a file; any other string is parsed as text.
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
    return write_text_atomically(target, schedule.to_json() if target.suffix.lower() == ".json" else schedule.to_yaml())


def _names_file(text: str) -> bool:
    if "\n" in text:
        return False
    return os.path.isfile(text) or text.strip().lower().endswith(_FILE_SUFFIXES)
