"""One Generate request: unsteered and steered renders with the same seed, their measured target accuracy,
a chromagram with the schedule on top, and the job file that reproduces the steered clip on the CLI.

Both renders go through `musicrfm.jobs` (schema, plan builder, `generate_batch`), exactly as
`musicrfm render` does; the unsteered one is the same job without its terms.

>>> import tempfile
>>> from musicrfm.app.cancel import CancelToken
>>> from musicrfm.app.engine import AppEngine
>>> from musicrfm.app.terms import GenerationSettings
>>> from musicrfm.models import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.probes import ProbeLibrary
>>> engine = AppEngine(loader=lambda name: MusicGen.from_model(tiny_musicgen(seed=0), name=name),
...                    library=ProbeLibrary(tempfile.mkdtemp()), work_dir=tempfile.mkdtemp())
>>> clip = render_clip(engine, GenerationSettings("toy", "calm", 0.2, guidance_scale=1.0), [], CancelToken())
>>> clip.steered.name, clip.job_file.name
('unsteered.wav', 'job.yaml')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from musicrfm.app.cancel import CancelToken
from musicrfm.app.engine import AppEngine, Progress
from musicrfm.app.figures import chromagram_figure
from musicrfm.app.terms import GenerationSettings, check_job, check_terms, job_dict, strength_curves
from musicrfm.evaluation import chromagram, evaluated_spans
from musicrfm.files import write_text_atomically
from musicrfm.jobs import JobSpec, check_probes, expand, generate_batch, load_probes, measure_audio, measures, parse_job
from musicrfm.models import MusicGen, write_audio
from musicrfm.schedules import schedule_from_dict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRIC_HEADERS = ["measure", "unsteered", "steered"]


@dataclass(frozen=True, eq=False)
class Clip:
    """The files and views of one request; `steered` is the unsteered file when there are no terms."""

    unsteered: Path
    steered: Path
    job_file: Path
    chroma: Figure
    metrics: list[list[Any]]


def render_clip(engine: AppEngine, settings: GenerationSettings, terms: list[dict[str, Any]], token: CancelToken,
                progress: Progress | None = None) -> Clip:
    """Render `settings` unsteered and steered by `terms` (job-file terms), measure and write everything."""
    check_terms(terms)
    data = job_dict(settings, terms, engine.library.root.resolve())
    job = parse_job(data, source="request")
    check_job(job, engine.limits.max_duration_s)
    model = engine.model(settings.model)
    probes = load_probes(job, engine.library)
    check_probes(job, probes, model)
    plain = dataclasses.replace(job, terms=())
    renders = [(plain, {})] + ([(job, probes)] if job.terms else [])
    forwards = len(renders) * (round(job.duration_s * model.frame_rate) + model.num_codebooks + 1)
    with engine.generating(model, token, progress, forwards):
        audio = [generate_batch(spec, model, expand(spec)[:1], loaded).audio[0].float().cpu().numpy()
                 for spec, loaded in renders]
    out = engine.request_dir()
    files = [out / "unsteered.wav"] + ([out / "steered.wav"] if job.terms else [])
    for path, clip in zip(files, audio):
        write_audio(path, clip, model.sample_rate)
    job_file = write_text_atomically(out / "job.yaml", yaml.safe_dump(data, sort_keys=False))
    targets = [m for term in job.terms for m in measures(term, probes, model.frame_rate)]
    metrics = _metric_rows([measure_audio(clip, model.sample_rate, targets) for clip in audio])
    figure = _chroma(job, model, audio[-1], targets, terms)
    return Clip(unsteered=files[0], steered=files[-1], job_file=job_file, chroma=figure, metrics=metrics)


def _metric_rows(measured: Sequence[dict[str, float | None]]) -> list[list[Any]]:
    """One row per measure: its unsteered and steered values (the same clip twice when unsteered only)."""
    first, last = measured[0], measured[-1]
    if not first:
        return [["no measurable target (steer a notes, chords or tempo probe)", None, None]]
    return [[name, _rounded(first[name]), _rounded(last[name])] for name in first]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _chroma(job: JobSpec, model: MusicGen, audio: np.ndarray, targets: list[dict[str, Any]],
            terms: list[dict[str, Any]]) -> Figure:
    clip = audio.mean(axis=0) if audio.ndim == 2 else audio
    spans: list[tuple[str, float, float]] = []
    for record in targets:
        if record.get("sequence") is not None:
            spans += evaluated_spans(schedule_from_dict(record["sequence"]), job.duration_s)
        elif record.get("target") is not None:
            spans.append((record["target"], 0.0, job.duration_s))
    curves = strength_curves(terms, job.duration_s, model.frame_rate)
    title = "steered chroma" if job.terms else "unsteered chroma"
    return chromagram_figure(chromagram(clip, model.sample_rate), spans, curves, title)
