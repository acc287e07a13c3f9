"""`musicrfm dataset make`, `musicrfm probe train`, `musicrfm probe list`, `musicrfm probe show`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from musicrfm.cli.common import Context, UsageError, load_model, parse_list, table
from musicrfm.data import CONCEPTS, ConceptDataset, make_dataset
from musicrfm.probes import train_probe
from musicrfm.probes.bundle import read_metadata

def _make(args: argparse.Namespace, ctx: Context, out: Path | None) -> ConceptDataset:
    classes = None if args.classes is None else parse_list(args.classes, "--classes")
    ctx.say(f"rendering the {args.concept} dataset ...")
    return make_dataset(args.concept, args.n_per_class, seed=ctx.seed_or(0), sample_rate=args.sample_rate,
                        duration_s=args.duration, classes=classes, backend=args.backend, out_dir=out)


def run_dataset_make(args: argparse.Namespace, ctx: Context) -> int:
    if args.out.exists():
        raise UsageError(f"--out '{args.out}' already exists; choose a new folder")
    dataset = _make(args, ctx, args.out)
    summary = {**dataset.summary(), "folder": str(args.out)}
    ctx.emit(summary, f"wrote {len(dataset)} clips of '{dataset.concept}' to {args.out} "
                      f"({', '.join(f'{k}: {v}' for k, v in dataset.class_counts().items())})")
    return 0


def _dataset(args: argparse.Namespace, ctx: Context) -> ConceptDataset:
    folder = Path(args.dataset)
    if folder.is_dir():
        return ConceptDataset.load(folder)
    if args.dataset not in CONCEPTS:
        raise UsageError(f"--dataset '{args.dataset}' is neither a dataset folder nor a concept ({', '.join(CONCEPTS)})")
    args.concept = args.dataset
    return _make(args, ctx, None)


def run_probe_train(args: argparse.Namespace, ctx: Context) -> int:
    layers: Any = "all" if args.layers == "all" else parse_list(args.layers, "--layers", int)
    dataset = _dataset(args, ctx)
    name = args.name or (dataset.concept if args.target is None else f"{dataset.concept}_{args.target}")
    library = ctx.library()
    library.path(name)  # refuse a bad name before the long work
    model = load_model(args.model, ctx)
    with ctx.bar("extract", unit="clip") as extract, ctx.bar("fit", unit="layer") as fit:
        bars = {"extract": ctx.counter(extract), "fit": ctx.counter(fit)}
        probe = train_probe(model, dataset, target=args.target, layers=layers, k=args.k, seed=ctx.seed_or(0),
                            search={"n_configs": args.configs, "max_iters": args.iters},
                            progress=lambda stage, done, total: bars[stage](done, total))
    path = library.save(probe, name)
    best = max(probe.val_scores)
    ctx.emit({"name": name, "path": str(path), **library.show(name)},
             f"saved probe '{name}' to {path} (best validation {probe.metric} {best:.3f})")
    return 0


def run_probe_list(args: argparse.Namespace, ctx: Context) -> int:
    library = ctx.library()
    rows = [_summary_row(library.show(name)) for name in library.list()]
    text = table(rows, ("name", "concept", "task", "target", "layers", "best_val")) if rows else \
        f"no probes in {library.root}"
    ctx.emit(rows, text)
    return 0


def run_probe_show(args: argparse.Namespace, ctx: Context) -> int:
    folder = Path(args.name)
    meta = read_metadata(folder) if folder.is_dir() else ctx.library().show(args.name)
    scores = [{"layer": layer, "val": v, "test": t}
              for layer, v, t in zip(meta["layers"], meta["val_scores"], meta["test_scores"])]
    head = _summary_row({**meta, "name": meta.get("name", args.name)})
    lines = [f"{k}: {v}" for k, v in head.items()]
    lines += [f"model: {meta['model'].get('name')}", f"metric: {meta['metric']}", "", table(scores, ("layer", "val", "test"))]
    ctx.emit(meta, "\n".join(lines))
    return 0


def _summary_row(meta: dict[str, Any]) -> dict[str, Any]:
    return {"name": meta["name"], "concept": meta["concept"], "task": meta["task"],
            "target": meta.get("target") or ("/".join(meta["classes"]) if meta["task"] == "multiclass" else ""),
            "layers": len(meta["layers"]), "best_val": max(meta["val_scores"])}
