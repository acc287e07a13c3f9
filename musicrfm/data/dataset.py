"""Labelled audio clips for probing a concept: the ConceptDataset container, its per-clip metadata, and
`make_dataset`, which renders a balanced, seeded SynTheory-style dataset.

>>> ds = make_dataset("notes", n_per_class=2, duration_s=1.0, sample_rate=16000, backend="numpy")
>>> len(ds), ds.classes[:2], ds.labels[:3].tolist()
(24, ('C', 'C#'), ['C', 'C', 'C#'])
>>> train, val, test = ds.split(seed=0)
>>> ds.binary("C").classes
('not_C', 'C')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicrfm.checks import check_int, is_int, is_real
from musicrfm.data.concepts import get_concept
from musicrfm.data.io import read_mono, read_table, write_table, write_wav
from musicrfm.data.render import Renderer
from musicrfm.data.specs import plan_clips
from musicrfm.data.splits import DEFAULT_FRACTIONS, quantile_bins, stratified_split
from musicrfm.data.theory import resolve_instruments
from musicrfm.files import atomic_directory

TASKS = ("classification", "regression")
DATASET_FORMAT = "musicrfm-concept-dataset"
_INFO_FILE, _TABLE_FILE = "dataset.json", "metadata.csv"


@dataclass(frozen=True)
class ClipMeta:
    """One row of a dataset's metadata table. Fields that do not apply to a concept are None.

    `target` is the regression value (BPM for tempo) or, for classification, the class index; `pitches`
    lists the MIDI pitches (percussion keys for click tracks) played, space-separated, in time order;
    `path` is the audio file, relative to the dataset folder or manifest, when the clip lives on disk;
    `tempo_bpm` counts clicks per minute (beats for tempo, counted pulses for time signatures).
    """

    clip_id: str
    concept: str
    label: str
    target: float
    path: str | None = None
    root: str | None = None
    octave: int | None = None
    inversion: int | None = None
    style: str | None = None
    program: int | None = None
    instrument: str | None = None
    tempo_bpm: float | None = None
    time_signature: str | None = None
    onset_s: float | None = None
    pitches: str | None = None
    backend: str | None = None
    seed: int | None = None

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClipMeta:
        """Parse a CSV/JSONL row (strings or JSON values; empty means None), ignoring unknown columns."""
        values = {}
        for f in dataclasses.fields(cls):
            raw = row.get(f.name)
            if raw is None or raw == "":
                continue
            kind = int if "int" in f.type else float if "float" in f.type else str
            try:
                values[f.name] = kind(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"metadata column '{f.name}' must be {kind.__name__}, got {raw!r}") from exc
        return cls(**values)


@dataclass(frozen=True, eq=False)
class Clip:
    """One clip: mono float32 audio, its label, numeric target and metadata row."""

    audio: np.ndarray
    label: str
    target: float
    meta: ClipMeta


def _check_clip(audio: object, index: int) -> np.ndarray:
    if not isinstance(audio, np.ndarray) or audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"audio[{index}] must be a non-empty 1-D numpy array")
    if not np.isfinite(audio).all():
        raise ValueError(f"audio[{index}] holds non-finite samples")
    return np.ascontiguousarray(audio, dtype=np.float32)


class ConceptDataset(Sequence[Clip]):
    """Mono clips at one sample rate, each with a metadata row; indexable and iterable as `Clip`s.

    For regression (`task="regression"`) the numeric `targets` are what is learned and `classes` are
    target bins used only to stratify splits.
    """

    def __init__(
        self, audio: Sequence[np.ndarray], metadata: Sequence[ClipMeta], *, sample_rate: int, concept: str,
        classes: Sequence[str], task: str = "classification",
    ):
        if len(audio) != len(metadata) or not metadata:
            raise ValueError(
                f"audio and metadata must be equally long and non-empty, got {len(audio)} and {len(metadata)}"
            )
        if not is_int(sample_rate) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        classes = tuple(classes)
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be non-empty and unique, got {classes!r}")
        unknown = sorted({m.label for m in metadata} - set(classes))
        if unknown:
            raise ValueError(f"metadata labels {unknown} are not among classes {list(classes)}")
        self._audio = tuple(_check_clip(a, i) for i, a in enumerate(audio))
        self._meta = tuple(metadata)
        self.sample_rate, self.concept, self.classes, self.task = int(sample_rate), concept, classes, task

    def __len__(self) -> int:
        return len(self._meta)

    def __getitem__(self, index: int) -> Clip:  # type: ignore[override]
        if not is_int(index):
            raise TypeError(f"index must be an integer, got {type(index).__name__}; use subset() for several")
        meta = self._meta[index]
        return Clip(self._audio[index], meta.label, meta.target, meta)

    def __iter__(self) -> Iterator[Clip]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return (
            f"ConceptDataset(concept={self.concept!r}, task={self.task!r}, clips={len(self)}, "
            f"classes={len(self.classes)}, sample_rate={self.sample_rate})"
        )

    @property
    def audio(self) -> tuple[np.ndarray, ...]:
        return self._audio

    @property
    def metadata(self) -> tuple[ClipMeta, ...]:
        return self._meta

    @property
    def labels(self) -> np.ndarray:
        return np.array([m.label for m in self._meta])

    @property
    def targets(self) -> np.ndarray:
        return np.array([m.target for m in self._meta], dtype=np.float64)

    def class_counts(self) -> dict[str, int]:
        """Clips per class, in class order."""
        counts = Counter(m.label for m in self._meta)
        return {c: counts[c] for c in self.classes}

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: concept, task, sizes, classes and their counts, sample rate."""
        durations = [a.size / self.sample_rate for a in self._audio]
        return {
            "concept": self.concept, "task": self.task, "n_clips": len(self), "classes": list(self.classes),
            "class_counts": self.class_counts(), "sample_rate": self.sample_rate,
            "duration_s": [round(min(durations), 4), round(max(durations), 4)],
        }

    def audio_fingerprint(self) -> str:
        """SHA-256 of the sample rate and every clip's samples, in order: a cache key for anything computed
        from the audio alone (model activations), whatever the labels or metadata say."""
        digest = hashlib.sha256(f"{self.sample_rate}:{len(self)}".encode())
        for audio in self._audio:
            digest.update(audio.size.to_bytes(8, "little"))
            digest.update(audio.tobytes())
        return digest.hexdigest()

    def subset(self, indices: Iterable[int]) -> ConceptDataset:
        """The clips at `indices`, in that order, with the same classes."""
        picked = [int(i) for i in np.asarray(list(indices), dtype=np.int64).ravel()]
        bad = [i for i in picked if not -len(self) <= i < len(self)]
        if bad or not picked:
            raise ValueError(f"indices must be a non-empty list within 0..{len(self) - 1}, got {bad or picked}")
        return self._with([self._audio[i] for i in picked], [self._meta[i] for i in picked], self.classes, self.task)

    def binary(self, target: str) -> ConceptDataset:
        """One-vs-rest view: classes ('not_<target>', target), labels relabelled, targets 0 or 1."""
        if self.task != "classification":
            raise ValueError("binary() needs a classification dataset; this one is regression")
        if target not in self.classes:
            raise ValueError(f"target must be one of {list(self.classes)}, got {target!r}")
        rest = f"not_{target}"
        meta = [
            dataclasses.replace(m, label=target if m.label == target else rest, target=float(m.label == target))
            for m in self._meta
        ]
        return self._with(self._audio, meta, (rest, target), "classification")

    def split(
        self, *, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS
    ) -> tuple[ConceptDataset, ConceptDataset, ConceptDataset]:
        """Stratified train / validation / test parts (regression: stratified on target quintiles)."""
        strata = quantile_bins(self.targets) if self.task == "regression" else self.labels
        parts = stratified_split(strata, fractions=fractions, seed=seed)
        return self.subset(parts.train), self.subset(parts.val), self.subset(parts.test)

    def _with(self, audio, meta, classes, task) -> ConceptDataset:
        return ConceptDataset(
            audio, meta, sample_rate=self.sample_rate, concept=self.concept, classes=classes, task=task
        )

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write audio/NNNNNN.wav (16-bit PCM), metadata.csv and dataset.json to a new folder, atomically."""
        out = Path(out_dir)
        with atomic_directory(out) as tmp:
            (tmp / "audio").mkdir()
            rows = []
            for i, (audio, meta) in enumerate(zip(self._audio, self._meta)):
                path = f"audio/{i:06d}.wav"
                write_wav(tmp / path, audio, self.sample_rate)
                rows.append(dataclasses.asdict(dataclasses.replace(meta, path=path)))
            write_table(tmp / _TABLE_FILE, rows, ClipMeta.columns())
            info = {"format": DATASET_FORMAT, "version": 1, **self.summary()}
            (tmp / _INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, folder: str | os.PathLike) -> ConceptDataset:
        """Read a folder written by `save` (the audio must still be at the recorded sample rate)."""
        folder = Path(folder)
        try:
            info = json.loads((folder / _INFO_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"'{folder}' is not a saved concept dataset: {exc}") from exc
        if not isinstance(info, dict) or info.get("format") != DATASET_FORMAT:
            raise ValueError(f"'{folder / _INFO_FILE}' is not a {DATASET_FORMAT} description")
        meta = [ClipMeta.from_row(row) for row in read_table(folder / _TABLE_FILE)]
        audio = [read_mono(folder / m.path, info["sample_rate"], resample=False) for m in meta]
        return cls(audio, meta, sample_rate=info["sample_rate"], concept=info["concept"], classes=info["classes"],
                   task=info["task"])




def _check_duration(duration_s: object, default: float) -> float:
    if duration_s is None:
        return default
    if not is_real(duration_s) or not 0.5 <= duration_s <= 30.0:
        raise ValueError(f"duration_s must be a number of seconds in [0.5, 30], got {duration_s!r}")
    return float(duration_s)


def make_dataset(
    concept: str, n_per_class: int = 20, *, seed: int = 0, sample_rate: int = 32000, duration_s: float | None = None,
    instruments: Iterable[int | str] | None = None, classes: Iterable[str] | None = None, backend: str = "auto",
    out_dir: str | os.PathLike | None = None,
) -> ConceptDataset:
    """Render a balanced, seeded concept dataset: `n_per_class` clips for each class of `concept`.

    `instruments` (GM programs or names from theory.INSTRUMENTS; default all) apply to pitched concepts;
    `classes` restricts the concept to some of its classes; `backend` is "fluidsynth", "numpy" or "auto"
    (FluidSynth when available). With `out_dir`, the dataset is also saved there (see ConceptDataset.save).
    The same arguments give the same audio, sample for sample.
    """
    info = get_concept(concept)
    n_per_class = check_int(n_per_class, "n_per_class", low=1)
    seed = check_int(seed, "seed", low=0)
    sample_rate = check_int(sample_rate, "sample_rate", low=8000)
    if sample_rate > 96000:  # FluidSynth silently clamps higher rates, which would detune every clip
        raise ValueError(f"sample_rate must be at most 96000, got {sample_rate}")
    duration = _check_duration(duration_s, info.default_duration_s)
    programs = resolve_instruments(instruments)
    if isinstance(classes, str):
        raise TypeError("classes must be a list of class names, not a single string")
    chosen = info.classes if classes is None else tuple(dict.fromkeys(classes))
    for label in chosen:
        info.class_index(label)
    if len(chosen) < 2:
        raise ValueError(f"classes must name at least two classes of {concept!r}, got {list(chosen)}")
    plans = plan_clips(concept, chosen, n_per_class=n_per_class, seed=seed, programs=programs, duration_s=duration)
    with Renderer(backend, sample_rate) as renderer:
        audio = [renderer.render(p.spec) for p in plans]
        used = renderer.backend
    meta = [
        ClipMeta(
            clip_id=p.clip_id, concept=concept, label=p.label, backend=used, seed=seed,
            target=float(chosen.index(p.label)) if p.target is None else p.target,
            pitches=" ".join(str(e.pitch) for e in sorted(p.spec.events, key=lambda e: e.start)),
            **p.fields,
        )
        for p in plans
    ]
    dataset = ConceptDataset(audio, meta, sample_rate=sample_rate, concept=concept, classes=chosen, task=info.task)
    if out_dir is not None:
        dataset.save(out_dir)
    return dataset
