"""`musicrfm dataset make`, `musicrfm probe train`, `musicrfm probe list`, `musicrfm probe show`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from musicrfm.cli.common import Context, UsageError, load_model, parse_list, table
from musicrfm.data import CONCEPTS, ConceptDataset, make_dataset
from musicrfm.probes import train_probe
from musicrfm.probes.bundle import read_metadata

DATASET_EPILOG = """examples:
  musicrfm dataset make notes --out data/notes --n-per-class 20
  musicrfm dataset make chords --out data/chords --classes major,minor --backend numpy
concepts: """ + ", ".join(CONCEPTS)
TRAIN_EPILOG = """examples:
  musicrfm probe train --model toy --dataset data/notes --name notes              # multiclass: one direction per note
  musicrfm probe train --model toy --dataset data/notes --target C --name note_C   # binary: C vs the rest
  musicrfm probe train --model facebook/musicgen-small --dataset tempo --n-per-class 30 --name tempo
--dataset is a folder written by `musicrfm dataset make`, or a concept name (rendered on the fly)."""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the dataset and probe commands."""
    raw = argparse.RawDescriptionHelpFormatter
    dataset = commands.add_parser("dataset", help="concept datasets", parents=[common]).add_subparsers(
        dest="action", metavar="ACTION", required=True)
    make = dataset.add_parser("make", help="render a SynTheory-style concept dataset to a folder", parents=[common],
                              epilog=DATASET_EPILOG, formatter_class=raw)
    make.add_argument("concept", help="concept name")
    make.add_argument("--out", type=Path, required=True, help="new folder for the dataset")
    _dataset_options(make)
    make.set_defaults(run=run_dataset_make)

    probe = commands.add_parser("probe", help="train and inspect concept probes", parents=[common]).add_subparsers(
        dest="action", metavar="ACTION", required=True)
    train = probe.add_parser("train", help="train an RFM probe and save it to the library", parents=[common],
                             epilog=TRAIN_EPILOG, formatter_class=raw)
    train.add_argument("--model", default="toy", help="toy (default), a hub id or a local folder")
    train.add_argument("--dataset", required=True, help="dataset folder or concept name")
    train.add_argument("--name", help="library name (default: the concept, or concept_target)")
    train.add_argument("--target", help="positive class for a binary probe (default: multiclass)")
    train.add_argument("--layers", default="all", help="all (default) or a comma list of layer indices")
    train.add_argument("--k", type=int, default=3, help="directions per layer (default 3)")
    train.add_argument("--configs", type=int, default=100, help="random-search configurations (default 100)")
    train.add_argument("--iters", type=int, default=30, help="RFM iterations at most (default 30)")
    _dataset_options(train)
    train.set_defaults(run=run_probe_train)
    probe.add_parser("list", help="list the probes in the library", parents=[common]).set_defaults(run=run_probe_list)
    show = probe.add_parser("show", help="show one probe's metadata and per-layer scores", parents=[common])
    show.add_argument("name", help="library name or bundle folder")
    show.set_defaults(run=run_probe_show)


def _dataset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-per-class", type=int, default=20, help="clips per class (default 20)")
    parser.add_argument("--classes", help="comma list restricting the concept's classes")
    parser.add_argument("--duration", type=float, help="clip length in seconds (default: the concept's)")
    parser.add_argument("--sample-rate", type=int, default=32000, help="Hz (default 32000)")
    parser.add_argument("--backend", default="auto", choices=("auto", "fluidsynth", "numpy"), help="renderer")


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
