"""Render a job into a folder: audio files plus a JSONL manifest, resumable and safe to kill at any moment.

Each batch of items is generated in one call; each item's audio is written atomically (temporary file,
then rename) and only then is its manifest line appended and fsynced. Rerunning skips every item that has
a manifest line and an audio file, so a killed render loses at most the batch in flight.

>>> import tempfile
>>> from musicrfm.jobs.spec import parse_job
>>> from musicrfm.models import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> mg = MusicGen.from_model(tiny_musicgen(seed=0))
>>> job = parse_job({"prompts": ["a", "b"], "duration": 0.1, "seeds": [0, 1], "sampling": {"guidance_scale": 1.0}})
>>> out = tempfile.mkdtemp()
>>> first, again = render_job(job, mg, out), render_job(job, mg, out)
>>> (first.rendered, first.skipped), (again.rendered, again.skipped)
((4, 0), (0, 4))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from musicrfm import __version__
from musicrfm.jobs.grid import JobItem, batches, expand, item_params, shard
from musicrfm.jobs.manifest import Manifest, read_manifest
from musicrfm.jobs.metrics import measure_audio
from musicrfm.jobs.plans import LoadedProbe, ProbeSource, build_plan, check_probes, load_probes, measures
from musicrfm.jobs.spec import JobSpec
from musicrfm.models import MusicGen, write_audio
from musicrfm.probes import ProbeLibrary
from musicrfm.steering import Generation, generate

AUDIO_DIR = "audio"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderReport:
    """What one `render_job` call did: items in its shard, rendered now, skipped as already finished."""

    out_dir: Path
    manifest: Path
    total: int
    rendered: int
    skipped: int
    seconds: float


def render_job(job: JobSpec, model: MusicGen, out_dir: str | os.PathLike, *, library: ProbeLibrary | None = None,
               shard_of: tuple[int, int] = (1, 1), progress: Progress | None = None,
               builtin: ProbeSource | None = None) -> RenderReport:
    """Render shard `shard_of` = (i, n) of `job` with `model` into `out_dir`; `progress(done, total)` per item.
    Probes come from the library, else from `builtin` (see `load_probes`)."""
    if not isinstance(model, MusicGen):
        raise TypeError(f"model must be a musicrfm MusicGen, got {type(model).__name__}")
    started = time.perf_counter()
    probes = load_probes(job, library, builtin=builtin)
    check_probes(job, probes, model)
    out = Path(out_dir)
    (out / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out, shard_of)
    _check_resume(out, probes)
    groups = shard(batches(job, expand(job)), *shard_of)
    done = manifest.finished()
    total = sum(len(g) for g in groups)
    finished = sum(item.id in done for g in groups for item in g)
    renderer = _BatchRenderer(job, model, probes, out, manifest)
    count = finished
    for group in groups:
        todo = [item for item in group if item.id not in done]
        if not todo:
            continue
        for _ in renderer.render(group, todo):
            count += 1
            if progress is not None:
                progress(count, total)
    return RenderReport(out, manifest.path, total, count - finished, finished, time.perf_counter() - started)


def generate_batch(job: JobSpec, model: MusicGen, group: Sequence[JobItem],
                   probes: Mapping[str, LoadedProbe]) -> Generation:
    """Generate the items of one batch (equal `batch_key`, one row per prompt) in one seeded call."""
    first = group[0]
    if any(item.batch_key() != first.batch_key() for item in group):
        raise ValueError("a batch must hold items that differ only in their prompt")
    text = model.tokenize([item.prompt for item in group])
    return generate(
        model, build_plan(job, first.strengths, seed=first.seed, probes=probes),
        input_ids=text["input_ids"], attention_mask=text["attention_mask"], duration_s=job.duration_s,
        seed=first.seed, guidance_scale=first.guidance_scale, window_s=job.window_s, context_s=job.context_s,
        top_k=first.top_k, temperature=first.temperature,
    )


def _check_resume(out: Path, probes: Mapping[str, LoadedProbe]) -> None:
    """Refuse to mix renders made with different probe bundles under one reference in one folder."""
    current = {ref: p.sha256 for ref, p in probes.items()}
    for entry in read_manifest(out):
        for ref, info in entry.get("probes", {}).items():
            if ref in current and info.get("sha256") != current[ref]:
                raise ValueError(f"probe '{ref}' has changed since item {entry['id']} was rendered into '{out}'; "
                                 "render into a new folder (or delete the old items)")


class _BatchRenderer:
    """Generates one batch, writes the missing items' audio and manifest lines."""

    def __init__(self, job: JobSpec, model: MusicGen, probes: Mapping[str, LoadedProbe], out: Path,
                 manifest: Manifest) -> None:
        self.job, self.model, self.probes, self.out, self.manifest = job, model, probes, out, manifest
        self.targets = [m for term in job.terms for m in measures(term, probes, model.frame_rate)]
        self.probe_info = {ref: p.summary() for ref, p in probes.items()}

    def render(self, group: Sequence[JobItem], todo: Sequence[JobItem]):
        """Generate `group` together (its batch-mates shape its random stream); yield each `todo` item written."""
        started = time.perf_counter()
        result = generate_batch(self.job, self.model, group, self.probes)
        seconds = time.perf_counter() - started
        for item in todo:
            row = group.index(item)
            audio = result.audio[row].detach().float().cpu().numpy()
            file = f"{AUDIO_DIR}/{item.id}.{self.job.format}"
            write_audio(self.out / file, audio, result.sampling_rate)
            self.manifest.append(self._entry(item, group, file, audio, result.sampling_rate, seconds))
            yield item

    def _entry(self, item: JobItem, group: Sequence[JobItem], file: str, audio: Any, sample_rate: int,
               seconds: float) -> dict[str, Any]:
        job = self.job
        params = item_params(job, item.prompt, item.seed, item.top_k, item.temperature, item.guidance_scale,
                             item.strengths)
        entry = {
            "id": item.id, "index": item.index, "file": file, "job": job.name or job.source, "params": params,
            "seed": item.seed, "strengths": list(item.strengths), "sample_rate": sample_rate,
            "duration_s": audio.shape[-1] / sample_rate, "batch": [member.id for member in group],
            "model": {"name": self.model.name, "fingerprint": dict(self.model.fingerprint)},
            "probes": self.probe_info, "targets": self.targets,
            "timing": {"batch_s": round(seconds, 4), "per_item_s": round(seconds / len(group), 4)},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "musicrfm": __version__,
        }
        if job.metrics:
            entry["metrics"] = measure_audio(audio, sample_rate, self.targets)
        return entry
