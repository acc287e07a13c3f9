"""Concept rows and generation settings as a musicrfm job: the app steers through the same schema, plan
builder and renderer as `musicrfm render`, so the job file it offers reproduces its audio on the CLI.

A concept row becomes one job term (`{"probe", "target", "strength", "layers", "schedule"}`); every check
is the job schema's own, so errors name the field.

>>> term = concept_term("notes", "C", 0.5, "top_k: 2", "linear_ramp", "start: 0\\nend: 2")
>>> term["layers"], term["schedule"]["kind"]
({'top_k': 2}, 'linear_ramp')
>>> job = job_dict(GenerationSettings(model="toy", prompt="calm", duration_s=2.0), [term], "/probes")
>>> parse_job(job).terms[0].strengths
(0.5,)
>>> curves = strength_curves([term], duration_s=2.0, frame_rate=50.0)
>>> [round(float(v), 2) for v in curves[0][2][[0, 50, 100]]]
[0.0, 0.25, 0.5]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicrfm.checks import is_finite, is_real
from musicrfm.jobs import JobSpec, TermSpec, parse_job
from musicrfm.schedules import ConceptSequence, load_schedule, schedule_from_dict
from musicrfm.yaml_text import parse_yaml

# Editable parameter text per schedule kind (times in seconds), shown when the kind is picked.
SCHEDULE_EXAMPLES = {
    "constant": "value: 1.0",
    "linear_ramp": "start: 0.0\nend: 2.0\nfrom_value: 0.0\nto_value: 1.0",
    "exponential_decay": "half_life: 1.0\nstart: 0.0",
    "logistic": "midpoint: 1.0\nwidth: 0.2",
    "sine": "frequency: 0.5\ndepth: 0.5\noffset: 0.5",
    "steps": "boundaries: [1.0, 2.0]\nlevels: [0.0, 1.0, 0.5]",
    "keyframes": "times: [0.0, 1.0, 2.0]\nlevels: [0.0, 1.0, 0.0]",
    "sequence": "segments:\n  - {concept: C, start: 0.0, end: 1.0}\n  - {concept: E, start: 1.0, end: 2.0}\n"
                "  - {concept: G, start: 2.0}\ncrossfade: 0.2",
}
FROM_FILE = "from file"
SCHEDULE_CHOICES = (*SCHEDULE_EXAMPLES, FROM_FILE)
_GRID_CHECK = "<app>"


@dataclass(frozen=True)
class GenerationSettings:
    """Everything but the steering terms that decides one generated clip."""

    model: str
    prompt: str
    duration_s: float
    seed: int = 0
    top_k: int = 250
    temperature: float = 1.0
    guidance_scale: float = 3.0


def parse_layers_text(text: str) -> str | list[int] | dict[str, int]:
    """`all`, `exponential`, `top_k: K` or a comma-separated list of layer indices (negative from the end)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("layers: give all, exponential, top_k: K or a list such as 0, 1, -1")
    text = text.strip()
    if text in ("all", "exponential"):
        return text
    if text.replace(" ", "").startswith("top_k:"):
        value = text.split(":", 1)[1].strip()
        if not value.isdigit():
            raise ValueError(f"layers: top_k needs a positive whole number, got {value!r}")
        return {"top_k": int(value)}
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"layers: {text!r} is not all, exponential, top_k: K or a list of layer indices") from None


def schedule_from_form(kind: str, params: str | None, file: str | os.PathLike | None,
                       max_bytes: int) -> dict[str, Any]:
    """The schedule a row describes, validated by the schedules module, as its dict form."""
    if kind == FROM_FILE:
        return load_schedule(checked_schedule_file(file, max_bytes)).to_dict()
    if kind not in SCHEDULE_EXAMPLES:
        raise ValueError(f"schedule: unknown kind {kind!r}; choose one of {', '.join(SCHEDULE_CHOICES)}")
    fields = parse_yaml(params or "", "schedule parameters") or {}
    if not isinstance(fields, dict):
        raise ValueError("schedule parameters: write one 'name: value' per line")
    if "kind" in fields and fields["kind"] != kind:
        raise ValueError(f"schedule parameters: kind {fields['kind']!r} contradicts the chosen kind {kind!r}")
    return schedule_from_dict({**fields, "kind": kind}).to_dict()


def checked_schedule_file(file: str | os.PathLike | None, max_bytes: int) -> Path:
    """An uploaded schedule file's path after checking that it exists, its suffix and its size."""
    if not file:
        raise ValueError("schedule file: upload a .yaml, .yml or .json schedule file")
    path = Path(file)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ValueError(f"schedule file: {path.name!r} must end in .yaml, .yml or .json")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"schedule file: {size} bytes is over the {max_bytes}-byte limit")
    return path


def concept_term(probe: str, target: str | None, strength: float, layers: str, schedule_kind: str,
                 schedule_params: str | None = None, schedule_file: str | None = None, *,
                 max_schedule_bytes: int = 64_000) -> dict[str, Any]:
    """One concept row as a job term, checked by the job schema."""
    if not isinstance(probe, str) or not probe.strip():
        raise ValueError("probe: pick a probe from the library (train one in the Probes tab)")
    if not is_finite(strength):
        raise ValueError(f"strength: must be a finite number, got {strength!r}")
    schedule = schedule_from_form(schedule_kind, schedule_params, schedule_file, max_schedule_bytes)
    term: dict[str, Any] = {"probe": probe.strip(), "strength": float(strength), "layers": parse_layers_text(layers),
                            "schedule": schedule}
    if target and schedule["kind"] != "sequence":
        term["target"] = target
    check_terms([term])
    return term


def job_dict(settings: GenerationSettings, terms: list[dict[str, Any]], probes_root: str | os.PathLike) -> dict:
    """The job (one prompt, one seed, one strength per term) that renders this clip."""
    return {
        "name": "musicrfm app", "model": settings.model, "probes": str(probes_root), "prompts": [settings.prompt],
        "duration": settings.duration_s, "seeds": [settings.seed], "batch_size": 1,
        "sampling": {"top_k": settings.top_k, "temperature": settings.temperature,
                     "guidance_scale": settings.guidance_scale},
        "terms": list(terms),
    }


def check_terms(terms: Any) -> tuple[TermSpec, ...]:
    """Terms (as written in a job) validated by the job schema; one strength each (the app renders no grids)."""
    if not isinstance(terms, list):
        raise ValueError(f"terms: must be a list of steering terms, got {type(terms).__name__}")
    for i, term in enumerate(terms):
        # Requests may only name library probes and inline schedules, never files on the server.
        if isinstance(term, dict) and not isinstance(term.get("schedule", {}), dict):
            raise ValueError(f"terms[{i}].schedule: must be a schedule mapping (upload files in the form)")
        if isinstance(term, dict) and isinstance(term.get("probe"), str) and any(c in term["probe"] for c in "/\\"):
            raise ValueError(f"terms[{i}].probe: must name a probe in the library, not a path")
    job = parse_job({"prompts": [""], "duration": 1.0, "terms": terms}, source=_GRID_CHECK)
    for i, term in enumerate(job.terms):
        if len(term.strengths) != 1:
            raise ValueError(f"terms[{i}].strength: the app renders one strength per term, not a list")
    return job.terms


def check_job(job: JobSpec, max_duration_s: float) -> None:
    """Refuse jobs the app does not render: grids, and pieces longer than its limit."""
    if job.duration_s > max_duration_s:
        raise ValueError(f"duration: {job.duration_s:g} s is over this app's {max_duration_s:g} s limit")
    if len(job.prompts) != 1 or len(job.seeds) != 1:
        raise ValueError("prompt and seed: the app renders one of each")


def strength_curves(terms: list[dict[str, Any]], duration_s: float,
                    frame_rate: float) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, times in s, strength) per term; a sequence gives one curve per concept."""
    if not is_real(duration_s) or not duration_s > 0:
        raise ValueError(f"duration: must be a positive number of seconds, got {duration_s!r}")
    steps = np.arange(int(round(duration_s * frame_rate)) + 1)
    times = steps / frame_rate
    curves = []
    for term in check_terms(terms):
        schedule = term.schedule.with_frame_rate(frame_rate)
        strength = term.strengths[0]
        if isinstance(schedule, ConceptSequence):
            for concept in schedule.concepts:
                curves.append((f"{term.probe}:{concept}", times, strength * schedule.for_concept(concept).values(steps)))
        else:
            label = term.label or (term.probe if term.target is None else f"{term.probe}:{term.target}")
            curves.append((label, times, strength * schedule.values(steps)))
    return curves
