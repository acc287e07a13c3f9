"""From a job's terms and one item's strengths to a SteeringPlan, with the probes each term names.

A probe reference is a bundle folder (absolute, or relative to the job file) when one exists there, else
a name in the probe library, else one a `builtin` source provides (the toy model's on-demand probes). A
sequence schedule becomes one term per concept, each weighted by `sequence.for_concept(concept)`; its
concepts are classes of the term's probe, or map to probes of their own.

>>> import tempfile, torch
>>> from musicrfm.probes import ConceptProbe, ProbeLibrary
>>> from musicrfm.jobs.spec import parse_job
>>> probe = ConceptProbe(concept="notes", task="multiclass", classes=("C", "E", "G"), target=None, layers=(0, 1),
...     vectors=torch.nn.functional.normalize(torch.randn(3, 2, 1, 32), dim=-1), eigenvalues=torch.ones(3, 2, 1),
...     val_scores=(0.7, 0.9), test_scores=(0.6, 0.8), metric="accuracy",
...     model={"name": "tiny", "fingerprint": {"hidden_size": 32, "num_layers": 2}})
>>> library = ProbeLibrary(tempfile.mkdtemp())
>>> _ = library.save(probe, "notes")
>>> job = parse_job({"prompts": "x", "duration": 1, "terms": [{"probe": "notes", "strength": 0.5,
...     "schedule": {"kind": "sequence", "segments": [{"concept": "C", "start": 0, "end": 0.5},
...                                                   {"concept": "G", "start": 0.5}]}}]})
>>> probes = load_probes(job, library)
>>> [t.name for t in build_plan(job, (0.5,), seed=0, probes=probes).terms]
['notes:C', 'notes:G']
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from musicrfm.jobs.spec import JobSpec, TermSpec
from musicrfm.probes import ConceptProbe, ProbeLibrary
from musicrfm.probes.bundle import META_FILE, is_bundle
from musicrfm.steering import SteeringPlan, SteeringTerm
from musicrfm.schedules import ConceptSequence, ScheduleSpec
from musicrfm.toy.probes import TOY_CONCEPTS

ProbeSource = Callable[[str], Path | None]
"""Gives the bundle folder of a probe name that is in no library (trained on demand), or None."""
# Probe concepts whose effect can be read back from the audio, and how.
MEASURED_CONCEPTS = {"notes": "note", "chords": "chord", "tempo": "tempo"}


@dataclass(frozen=True, eq=False)
class LoadedProbe:
    """A probe with where it came from and a SHA-256 of its bundle description (which records its tensors'
    own checksum), so the manifest pins exactly which directions steered each item."""

    ref: str
    path: Path
    probe: ConceptProbe
    sha256: str

    def summary(self) -> dict[str, Any]:
        """What the manifest records about this probe."""
        return {"path": str(self.path), "sha256": self.sha256, "concept": self.probe.concept,
                "task": self.probe.task, "target": self.probe.target}


def probe_refs(job: JobSpec) -> list[str]:
    """Every distinct probe reference of the job, in order of appearance."""
    refs: list[str] = []
    for term in job.terms:
        for ref in (term.probe,) if isinstance(term.probe, str) else dict(term.probe).values():
            if ref not in refs:
                refs.append(ref)
    return refs


def load_probes(job: JobSpec, library: ProbeLibrary | None = None, *,
                builtin: ProbeSource | None = None) -> dict[str, LoadedProbe]:
    """Load every probe the job names (library: `library`, else the job's `probes:` folder, else the default;
    then `builtin`, e.g. the toy model's on-demand probes)."""
    if library is None:
        library = ProbeLibrary(job.probes)
    return {ref: load_probe(ref, job.base_dir, library, builtin=builtin) for ref in probe_refs(job)}


def load_probe(ref: str, base_dir: Path, library: ProbeLibrary, *, builtin: ProbeSource | None = None) -> LoadedProbe:
    """The bundle folder `ref` (relative to `base_dir`) if there is one, else the library's probe `ref`, else
    the folder `builtin(ref)` gives (None: not built in)."""
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not is_bundle(path):
        if "/" in ref or "\\" in ref:
            raise ValueError(f"probe '{ref}': no probe bundle at '{path}'")
        path = library.path(ref)
        if not is_bundle(path):
            found = None if builtin is None else builtin(ref)
            if found is None:
                raise ValueError(_missing(ref, library))
            path = found
    digest = hashlib.sha256((path / META_FILE).read_bytes()).hexdigest()
    return LoadedProbe(ref=ref, path=path, probe=ConceptProbe.load(path), sha256=digest)


def _missing(ref: str, library: ProbeLibrary) -> str:
    return (f"probe '{ref}': not a bundle folder and not in the probe library {library.root} (available: "
            f"{library.list()}); train it with 'musicrfm dataset make CONCEPT --out DIR' then 'musicrfm probe train "
            f"--model MODEL --dataset DIR --name {ref}' (the toy model trains {', '.join(TOY_CONCEPTS)} on demand)")


def check_probes(job: JobSpec, probes: Mapping[str, LoadedProbe], model: Any) -> None:
    """Refuse, before anything renders, probes made for another model and targets a probe lacks."""
    for loaded in probes.values():
        loaded.probe.check_model(model)
    for i, term in enumerate(job.terms):
        for _, probe, target, _ in _parts(term, probes):
            try:
                probe.direction(target, term.component)
            except ValueError as error:
                raise ValueError(f"terms[{i}] ({_ref_text(term)}): {error}") from error


def build_plan(job: JobSpec, strengths: Sequence[float], *, seed: int,
               probes: Mapping[str, LoadedProbe]) -> SteeringPlan | None:
    """The steering plan of one item (None when the job has no terms)."""
    if not job.terms:
        return None
    terms = [_steering_term(term, probe, target, schedule, strength, seed)
             for term, strength in zip(job.terms, strengths)
             for _, probe, target, schedule in _parts(term, probes)]
    return SteeringPlan(tuple(terms), orthogonalize=job.orthogonalize)


def measures(term: TermSpec, probes: Mapping[str, LoadedProbe], frame_rate: float) -> list[dict[str, Any]]:
    """What evaluation can measure of one job term: a note or chord target (over time, for a sequence, with
    the segments renamed to their targets and times bound to `frame_rate`), or the tempo; [] otherwise."""
    parts = list(_parts(term, probes))
    kinds = {MEASURED_CONCEPTS.get(probe.concept) for _, probe, _, _ in parts}
    if len(kinds) != 1 or None in kinds:
        return []
    kind = kinds.pop()
    if not isinstance(term.schedule, ConceptSequence):
        label, _, target, _ = parts[0]
        return [] if kind != "tempo" and target is None else [{"label": label, "measure": kind, "target": target}]
    renamed = {concept: target for concept, (_, _, target, _) in zip(term.schedule.concepts, parts)}
    segments = tuple(replace(seg, concept=renamed[seg.concept]) for seg in term.schedule.segments)
    sequence = replace(term.schedule, segments=segments).with_frame_rate(frame_rate)
    label = "sequence:" + "-".join(renamed.values())
    return [] if kind == "tempo" else [{"label": label, "measure": kind, "sequence": sequence.to_dict()}]


def _parts(term: TermSpec, probes: Mapping[str, LoadedProbe]) -> Iterator[tuple[str, ConceptProbe, str | None,
                                                                                  ScheduleSpec]]:
    """(label, probe, target, schedule) per steering term; a sequence gives one per concept."""
    schedule = term.schedule
    if not isinstance(schedule, ConceptSequence):
        probe = probes[term.probe].probe
        target = probe.target if term.target is None else term.target
        yield term.label or _name(probe, target), probe, target, schedule
        return
    refs = {concept: term.probe for concept in schedule.concepts} if isinstance(term.probe, str) \
        else dict(term.probe)
    for concept in schedule.concepts:
        probe = probes[refs[concept]].probe
        # With one probe for the whole sequence, each concept is a class of it; with a mapping, the
        # concept's own (binary or regression) probe steers toward its own target.
        target = concept if isinstance(term.probe, str) else probe.target
        yield _name(probe, target), probe, target, schedule.for_concept(concept)


def _steering_term(term: TermSpec, probe: ConceptProbe, target: str | None, schedule: ScheduleSpec,
                   strength: float, seed: int) -> SteeringTerm:
    rule = term.layers
    if rule.kind == "exponential":
        layers: Any = probe.layer_weights("exponential", base=rule.base, kappa=rule.kappa)
    else:
        layers = list(rule.layers) if rule.kind == "explicit" else rule.kind
    return probe.term(strength, target=target, component=term.component, layers=layers, top_k=rule.k,
                      schedule=schedule, gate_p=term.gate_p, seed=seed, rows=term.cfg_target, mode=term.mode)


def _name(probe: ConceptProbe, target: str | None) -> str:
    return probe.concept if target is None else f"{probe.concept}:{target}"


def _ref_text(term: TermSpec) -> str:
    return term.probe if isinstance(term.probe, str) else ", ".join(f"{c}: {r}" for c, r in term.probe)
