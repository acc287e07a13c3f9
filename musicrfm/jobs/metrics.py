"""Measure rendered audio against what its steering terms aimed for (see `plans.measures`).

Keys are `<label>.<metric>`: `note_accuracy` / `chord_accuracy` for a fixed target, one
`segment<i>_<target>_accuracy` per segment plus `min_segment_accuracy` for a sequence, and `bpm` for
tempo. A value that cannot be measured (silent audio) is None, never NaN, so manifests stay valid JSON.

>>> import numpy as np
>>> sr = 16000
>>> tone = 0.3 * np.sin(2 * np.pi * 261.63 * np.arange(sr) / sr)
>>> measure_audio(tone, sr, [{"label": "notes:C", "measure": "note", "target": "C"}])
{'notes:C.note_accuracy': 1.0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from musicrfm.evaluation import chord_accuracy, estimate_bpm, note_accuracy, segment_accuracy
from musicrfm.schedules import ConceptSequence, schedule_from_dict

_FIXED = {"note": note_accuracy, "chord": chord_accuracy}


def measure_audio(audio: np.ndarray, sample_rate: int, targets: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """All metrics of one clip (mono, or channels averaged) for the measure records `targets`."""
    clip = np.asarray(audio, dtype=np.float32)
    clip = clip.mean(axis=0) if clip.ndim == 2 else clip
    out: dict[str, float | None] = {}
    for record in targets:
        label, kind = record["label"], record["measure"]
        if kind == "tempo":
            out[f"{label}.bpm"] = finite_or_none(estimate_bpm(clip, sample_rate))
        elif record.get("sequence") is not None:
            out.update(_sequence_metrics(clip, sample_rate, label, kind, record["sequence"]))
        else:
            out[f"{label}.{kind}_accuracy"] = finite_or_none(_FIXED[kind](clip, sample_rate, record["target"]))
    return out


def _sequence_metrics(clip: np.ndarray, sample_rate: int, label: str, kind: str,
                      sequence: Mapping[str, Any]) -> dict[str, float | None]:
    schedule = schedule_from_dict(sequence)
    if not isinstance(schedule, ConceptSequence):
        raise ValueError(f"{label}: a sequence measure needs a sequence schedule, got {schedule.kind!r}")
    scores = segment_accuracy(clip, sample_rate, schedule, measure=kind)
    out = {f"{label}.segment{i}_{s.concept}_accuracy": finite_or_none(s.accuracy) for i, s in enumerate(scores)}
    measured = [s.accuracy for s in scores if math.isfinite(s.accuracy)]
    out[f"{label}.min_segment_accuracy"] = min(measured) if measured else None
    return out


def finite_or_none(value: float) -> float | None:
    """`value` as a float, or None where it cannot be measured (NaN), so JSON stays valid."""
    return float(value) if math.isfinite(value) else None
