"""Batch rendering: job files (schema and validation), grid expansion into items with stable ids, sharding,
and a resumable renderer that writes audio plus a JSONL manifest.

>>> from musicrfm.jobs import expand, parse_job
>>> job = parse_job({"prompts": ["calm piano", "bright synth"], "duration": 2, "seeds": [0, 1, 2]})
>>> len(expand(job))
6
"""

from musicrfm.jobs.fields import JobError
from musicrfm.jobs.grid import JobItem, batches, expand, item_id, parse_shard, shard
from musicrfm.jobs.io import load_job
from musicrfm.jobs.manifest import Manifest, read_manifest
from musicrfm.jobs.metrics import measure_audio
from musicrfm.jobs.plans import LoadedProbe, build_plan, check_probes, load_probes, measures
from musicrfm.jobs.render import RenderReport, generate_batch, render_job
from musicrfm.jobs.spec import JobSpec, LayerRule, Sampling, TermSpec, parse_job

__all__ = [
    "JobError", "JobItem", "JobSpec", "LayerRule", "LoadedProbe", "Manifest", "RenderReport", "Sampling", "TermSpec",
    "batches", "build_plan", "check_probes", "expand", "generate_batch", "item_id", "load_job", "load_probes", "measure_audio", "measures",
    "parse_job", "parse_shard", "read_manifest", "render_job", "shard",
]
