"""Argument checks shared by every package: the one place that knows a bool is not a number.

Two families, one per message style the project uses:
- `check_*(value, field, ...)` for Python arguments: "field must be ..., got value".
- `number / at_least / choice / require(owner, field, ...)` for fields of a file or record:
  "owner.field: must be ... (got value)".

>>> is_int(3), is_int(True), is_real(2.5), is_real(False)
(True, False, True, False)
>>> check_int(4, "n_per_class", low=1)
4
>>> check_seed(-1)
Traceback (most recent call last):
ValueError: seed must be a non-negative integer below 2**63, got -1
>>> at_least("ramp", "end", 2, bound=0.0)
2.0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

SEED_MAX = 2**63 - 1
"""Seeds are stored as int64 by torch and numpy generators; larger ones cannot be used."""


def is_int(value: object) -> bool:
    """An integer (Python or numpy) that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """A real number (Python or numpy) that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite(value: object) -> bool:
    """A real number, not a bool, neither infinite nor NaN."""
    return is_real(value) and math.isfinite(value)


def check_int(value: object, field: str, *, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int within [low, high] (either bound optional), else a ValueError naming `field`."""
    if is_int(value) and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    if low is not None and high is not None:
        wanted = f"an integer in [{low}, {high}]"
    elif low is not None:
        wanted = f"an integer >= {low}"
    elif high is not None:
        wanted = f"an integer <= {high}"
    else:
        wanted = "an integer"
    raise ValueError(f"{field} must be {wanted}, got {value!r}")


def check_positive_int(value: object, field: str) -> int:
    """`value` as an int > 0, else a ValueError naming `field`."""
    if not is_int(value) or value <= 0:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")
    return int(value)


def check_seed(value: object, field: str = "seed") -> int:
    """A seed: an int in [0, 2**63 - 1], the range torch and numpy generators accept."""
    if not is_int(value) or not 0 <= value <= SEED_MAX:
        raise ValueError(f"{field} must be a non-negative integer below 2**63, got {value!r}")
    return int(value)


def check_finite(value: object, field: str) -> float:
    """`value` as a finite float: TypeError for a non-number (or bool), ValueError for inf/NaN."""
    if not is_real(value):
        raise TypeError(f"{field} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{field} must be finite, got {value}")
    return float(value)


def check_positive(value: object, field: str) -> float:
    """`value` as a finite float > 0, else a ValueError naming `field`."""
    if not is_finite(value) or value <= 0:
        raise ValueError(f"{field} must be a finite positive number, got {value!r}")
    return float(value)


def check_choice(value: object, field: str, options: Iterable[str]) -> str:
    """`value` if it is one of `options`, else a ValueError listing them."""
    allowed = tuple(options)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{field} must be one of {allowed}, got {value!r}")
    return value


def require(ok: bool, owner: str, field: str, problem: str) -> None:
    """Raise `ValueError("owner.field: problem")` unless `ok`."""
    if not ok:
        raise ValueError(f"{owner}.{field}: {problem}")


def number(owner: str, field: str, value: Any) -> float:
    """`value` as a finite float; bools, strings and non-finite numbers are refused."""
    if not is_real(value):
        raise TypeError(f"{owner}.{field}: must be a number (got {type(value).__name__} {value!r})")
    result = float(value)
    require(math.isfinite(result), owner, field, f"must be finite (got {result})")
    return result


def at_least(owner: str, field: str, value: Any, bound: float = 0.0, *, strict: bool = False) -> float:
    """`value` as a finite float that is >= `bound` (> `bound` when `strict`)."""
    result = number(owner, field, value)
    ok = result > bound if strict else result >= bound
    require(ok, owner, field, f"must be {'>' if strict else '>='} {bound:g} (got {result})")
    return result


def number_tuple(owner: str, field: str, value: Any) -> tuple[float, ...]:
    """`value` (a list or tuple) as a tuple of finite floats."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{owner}.{field}: must be a list of numbers (got {type(value).__name__})")
    return tuple(number(owner, f"{field}[{i}]", item) for i, item in enumerate(value))


def choice(owner: str, field: str, value: Any, options: tuple[str, ...]) -> str:
    """`value` if it is one of `options`, else a ValueError listing them."""
    allowed = " or ".join(repr(o) for o in options)
    require(isinstance(value, str) and value in options, owner, field, f"must be {allowed} (got {value!r})")
    return value


def increasing(owner: str, field: str, values: tuple[float, ...], *, minimum: float) -> None:
    """Refuse a sequence that is not strictly increasing or starts below `minimum`."""
    if values:
        require(values[0] >= minimum, owner, f"{field}[0]", f"must be >= {minimum:g} (got {values[0]})")
    for i in range(1, len(values)):
        require(values[i] > values[i - 1], owner, f"{field}[{i}]",
                f"must be > {field}[{i - 1}] (got {values[i]} <= {values[i - 1]})")
