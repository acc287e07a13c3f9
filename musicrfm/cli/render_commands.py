"""`musicrfm generate` (one clip, optionally steered by one probe) and `musicrfm render` (a job file)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from musicrfm.cli.common import Context, UsageError, load_model, table, toy_probes
from musicrfm.jobs import batches, check_probes, expand, generate_batch, load_job, load_probes, parse_job, parse_shard
from musicrfm.jobs import render_job, shard
from musicrfm.jobs.io import parse_yaml
from musicrfm.models import write_audio

def _layers(text: str) -> Any:
    if text in ("all", "exponential"):
        return text
    if text.startswith("top_k:"):
        return {"top_k": _int(text.removeprefix("top_k:"), "--layers top_k")}
    return [_int(part, "--layers") for part in text.split(",")]


def _int(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{field} must be all, exponential, top_k:K or a comma list of integers, got {text!r}") \
            from None


def _schedule(text: str | None) -> Any:
    if text is None:
        return None
    if Path(text).is_file():
        return str(Path(text).resolve())
    return parse_yaml(text, "--schedule (neither a file nor inline YAML)")


def run_generate(args: argparse.Namespace, ctx: Context) -> int:
    if args.out.suffix.lower() not in (".wav", ".flac"):
        raise UsageError(f"--out must end in .wav or .flac, got '{args.out.name}'")
    job_data: dict[str, Any] = {
        "model": args.model, "prompts": [args.prompt], "duration": args.duration, "seeds": [ctx.seed_or(0)],
        "sampling": {"top_k": args.top_k, "temperature": args.temperature, "guidance_scale": args.guidance},
    }
    if args.probe is not None:
        term = {"probe": args.probe, "strength": args.strength, "layers": _layers(args.layers),
                "schedule": _schedule(args.schedule), "gate_p": args.gate_p, "cfg_target": args.cfg_target}
        job_data["terms"] = [{k: v for k, v in term.items() if v is not None} | (
            {"target": args.target} if args.target else {})]
    job = parse_job(job_data, source="command line", base_dir=Path.cwd())
    model = load_model(job.model, ctx)
    probes = load_probes(job, ctx.library(), builtin=toy_probes(model, ctx))
    check_probes(job, probes, model)
    (group,) = batches(job, expand(job))
    ctx.say(f"generating {job.duration_s:g} s ...")
    result = generate_batch(job, model, group, probes)
    write_audio(args.out, result.audio[0].detach().float().cpu().numpy(), result.sampling_rate)
    ctx.emit({"file": str(args.out), "duration_s": result.duration_s, "sample_rate": result.sampling_rate,
              "id": group[0].id}, f"wrote {args.out} ({result.duration_s:.2f} s)")
    return 0


def run_render(args: argparse.Namespace, ctx: Context) -> int:
    shard_of = parse_shard(args.shard)
    job = load_job(args.job)
    overrides = {"model": args.model} if args.model else {}
    if ctx.seed is not None:
        overrides["seeds"] = (ctx.seed,)
    job = dataclasses.replace(job, **overrides)
    if args.dry_run:
        return _dry_run(job, shard_of, ctx)
    library = ctx.library(job.probes)
    model = load_model(job.model, ctx)
    builtin = toy_probes(model, ctx)
    load_probes(job, library, builtin=builtin)  # fails fast, and trains missing toy probes before the render's bar
    with ctx.bar(f"render {args.job.name}") as progress:
        report = render_job(job, model, args.out, library=library, shard_of=shard_of, progress=ctx.counter(progress),
                            builtin=builtin)
    ctx.emit({"out": str(report.out_dir), "manifest": str(report.manifest), "items": report.total,
              "rendered": report.rendered, "skipped": report.skipped, "seconds": round(report.seconds, 3)},
             f"{report.rendered} rendered, {report.skipped} already done, {report.total} in shard "
             f"{shard_of[0]}/{shard_of[1]} -> {report.out_dir}")
    return 0


def _dry_run(job, shard_of: tuple[int, int], ctx: Context) -> int:
    groups = shard(batches(job, expand(job)), *shard_of)
    rows = [{"id": item.id, "batch": b, "prompt": item.prompt, "seed": item.seed, "guidance": item.guidance_scale,
             "strengths": list(item.strengths)} for b, group in enumerate(groups) for item in group]
    ctx.emit(rows, table(rows, ("id", "batch", "prompt", "seed", "guidance", "strengths")) +
             f"\n{len(rows)} items in {len(groups)} batches (shard {shard_of[0]}/{shard_of[1]}); model {job.model}")
    return 0
