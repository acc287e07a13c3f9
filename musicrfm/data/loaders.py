"""Loading a user's labelled audio as a ConceptDataset: class folders, CSV / JSONL manifests, and (when
online, with the optional `datasets` package) the public SynTheory dataset.

Audio is made mono and resampled to `sample_rate`. Regression datasets (a numeric `target` per clip)
get quantile-bin labels 'q0', 'q1', ... used only to stratify splits.

>>> import tempfile, pathlib, numpy as np, soundfile as sf
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for label in ("calm", "busy"):
...     (root / label).mkdir()
...     sf.write(str(root / label / "a.wav"), np.zeros(1600, dtype=np.float32), 16000)
>>> load_folder(root, sample_rate=16000).classes
('busy', 'calm')
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from musicrfm.checks import check_int
from musicrfm.data.concepts import get_concept
from musicrfm.data.dataset import TASKS, ClipMeta, ConceptDataset
from musicrfm.data.io import AUDIO_EXTENSIONS, read_mono, read_table
from musicrfm.data.splits import quantile_bins

SYNTHEORY_REPO = "meganwei/syntheory"


def _regression_labels(targets: Sequence[float], source: str) -> list[str]:
    if len(set(targets)) < 2:
        raise ValueError(f"{source}: every target equals {targets[0]!r}; regression needs at least two values")
    return [f"q{b}" for b in quantile_bins(targets, n_bins=min(5, len(targets)))]


def _check_options(sample_rate: object, resample: object, concept: object) -> int:
    if not isinstance(resample, bool):
        raise TypeError(f"resample must be True or False, got {resample!r}")
    if not isinstance(concept, str) or not concept:
        raise ValueError(f"concept must be a non-empty string, got {concept!r}")
    return check_int(sample_rate, "sample_rate", low=1)


def _assemble(
    audio: list[np.ndarray], rows: list[dict[str, Any]], *, task: str, concept: str, sample_rate: int, source: str
) -> ConceptDataset:
    """A dataset from decoded clips and their rows (clip_id, label or target, path, other metadata)."""
    if not rows:
        raise ValueError(f"{source}: no clips found")
    if task == "regression":
        labels = _regression_labels([float(r["target"]) for r in rows], source)
        classes = tuple(sorted(set(labels), key=lambda q: int(q[1:])))
    else:
        labels = [str(r["label"]) for r in rows]
        classes = tuple(sorted(set(labels)))
        if len(classes) < 2:
            raise ValueError(f"{source}: found only one class {classes[0]!r}; a probe needs at least two classes")
    meta = []
    for row, label in zip(rows, labels):
        target = float(row["target"]) if task == "regression" else float(classes.index(label))
        meta.append(ClipMeta.from_row({**row, "concept": concept, "label": label, "target": target}))
    return ConceptDataset(audio, meta, sample_rate=sample_rate, concept=concept, classes=classes, task=task)


def load_folder(
    root: str | os.PathLike, *, sample_rate: int = 32000, concept: str = "custom", resample: bool = True
) -> ConceptDataset:
    """Clips laid out as root/<label>/*.wav|flac|mp3|ogg; each sub-folder name is a class."""
    sample_rate = _check_options(sample_rate, resample, concept)
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root '{root}' is not a folder")
    # Hidden folders (.git, .ipynb_checkpoints, ...) are tool clutter, never classes.
    files = sorted(
        p for p in root.glob("*/*")
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.parent.name.startswith(".")
    )
    if not files:
        raise ValueError(f"root '{root}' is empty: no {'/'.join(AUDIO_EXTENSIONS)} files in class sub-folders")
    rows = [
        {"clip_id": p.relative_to(root).as_posix(), "label": p.parent.name, "path": p.relative_to(root).as_posix()}
        for p in files
    ]
    audio = [read_mono(p, sample_rate, resample=resample) for p in files]
    return _assemble(audio, rows, task="classification", concept=concept, sample_rate=sample_rate, source=str(root))


def _manifest_row(row: Mapping[str, Any], number: int, task: str, source: str) -> dict[str, Any]:
    """Check one manifest row: a path, plus a label (classification) or a numeric target (regression)."""
    where = f"{source} row {number}"
    if not row.get("path"):
        raise ValueError(f"{where}: missing 'path'")
    if task == "classification" and row.get("label") in (None, ""):
        raise ValueError(f"{where}: missing 'label'")
    if task == "regression":
        try:
            target = float(row.get("target"))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: 'target' must be a number, got {row.get('target')!r}") from None
        if not np.isfinite(target):
            raise ValueError(f"{where}: 'target' must be finite, got {target!r}")
    return {**row, "clip_id": row.get("clip_id") or str(row["path"])}


def load_manifest(
    manifest: str | os.PathLike, *, sample_rate: int = 32000, concept: str = "custom", task: str | None = None,
    resample: bool = True,
) -> ConceptDataset:
    """Clips listed in a .csv or .jsonl manifest with columns `path` (relative to the manifest's folder or
    absolute), `label` and/or numeric `target`. `task` defaults to classification when labels are given,
    else regression. Other ClipMeta columns (root, instrument, ...) are kept."""
    sample_rate = _check_options(sample_rate, resample, concept)
    manifest = Path(manifest)
    rows = read_table(manifest)
    if not rows:
        raise ValueError(f"manifest '{manifest}' is empty")
    if task is None:
        task = "classification" if any(r.get("label") not in (None, "") for r in rows) else "regression"
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None, got {task!r}")
    rows = [_manifest_row(r, i, task, str(manifest)) for i, r in enumerate(rows, start=1)]
    audio = [read_mono(manifest.parent / str(r["path"]), sample_rate, resample=resample) for r in rows]
    return _assemble(audio, rows, task=task, concept=concept, sample_rate=sample_rate, source=str(manifest))


def syntheory_dataset(
    rows: Iterable[Mapping[str, Any]], *, concept: str, label_column: str, n_per_class: int, sample_rate: int
) -> ConceptDataset:
    """A dataset from SynTheory rows whose `audio` is undecoded ({'bytes': ..., 'path': ...}), keeping at
    most `n_per_class` clips per label value (per BPM value for tempo)."""
    info = get_concept(concept)
    kept: list[dict[str, Any]] = []
    audio: list[np.ndarray] = []
    counts: Counter[str] = Counter()
    for number, row in enumerate(rows, start=1):
        if label_column not in row or "audio" not in row:
            raise ValueError(f"SynTheory row {number} lacks '{label_column}' or 'audio'; columns: {sorted(row)}")
        value = str(row[label_column])
        if counts[value] >= n_per_class:
            continue
        counts[value] += 1
        name = str(row["audio"].get("path") or f"row {number}")
        audio.append(read_mono(io.BytesIO(row["audio"]["bytes"]), sample_rate, name=name))
        kept.append({"clip_id": f"{concept}-{len(kept):06d}", "label": value, "target": value, "path": name})
    return _assemble(audio, kept, task=info.task, concept=concept, sample_rate=sample_rate, source="SynTheory")


def load_syntheory(
    concept: str, *, n_per_class: int = 20, max_rows: int = 20000, sample_rate: int = 32000,
    label_column: str | None = None,
) -> ConceptDataset:
    """Stream the public SynTheory dataset (Hugging Face Hub) for one concept, reading at most `max_rows`
    rows in the hub's order and keeping `n_per_class` clips per label. Needs `pip install datasets` and a
    network connection. `label_column` overrides the concept's column (Concept.syntheory)."""
    info = get_concept(concept)
    n_per_class = check_int(n_per_class, "n_per_class", low=1)
    max_rows = check_int(max_rows, "max_rows", low=1)
    sample_rate = check_int(sample_rate, "sample_rate", low=1)
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(
            "load_syntheory needs the optional 'datasets' package (pip install datasets) and network access "
            "to the Hugging Face Hub; offline, use make_dataset() to generate the concept locally"
        ) from exc
    config, column = info.syntheory
    try:
        stream = datasets.load_dataset(SYNTHEORY_REPO, config, split="train", streaming=True)
        stream = stream.cast_column("audio", datasets.Audio(decode=False))
        return syntheory_dataset(islice(stream, max_rows), concept=concept, label_column=label_column or column,
                                 n_per_class=n_per_class, sample_rate=sample_rate)
    except OSError as exc:  # network failures and a missing hub dataset are OSErrors in `datasets`
        raise RuntimeError(f"could not stream {SYNTHEORY_REPO} ({config}) from the Hugging Face Hub: {exc}") from exc
