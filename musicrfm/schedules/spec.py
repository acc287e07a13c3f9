"""The `kind:` registry, dict (de)serialisation and time handling shared by every schedule file object.

A schedule maps a decoding step (frame index, 0-based) to a float. Time-based kinds state their times in
seconds or in frames; `frame_rate` converts steps to seconds and the engine binds the model's own rate
with `with_frame_rate`. Every kind is a frozen dataclass, validated on construction, and serialises to a
plain dict with a `kind:` discriminator.

>>> from musicrfm.schedules import LinearRamp, schedule_from_dict
>>> ramp = LinearRamp(start=0.0, end=2.0)
>>> ramp(50), ramp.with_frame_rate(25.0)(50)
(0.5, 1.0)
>>> schedule_from_dict(ramp.to_dict()) == ramp
True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import yaml

from musicrfm.checks import at_least, choice, is_int, is_real, number, require

UNITS = ("seconds", "frames")
DEFAULT_FRAME_RATE = 50.0

_REGISTRY: dict[str, type[ScheduleSpec]] = {}


def as_steps(steps: Any, name: str = "steps") -> np.ndarray:
    """`steps` as a float64 array after refusing non-numeric, non-finite and negative entries."""
    array = np.asarray(steps)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name}: must be numbers (got dtype {array.dtype})")
    array = array.astype(np.float64)
    if array.size:
        if not np.isfinite(array).all():
            raise ValueError(f"{name}: must be finite")
        lowest = float(array.min())
        if lowest < 0:
            raise ValueError(f"{name}: must be >= 0 (got {lowest:g})")
    return array


def as_step(step: Any) -> np.ndarray:
    """One step (a real number >= 0) as a 1-element float64 array."""
    if not is_real(step):
        raise TypeError(f"step: must be a number (got {type(step).__name__})")
    return as_steps(step, "step").reshape(1)


def schedule_kinds() -> tuple[str, ...]:
    """The registered `kind:` names, sorted."""
    return tuple(sorted(_REGISTRY))


def schedule_from_dict(data: Any) -> ScheduleSpec:
    """Build a schedule (or concept sequence) from its `to_dict()` form, validating every field.

    >>> schedule_from_dict({"kind": "constant", "value": 0.5})
    Constant(value=0.5)
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"schedule: must be a mapping with a 'kind' (got {type(data).__name__})")
    kind = data.get("kind")
    if kind not in _REGISTRY:
        what = "missing 'kind'" if kind is None else f"unknown kind {kind!r}"
        raise ValueError(f"schedule.kind: {what} (valid kinds: {', '.join(schedule_kinds())})")
    cls = _REGISTRY[kind]
    values = checked_fields(kind, cls, {k: v for k, v in data.items() if k != "kind"})
    decoded = {name: cls.DECODERS.get(name, _keep)(f"{kind}.{name}", raw) for name, raw in values.items()}
    return cls(**decoded)


def checked_fields(owner: str, cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` as keyword arguments for dataclass `cls`, refusing unknown and missing fields by name."""
    fields = _ordered_fields(cls)
    names = [f.name for f in fields]
    for key in data:
        require(key in names, owner, str(key), f"unknown field (valid fields: {', '.join(names)})")
    for f in fields:
        optional = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        require(optional or f.name in data, owner, f.name, "missing required field")
    return dict(data)


def decode_schedule(path: str, raw: Any) -> ScheduleSpec:
    """Decode one nested schedule, naming its place in the parent on error."""
    try:
        return schedule_from_dict(raw)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{path}: {error}") from error


def decode_schedules(path: str, raw: Any) -> tuple[ScheduleSpec, ...]:
    """Decode a list of nested schedules."""
    if not isinstance(raw, (list, tuple)):
        raise TypeError(f"{path}: must be a list of schedules (got {type(raw).__name__})")
    return tuple(decode_schedule(f"{path}[{i}]", item) for i, item in enumerate(raw))


def _keep(path: str, raw: Any) -> Any:
    return raw


def _encode(value: Any) -> Any:
    if isinstance(value, ScheduleSpec):
        return value.to_dict()
    if dataclasses.is_dataclass(value):
        return _encode_fields(value)
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    return value


@dataclass(frozen=True)
class ScheduleSpec:
    """Anything with a `kind:` that serialises: every schedule, and the multi-concept sequence.

    Subclasses set `kind` and list in `DECODERS` the fields that hold nested schedules or records.
    """

    kind: ClassVar[str]
    DECODERS: ClassVar[Mapping[str, Callable[[str, Any], Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (numbers, strings, lists, dicts) with `kind` first; `None` fields are left out."""
        return {"kind": self.kind, **_encode_fields(self)}

    def to_yaml(self) -> str:
        """YAML text that `load_schedule` reads back to an equal object."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        """JSON text that `load_schedule` reads back to an equal object."""
        return json.dumps(self.to_dict(), indent=2)

    def with_frame_rate(self, rate: float) -> ScheduleSpec:
        """A copy whose seconds-based times, and those of every nested schedule, use `rate` frames/s."""
        checked = at_least("schedule", "frame_rate", rate, strict=True)
        changes: dict[str, Any] = {}
        if isinstance(self, Timed):
            changes["frame_rate"] = checked
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, ScheduleSpec):
                changes[f.name] = value.with_frame_rate(checked)
            elif isinstance(value, tuple) and value and isinstance(value[0], ScheduleSpec):
                changes[f.name] = tuple(item.with_frame_rate(checked) for item in value)
        return dataclasses.replace(self, **changes)

    def validate_for(self, n_steps: int) -> None:
        """Refuse use in a generation of `n_steps` frames if a time this schedule names lies past its end.

        Outside the times it names every kind holds (ramps, keyframes, steps keep their first value
        before and their last after); a time past the end would never be reached, so it is an error.
        """
        if not is_int(n_steps):
            raise TypeError(f"n_steps: must be an int (got {type(n_steps).__name__})")
        if n_steps <= 0:
            raise ValueError(f"n_steps: must be > 0 (got {n_steps})")
        for path, label, frames in self._edge_frames():
            # The slack absorbs seconds * rate rounding (0.1 s * 30 = 3.0000000000000004 frames).
            require(frames <= n_steps + 1e-9, self.kind, path,
                    f"{label} is frame {frames:g}, past the end of the generation ({n_steps} frames)")
        for path, child in self._children():
            try:
                child.validate_for(n_steps)
            except ValueError as error:
                raise ValueError(f"{self.kind}.{path}: {error}") from error

    def _edge_frames(self) -> Iterator[tuple[str, str, float]]:
        """(field path, time as written, frame) for every time this object names; composites have none."""
        return iter(())

    def _children(self) -> Iterator[tuple[str, ScheduleSpec]]:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, ScheduleSpec):
                yield f.name, value
            elif isinstance(value, tuple):
                yield from ((f"{f.name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, ScheduleSpec))


def _ordered_fields(cls_or_obj: Any) -> list[dataclasses.Field]:
    # Keyword-only fields (unit, frame_rate) go last so text and messages read the parameters first.
    return sorted(dataclasses.fields(cls_or_obj), key=lambda f: f.kw_only)


def _encode_fields(obj: Any) -> dict[str, Any]:
    return {f.name: _encode(getattr(obj, f.name)) for f in _ordered_fields(obj) if getattr(obj, f.name) is not None}


@dataclass(frozen=True, kw_only=True)
class Timed:
    """Mixin for kinds that name times: `unit` says how, `frame_rate` converts steps to seconds."""

    unit: str = "seconds"
    frame_rate: float = DEFAULT_FRAME_RATE

    def __post_init__(self) -> None:
        kind = self.kind  # type: ignore[attr-defined]
        choice(kind, "unit", self.unit, UNITS)
        object.__setattr__(self, "frame_rate", at_least(kind, "frame_rate", self.frame_rate, strict=True))

    def _times(self, steps: np.ndarray) -> np.ndarray:
        """Steps expressed in this schedule's unit."""
        return steps / self.frame_rate if self.unit == "seconds" else steps

    def _to_frames(self, time: float) -> float:
        return time * self.frame_rate if self.unit == "seconds" else time

    def _edges(self) -> Iterator[tuple[str, float]]:
        """(field path, time in `unit`) for every time the schedule names."""
        return iter(())

    def _edge_frames(self) -> Iterator[tuple[str, str, float]]:
        return ((path, f"{t:g} {self.unit}", self._to_frames(t)) for path, t in self._edges())


def set_numbers(obj: Any, *names: str, bound: float | None = None, strict: bool = False) -> None:
    """Validate the named fields of frozen `obj` as finite numbers (at least `bound`) and store them as floats."""
    for name in names:
        value = getattr(obj, name)
        checked = number(obj.kind, name, value) if bound is None else at_least(obj.kind, name, value, bound,
                                                                                 strict=strict)
        object.__setattr__(obj, name, checked)
