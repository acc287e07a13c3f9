"""Summary tables of evaluation rows (one dict per rendered item): grouping, markdown and CSV, and files
written atomically.

>>> rows = [{"strength": 0.0, "accuracy": 0.1}, {"strength": 0.5, "accuracy": 0.7},
...         {"strength": 0.5, "accuracy": 0.9}]
>>> summary = group_mean(rows, by=["strength"], values=["accuracy"])
>>> print(markdown_table(summary))
| strength | accuracy | n |
| ---: | ---: | ---: |
| 0 | 0.1 | 1 |
| 0.5 | 0.8 | 2 |
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musicrfm.checks import is_real
from musicrfm.files import write_text_atomically

TABLE_SUFFIXES = (".md", ".csv")


def _check_rows(rows: object) -> list[Mapping[str, Any]]:
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise TypeError(f"rows must be a list of dicts, got {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"rows[{i}] must be a dict, got {type(row).__name__}")
    return list(rows)


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every key of the rows, in order of first appearance."""
    return list(dict.fromkeys(key for row in _check_rows(rows) for key in row))


def group_mean(rows: Sequence[Mapping[str, Any]], *, by: Sequence[str], values: Sequence[str]) -> list[dict[str, Any]]:
    """One row per distinct combination of the `by` columns (in order of first appearance) with the mean
    of each `values` column (NaNs left out) and `n`, the number of rows in the group."""
    rows = _check_rows(rows)
    for name, fields in (("by", by), ("values", values)):
        if isinstance(fields, str) or not fields:
            raise ValueError(f"{name} must be a non-empty list of column names")
    for i, row in enumerate(rows):
        missing = [f for f in (*by, *values) if f not in row]
        if missing:
            raise ValueError(f"rows[{i}] has no column {missing[0]!r}")
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[f] for f in by), []).append(row)
    summary = []
    for key, members in groups.items():
        means = {v: _nanmean([m[v] for m in members], v) for v in values}
        summary.append({**dict(zip(by, key)), **means, "n": len(members)})
    return summary


def _nanmean(items: list[Any], column: str) -> float:
    if not all(is_real(x) for x in items):
        raise TypeError(f"column {column!r} must hold numbers to be averaged")
    finite = [float(x) for x in items if not math.isnan(x)]
    return float(np.mean(finite)) if finite else float("nan")


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.{digits}e}"
    return "" if value is None else str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *,
                   digits: int = 3) -> str:
    """A GitHub-style markdown table; numbers right-aligned, floats to `digits` significant digits."""
    rows = _check_rows(rows)
    columns = columns_of(rows) if columns is None else list(columns)
    if not columns:
        raise ValueError("a table needs at least one column")
    numeric = [all(isinstance(r.get(c), numbers.Real) for r in rows) and bool(rows) for c in columns]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    for row in rows:
        cells = (_cell(row.get(c), digits).replace("|", "\\|") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def csv_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text with a header row; missing cells are empty and floats keep full precision."""
    rows = _check_rows(rows)
    columns = columns_of(rows) if columns is None else list(columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()




def save_table(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike,
               columns: Sequence[str] | None = None) -> Path:
    """Write rows as markdown (.md) or CSV (.csv), atomically."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"path must end in one of {TABLE_SUFFIXES}, got '{Path(path).name}'")
    text = markdown_table(rows, columns) + "\n" if suffix == ".md" else csv_table(rows, columns)
    return write_text_atomically(path, text)
