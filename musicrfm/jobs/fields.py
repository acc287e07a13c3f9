"""Field checks for job files: every problem is reported as `FILE: FIELD.PATH: problem`.

>>> reader = FieldReader("jobs.yaml")
>>> reader.positive("duration", 2)
2.0
>>> try:
...     reader.positive("terms[1].strength", "x")
... except JobError as error:
...     print(error)
jobs.yaml: terms[1].strength: must be a number (got str 'x')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from musicrfm.checks import is_int, is_real


class JobError(ValueError):
    """A job file that cannot be used; the message names the file, the field path and the problem."""


@dataclass(frozen=True)
class FieldReader:
    """Validates values read from one job file (`source`, used only in messages)."""

    source: str

    def fail(self, path: str, problem: str) -> JobError:
        """The error for `path`, to be raised by the caller."""
        return JobError(f"{self.source}: {path}: {problem}")

    def mapping(self, path: str, value: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> Mapping:
        """`value` as a mapping whose keys are all in `allowed` (typo safety) and include `required`."""
        if not isinstance(value, Mapping):
            raise self.fail(path or "(top level)", f"must be a mapping (got {type(value).__name__})")
        prefix = f"{path}." if path else ""
        for key in value:
            if key not in allowed:
                raise self.fail(f"{prefix}{key}", f"unknown field (valid fields: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                raise self.fail(f"{prefix}{key}", "missing required field")
        return value

    def number(self, path: str, value: Any) -> float:
        """A finite real number."""
        if not is_real(value):
            raise self.fail(path, f"must be a number (got {type(value).__name__} {value!r})")
        if not math.isfinite(value):
            raise self.fail(path, f"must be finite (got {value})")
        return float(value)

    def positive(self, path: str, value: Any) -> float:
        """A finite number > 0."""
        result = self.number(path, value)
        if result <= 0:
            raise self.fail(path, f"must be > 0 (got {result:g})")
        return result

    def within(self, path: str, value: Any, low: float, high: float) -> float:
        """A finite number in [low, high]."""
        result = self.number(path, value)
        if not low <= result <= high:
            raise self.fail(path, f"must lie in [{low:g}, {high:g}] (got {result:g})")
        return result

    def integer(self, path: str, value: Any, minimum: int = 0) -> int:
        """An int >= `minimum` (bools refused)."""
        if not is_int(value):
            raise self.fail(path, f"must be an integer (got {type(value).__name__} {value!r})")
        if value < minimum:
            raise self.fail(path, f"must be >= {minimum} (got {value})")
        return int(value)

    def text(self, path: str, value: Any, *, empty: bool = False) -> str:
        """A string (non-empty unless `empty`)."""
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string (got {type(value).__name__})")
        if not empty and not value.strip():
            raise self.fail(path, "must not be empty")
        return value

    def choice(self, path: str, value: Any, options: Sequence[str]) -> str:
        """One of `options`."""
        if not isinstance(value, str) or value not in options:
            raise self.fail(path, f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def flag(self, path: str, value: Any) -> bool:
        """A bool."""
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false (got {value!r})")
        return value

    def axis(self, path: str, value: Any, check) -> tuple:
        """A grid axis: one value or a non-empty list of distinct values, each passed through `check(path, v)`."""
        if isinstance(value, (list, tuple)):
            if not value:
                raise self.fail(path, "must not be an empty list")
            items = tuple(check(f"{path}[{i}]", v) for i, v in enumerate(value))
            if len(set(items)) != len(items):
                raise self.fail(path, f"lists a value twice ({list(items)})")
            return items
        return (check(path, value),)

    def nested(self, path: str, error: Exception) -> JobError:
        """Re-home an error of the schedule module (`kind.field: problem`) under the job field `path`."""
        fields, problem = _split_fields(str(error))
        return self.fail(".".join([path, *fields]), problem)


# "linear_ramp.end: must be > start" -> field "end"; nested parts ("sum.schedules[0]: constant.value: ...")
# become one dotted path, so the user sees terms[1].schedule.schedules[0].value.
_PART = re.compile(r"^(?P<owner>[A-Za-z_]+)\.(?P<field>[^:\s]+): (?P<rest>.*)$", re.S)


def _split_fields(message: str) -> tuple[list[str], str]:
    fields: list[str] = []
    match = _PART.match(message)
    while match:
        fields.append(match["field"])
        message = match["rest"]
        match = _PART.match(message)
    return fields, message
