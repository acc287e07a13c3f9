"""Pooled MusicGen activations of a concept dataset, extracted once and cached on disk.

The cache key covers everything the numbers depend on: the model's architecture fingerprint and a digest
of its decoder and codec weights, the dataset's audio fingerprint (samples and rate, not labels), the
pooling, the layers and the delay-pattern option. A second probe on the same clips (another target, other
search settings) reads the file instead of running the model. Files are written through a temporary name,
so an interrupted extraction never leaves a half-written entry.

>>> import tempfile
>>> from musicrfm.data import make_dataset
>>> from musicrfm.models import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> mg = MusicGen.from_model(tiny_musicgen(seed=0))
>>> ds = make_dataset("notes", n_per_class=1, duration_s=0.5, sample_rate=16000, backend="numpy")
>>> extract_activations(mg, ds, layers=(0, 1), cache_dir=tempfile.mkdtemp()).shape
(12, 2, 32)
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from musicrfm.checks import check_positive_int
from musicrfm.data.dataset import ConceptDataset
from musicrfm.models.audio import encode_audio
from musicrfm.models.backend import MusicGen
from musicrfm.models.capture import POOLINGS, capture_hidden_states, resolve_layers
from musicrfm.models.store import ArrayWriter, load_array
from musicrfm.probes.fit import Progress

CACHE_ENV = "MUSICRFM_CACHE_DIR"
CACHE_FORMAT = 1
# Clips encoded and captured per round: bounds memory to a few batches whatever the dataset size.
_BATCHES_PER_ROUND = 4
_weight_digests: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def default_cache_dir() -> Path:
    """$MUSICRFM_CACHE_DIR, else $XDG_CACHE_HOME/musicrfm/activations (~/.cache by default)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "musicrfm" / "activations"


def weights_digest(mg: MusicGen) -> str:
    """SHA-256 of the decoder and codec weights (what extraction depends on), computed once per model
    object; weights edited in place afterwards are not noticed."""
    model = mg.model
    if model not in _weight_digests:
        digest = hashlib.sha256()
        for part in (model.decoder, model.audio_encoder):
            for name, tensor in part.state_dict().items():
                digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
                digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        _weight_digests[model] = digest.hexdigest()
    return _weight_digests[model]


def cache_key(mg: MusicGen, dataset: ConceptDataset, layers: Sequence[int], pooling: str, delay_pattern: bool) -> str:
    """The hex key naming the cache entry of these activations."""
    facts = {"format": CACHE_FORMAT, "fingerprint": mg.fingerprint, "weights": weights_digest(mg),
             "audio": dataset.audio_fingerprint(), "layers": list(layers), "pooling": pooling,
             "delay_pattern": delay_pattern}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def extract_activations(
    mg: MusicGen, dataset: ConceptDataset, *, layers: Sequence[int], pooling: str = "mean",
    delay_pattern: bool = True, batch_size: int = 8, cache_dir: str | os.PathLike | None = None,
    cache: bool = True, progress: Progress | None = None,
) -> np.ndarray:
    """(n_clips, n_layers, d) float32 pooled block outputs of `layers` (2d for "mean_std"), from the cache
    when present; `progress("extract", done, total)` is called per round of clips. Cached results come back
    as a read-only memory map, so memory stays at the model plus a few batches whatever the dataset size."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if not isinstance(delay_pattern, bool):
        raise TypeError(f"delay_pattern must be a bool, got {type(delay_pattern).__name__}")
    check_positive_int(batch_size, "batch_size")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}")
    layers = resolve_layers(layers, mg.num_layers)
    width = mg.hidden_size * (2 if pooling == "mean_std" else 1)
    shape = (len(dataset), len(layers), width)
    run = lambda sink: _extract(mg, dataset, layers, pooling, delay_pattern, batch_size, sink, progress)  # noqa: E731
    if not cache:
        result = np.empty(shape, dtype=np.float32)
        run(result)
        return result
    key = cache_key(mg, dataset, layers, pooling, delay_pattern)
    folder = Path(default_cache_dir() if cache_dir is None else cache_dir).expanduser()
    path = folder / f"{key[:40]}.safetensors"
    hit = _read_entry(path, key, shape)
    if hit is not None:
        if progress is not None:
            progress("extract", len(dataset), len(dataset))
        return hit
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {"cache_key": key, "layers": list(layers), "pooling": pooling, "delay_pattern": delay_pattern,
                "model": mg.name, "fingerprint": mg.fingerprint}
    with ArrayWriter(path, shape, "float32", metadata) as writer:
        run(writer.array)
    return load_array(path)[0]


def _read_entry(path: Path, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached array at `path` if it is a complete entry for `key`; None means extract again."""
    if not path.is_file():
        return None
    try:
        array, metadata = load_array(path)
    except (ValueError, OSError):
        return None  # unreadable or truncated: it is overwritten by a fresh extraction
    if metadata.get("cache_key") != key or array.shape != shape or not np.isfinite(array).all():
        return None
    return array


def _extract(mg, dataset, layers, pooling, delay_pattern, batch_size, sink, progress) -> None:
    """Encode and capture clips round by round, longest first, writing rows into `sink`."""
    order = np.argsort([-audio.size for audio in dataset.audio], kind="stable")
    step = batch_size * _BATCHES_PER_ROUND
    for start in range(0, len(order), step):
        rows = order[start : start + step]
        codes = encode_audio(mg, [dataset.audio[i] for i in rows], dataset.sample_rate, batch_size=batch_size)
        sink[rows] = capture_hidden_states(mg, codes, layers=layers, pooling=pooling,
                                           delay_pattern=delay_pattern, batch_size=batch_size)
        if progress is not None:
            progress("extract", min(start + step, len(order)), len(order))
