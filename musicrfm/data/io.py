"""Files for concept datasets: mono audio reading with resampling and CSV / JSONL tables (a dataset
folder is written atomically with `musicrfm.files.atomic_directory`).

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> write_table(out / "rows.csv", [{"path": "a.wav", "label": "C"}], ["path", "label"])
>>> read_table(out / "rows.csv")
[{'path': 'a.wav', 'label': 'C'}]
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf
import soxr

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")


def read_mono(
    source: str | os.PathLike | BinaryIO, sample_rate: int, *, resample: bool = True, name: str | None = None
) -> np.ndarray:
    """Audio from a file path or binary file object as mono float32 at `sample_rate` (channels averaged,
    soxr resampling).

    ValueError naming the file (or `name`) when it cannot be decoded, is empty, or has another rate and
    `resample` is False.
    """
    name = name or str(source)
    try:
        data, file_rate = sf.read(source if hasattr(source, "read") else str(source), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise ValueError(f"cannot read audio file '{name}': {exc}") from exc
    if data.shape[0] == 0:
        raise ValueError(f"audio file '{name}' holds no samples")
    mono = data.mean(axis=1)
    if file_rate != sample_rate:
        if not resample:
            raise ValueError(
                f"audio file '{name}' has sample rate {file_rate} Hz, not {sample_rate} Hz, and resample=False"
            )
        mono = soxr.resample(mono, file_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV; samples are clipped to [-1, 1] first because integer PCM would wrap around."""
    sf.write(str(path), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")


def write_table(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV (.csv; None becomes an empty cell) or JSON lines (.jsonl)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        if path.suffix == ".jsonl":
            for row in rows:
                handle.write(json.dumps({c: row.get(c) for c in columns}) + "\n")
            return
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows({c: "" if row.get(c) is None else row[c] for c in columns} for row in rows)


def read_table(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a .csv (header line first) or .jsonl (one JSON object per line) file."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise ValueError(f"manifest must be a .csv or .jsonl file, got '{path.name}'")
    if not path.is_file():
        raise ValueError(f"manifest '{path}' does not exist")
    with open(path, newline="", encoding="utf-8") as handle:
        if path.suffix.lower() == ".csv":
            return [dict(row) for row in csv.DictReader(handle)]
        rows = []
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"manifest '{path}' line {number} is not valid JSON: {exc.msg}") from exc
                if not isinstance(row, dict):
                    raise ValueError(f"manifest '{path}' line {number} must be a JSON object")
                rows.append(row)
        return rows


