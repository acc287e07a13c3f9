"""Grid expansion: a job's axes (seeds, sampling values, term strengths, prompts) into items with stable ids,
grouped into prompt batches, and split into shards.

Items that differ only in their prompt form one batch (up to `batch_size`), so the model renders them in
one call. Batches are fixed by the job alone, never by what is already done or by the shard, so an item's
audio is the same however the work is split or resumed.

>>> from musicrfm.jobs.spec import parse_job
>>> job = parse_job({"prompts": ["a", "b"], "duration": 1, "seeds": [0, 1], "batch_size": 2})
>>> items = expand(job)
>>> [(i.prompt, i.seed) for i in items]
[('a', 0), ('b', 0), ('a', 1), ('b', 1)]
>>> [[i.prompt for i in b] for b in batches(job, items)]
[['a', 'b'], ['a', 'b']]
>>> [len(b) for b in shard(batches(job, items), 2, 2)]
[2]
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from musicrfm.jobs.spec import JobSpec

_SHARD = re.compile(r"^(\d+)/(\d+)$")
ID_LENGTH = 16


@dataclass(frozen=True)
class JobItem:
    """One rendering: a prompt, a seed, sampling values and one strength per term; `id` hashes them all."""

    index: int
    prompt: str
    seed: int
    top_k: int
    temperature: float
    guidance_scale: float
    strengths: tuple[float, ...]
    id: str

    def batch_key(self) -> tuple:
        """Everything but the prompt: items with equal keys can share one generate call."""
        return (self.seed, self.top_k, self.temperature, self.guidance_scale, self.strengths)


def item_params(job: JobSpec, prompt: str, seed: int, top_k: int, temperature: float, guidance_scale: float,
                strengths: Sequence[float]) -> dict[str, Any]:
    """All parameters that determine one item's audio, as plain data (hashed into its id)."""
    return {
        "model": job.model, "prompt": prompt, "duration_s": job.duration_s, "seed": seed, "format": job.format,
        "sampling": {"top_k": top_k, "temperature": temperature, "guidance_scale": guidance_scale},
        "long_form": {"window": job.window_s, "context": job.context_s}, "orthogonalize": job.orthogonalize,
        "terms": [{**term.params(), "strength": s} for term, s in zip(job.terms, strengths)],
    }


def item_id(params: dict[str, Any]) -> str:
    """A short SHA-256 of the canonical JSON of `params`: equal parameters, equal id, on any machine."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_LENGTH]


def expand(job: JobSpec) -> tuple[JobItem, ...]:
    """Every item of the job's grid, prompts varying fastest (so batch-mates are neighbours)."""
    sampling = job.sampling
    axes = [job.seeds, sampling.top_k, sampling.temperature, sampling.guidance_scale,
            *(term.strengths for term in job.terms), job.prompts]
    items = []
    for index, values in enumerate(itertools.product(*axes)):
        seed, top_k, temperature, guidance, *strengths, prompt = values
        params = item_params(job, prompt, seed, top_k, temperature, guidance, strengths)
        items.append(JobItem(index, prompt, seed, top_k, temperature, guidance, tuple(strengths), item_id(params)))
    return tuple(items)


def batches(job: JobSpec, items: Sequence[JobItem]) -> list[tuple[JobItem, ...]]:
    """`items` cut into runs of equal `batch_key`, at most `job.batch_size` long, in order."""
    out: list[tuple[JobItem, ...]] = []
    for _, run in itertools.groupby(items, key=JobItem.batch_key):
        run = list(run)
        out.extend(tuple(run[i : i + job.batch_size]) for i in range(0, len(run), job.batch_size))
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """`"i/n"` (1 <= i <= n) as (i, n)."""
    match = _SHARD.match(text.strip()) if isinstance(text, str) else None
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"--shard must look like i/n with 1 <= i <= n (e.g. 2/4), got {text!r}")
    return int(match[1]), int(match[2])


def shard(groups: Sequence[tuple[JobItem, ...]], i: int, n: int) -> list[tuple[JobItem, ...]]:
    """The batches of shard `i` of `n` (1-based): every n-th batch, so the shards together cover each once."""
    if not 1 <= i <= n:
        raise ValueError(f"shard index must lie in 1..{n}, got {i}")
    return [group for position, group in enumerate(groups) if position % n == i - 1]
