"""The job schema: what to render (model, prompts, duration, sampling, seeds, format) and how to steer it.

A job is a YAML or JSON mapping; any field written as a list (prompts, seeds, sampling values, a term's
strength) is a grid axis, expanded by `musicrfm.jobs.grid`. Unknown keys are refused, and every error
names the file and the field path.

>>> job = parse_job({"model": "toy", "prompts": ["calm piano"], "duration": 2.0, "seeds": [0, 1],
...                  "terms": [{"probe": "notes", "target": "C", "strength": [0.0, 0.5],
...                             "schedule": {"kind": "linear_ramp", "start": 0.0, "end": 1.0}}]})
>>> job.seeds, job.terms[0].strengths, job.terms[0].schedule.kind
((0, 1), (0.0, 0.5), 'linear_ramp')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicrfm.jobs.fields import FieldReader, JobError
from musicrfm.schedules import Constant, ConceptSequence, ScheduleSpec, load_schedule, schedule_from_dict

FORMATS = ("wav", "flac")
CFG_TARGETS = ("both", "cond", "uncond")
MODES = ("absolute", "relative")
LAYER_KINDS = ("all", "top_k", "exponential", "explicit")
_JOB_FIELDS = ("name", "model", "probes", "prompts", "duration", "seeds", "sampling", "format", "batch_size",
               "long_form", "metrics", "orthogonalize", "terms")
_TERM_FIELDS = ("probe", "target", "component", "strength", "layers", "schedule", "gate_p", "cfg_target", "mode",
                "label")
_SAMPLING_FIELDS = ("top_k", "temperature", "guidance_scale")


@dataclass(frozen=True)
class LayerRule:
    """Which layers a term steers: all, the `k` best by probe score, exponential weights, or a list."""

    kind: str = "all"
    k: int | None = None
    base: float = 1.0
    kappa: float = 0.95
    layers: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any] | str | list[int]:
        """The form a job file writes (and `parse_layers` reads back)."""
        if self.kind == "all":
            return "all"
        if self.kind == "explicit":
            return list(self.layers)
        if self.kind == "top_k":
            return {"top_k": self.k}
        return {"exponential": {"base": self.base, "kappa": self.kappa}}


@dataclass(frozen=True)
class TermSpec:
    """One steering term of a job. `probe` is a library name or bundle path, or, for a sequence schedule,
    `((concept, probe), ...)` pairs; `strengths` is the term's grid axis."""

    probe: str | tuple[tuple[str, str], ...]
    strengths: tuple[float, ...]
    schedule: ScheduleSpec = Constant(1.0)
    target: str | None = None
    component: int = 0
    layers: LayerRule = LayerRule()
    gate_p: float = 1.0
    cfg_target: str = "both"
    mode: str = "absolute"
    label: str | None = None

    def params(self) -> dict[str, Any]:
        """Everything but the strength, as plain data (the manifest and item ids use it)."""
        probe = self.probe if isinstance(self.probe, str) else dict(self.probe)
        return {"probe": probe, "target": self.target, "component": self.component, "layers": self.layers.to_dict(),
                "schedule": self.schedule.to_dict(), "gate_p": self.gate_p, "cfg_target": self.cfg_target,
                "mode": self.mode, "label": self.label}


@dataclass(frozen=True)
class Sampling:
    """Sampling settings; each is a grid axis."""

    top_k: tuple[int, ...] = (250,)
    temperature: tuple[float, ...] = (1.0,)
    guidance_scale: tuple[float, ...] = (3.0,)


@dataclass(frozen=True)
class JobSpec:
    """A validated job. `source` names the file in messages; relative paths resolve against `base_dir`."""

    prompts: tuple[str, ...]
    duration_s: float
    model: str = "toy"
    name: str = ""
    probes: Path | None = None
    seeds: tuple[int, ...] = (0,)
    sampling: Sampling = Sampling()
    format: str = "wav"
    batch_size: int = 4
    window_s: float = 30.0
    context_s: float = 10.0
    metrics: bool = False
    orthogonalize: bool = False
    terms: tuple[TermSpec, ...] = ()
    source: str = field(default="<job>", compare=False)
    base_dir: Path = field(default=Path("."), compare=False)


def parse_job(data: Any, source: str = "<job>", base_dir: str | Path = ".") -> JobSpec:
    """Validate a job mapping (as read from YAML/JSON); paths inside resolve against `base_dir`."""
    read = FieldReader(source)
    data = read.mapping("", data, _JOB_FIELDS, required=("prompts", "duration"))
    base = Path(base_dir)
    window_s, context_s = _long_form(read, data.get("long_form", {}))
    return JobSpec(
        name=read.text("name", data.get("name", ""), empty=True),
        model=read.text("model", data.get("model", "toy")),
        probes=None if data.get("probes") is None else base / read.text("probes", data["probes"]),
        prompts=read.axis("prompts", data["prompts"], lambda p, v: read.text(p, v, empty=True)),
        duration_s=read.positive("duration", data["duration"]),
        seeds=read.axis("seeds", data.get("seeds", 0), read.integer),
        sampling=_sampling(read, data.get("sampling", {})),
        format=read.choice("format", data.get("format", "wav"), FORMATS),
        batch_size=read.integer("batch_size", data.get("batch_size", 4), minimum=1),
        window_s=window_s, context_s=context_s,
        metrics=read.flag("metrics", data.get("metrics", False)),
        orthogonalize=read.flag("orthogonalize", data.get("orthogonalize", False)),
        terms=_terms(read, data.get("terms", []), base),
        source=source, base_dir=base,
    )


def _long_form(read: FieldReader, data: Any) -> tuple[float, float]:
    data = read.mapping("long_form", data, ("window", "context"))
    window = read.positive("long_form.window", data.get("window", 30.0))
    context = read.number("long_form.context", data.get("context", 10.0))
    if not 0 <= context < window:
        raise read.fail("long_form.context", f"must lie in [0, window) (got {context:g} with window {window:g})")
    return window, context


def _sampling(read: FieldReader, data: Any) -> Sampling:
    data = read.mapping("sampling", data, _SAMPLING_FIELDS)
    top_k = lambda p, v: read.integer(p, v, minimum=1)  # noqa: E731
    return Sampling(
        top_k=read.axis("sampling.top_k", data.get("top_k", 250), top_k),
        temperature=read.axis("sampling.temperature", data.get("temperature", 1.0), read.positive),
        guidance_scale=read.axis("sampling.guidance_scale", data.get("guidance_scale", 3.0), read.positive),
    )


def _terms(read: FieldReader, data: Any, base: Path) -> tuple[TermSpec, ...]:
    if not isinstance(data, list):
        raise read.fail("terms", f"must be a list of steering terms (got {type(data).__name__})")
    return tuple(_term(read, f"terms[{i}]", item, base) for i, item in enumerate(data))


def _term(read: FieldReader, path: str, data: Any, base: Path) -> TermSpec:
    data = read.mapping(path, data, _TERM_FIELDS, required=("probe", "strength"))
    schedule = _schedule(read, f"{path}.schedule", data.get("schedule"), base)
    probe = _probe(read, f"{path}.probe", data["probe"], schedule)
    target = None if data.get("target") is None else read.text(f"{path}.target", data["target"])
    if target is not None and isinstance(schedule, ConceptSequence):
        raise read.fail(f"{path}.target", "a sequence schedule names its own targets; leave target out")
    label = data.get("label")
    return TermSpec(
        probe=probe, target=target, schedule=schedule,
        strengths=read.axis(f"{path}.strength", data["strength"], read.number),
        component=read.integer(f"{path}.component", data.get("component", 0)),
        layers=parse_layers(read, f"{path}.layers", data.get("layers", "all")),
        gate_p=read.within(f"{path}.gate_p", data.get("gate_p", 1.0), 0.0, 1.0),
        cfg_target=read.choice(f"{path}.cfg_target", data.get("cfg_target", "both"), CFG_TARGETS),
        mode=read.choice(f"{path}.mode", data.get("mode", "absolute"), MODES),
        label=None if label is None else read.text(f"{path}.label", label),
    )


def _schedule(read: FieldReader, path: str, data: Any, base: Path) -> ScheduleSpec:
    if data is None:
        return Constant(1.0)
    try:
        if isinstance(data, str):
            file = base / data
            if not file.is_file():
                raise read.fail(path, f"schedule file '{file}' does not exist")
            return load_schedule(file)
        return schedule_from_dict(data)
    except JobError:
        raise
    except (ValueError, TypeError) as error:
        raise read.nested(path, error) from error


def _probe(read: FieldReader, path: str, data: Any, schedule: ScheduleSpec) -> str | tuple[tuple[str, str], ...]:
    if isinstance(data, str):
        return read.text(path, data)
    if not isinstance(data, Mapping):
        raise read.fail(path, f"must be a probe name or path, or a concept -> probe mapping (got {type(data).__name__})")
    if not isinstance(schedule, ConceptSequence):
        raise read.fail(path, "a concept -> probe mapping needs a sequence schedule")
    wanted = set(schedule.concepts)
    if set(data) != wanted:
        raise read.fail(path, f"must map exactly the sequence's concepts {sorted(wanted)} (got {sorted(data)})")
    return tuple((concept, read.text(f"{path}.{concept}", data[concept])) for concept in schedule.concepts)


def parse_layers(read: FieldReader, path: str, data: Any) -> LayerRule:
    """`all`, `top_k: k` (or `{top_k: k}`), `exponential` (or `{exponential: {base, kappa}}`), or a list."""
    if data == "all":
        return LayerRule()
    if data == "exponential":
        return LayerRule("exponential")
    if isinstance(data, list):
        # Negative layers count from the last decoder layer, as everywhere in musicrfm.
        layers = read.axis(path, data, lambda p, v: read.integer(p, v, minimum=-(2**31)))
        return LayerRule("explicit", layers=layers)
    if not isinstance(data, Mapping) or len(data) != 1:
        raise read.fail(path, f"must be all, exponential, {{top_k: K}}, {{exponential: {{...}}}} or a list of "
                              f"layers (got {data!r})")
    data = read.mapping(path, data, ("top_k", "exponential"))
    if "top_k" in data:
        return LayerRule("top_k", k=read.integer(f"{path}.top_k", data["top_k"], minimum=1))
    options = read.mapping(f"{path}.exponential", data["exponential"] or {}, ("base", "kappa"))
    return LayerRule("exponential", base=read.positive(f"{path}.exponential.base", options.get("base", 1.0)),
                     kappa=read.positive(f"{path}.exponential.kappa", options.get("kappa", 0.95)))
