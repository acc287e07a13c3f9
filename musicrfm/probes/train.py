"""train_probe: from a MusicGen model and a concept dataset to a ConceptProbe, in one call.

Activations are extracted once (and cached), the clips are split 70/15/15 with a seeded stratified split,
and every probed layer gets an RFM probe through the fast search (fit on train, selected on validation,
scored on test) whose AGOP yields that layer's concept directions.

Three modes: binary one-vs-rest (`target` names the positive class, the research setting), multiclass
(`target=None` on a classification concept: one direction set per class from one multi-output probe),
and regression (a regression concept such as tempo: the direction along which the target grows). A
two-class dataset without a target gives a binary probe of its second class.

>>> import tempfile
>>> from musicrfm.data import make_dataset
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> ds = make_dataset("notes", n_per_class=3, classes=["C", "D", "E"], duration_s=0.5, sample_rate=16000,
...                   backend="numpy")
>>> model = tiny_musicgen(seed=0)
>>> probe = train_probe(model, ds, search={"n_configs": 2, "max_iters": 1}, cache_dir=tempfile.mkdtemp())
>>> probe.task, probe.classes, probe.vectors.shape
('multiclass', ('C', 'D', 'E'), torch.Size([3, 2, 3, 32]))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from musicrfm import __version__
from musicrfm.agop.search import RFMSearch
from musicrfm.checks import check_seed
from musicrfm.data.dataset import ConceptDataset
from musicrfm.data.splits import DEFAULT_FRACTIONS, quantile_bins, stratified_split
from musicrfm.models.backend import MusicGen
from musicrfm.models.capture import resolve_layers
from musicrfm.probes.activations import extract_activations
from musicrfm.probes.fit import Progress, fit_layers, make_search, target_stats
from musicrfm.probes.predictor import target_summary
from musicrfm.probes.probe import METRICS, ConceptProbe


def train_probe(
    model: Any, dataset: ConceptDataset, concept: str | None = None, target: str | None = None, *,
    layers: str | Sequence[int] = "all", pooling: str = "mean", delay_pattern: bool = True,
    search: RFMSearch | dict[str, Any] | None = None, k: int = 3, seed: int = 0,
    cache_dir: str | os.PathLike | None = None, cache: bool = True, batch_size: int = 8,
    progress: Progress | None = None,
) -> ConceptProbe:
    """Train a probe of `dataset`'s concept on `model` (a MusicGen or a transformers MusicGen model).

    `concept` names the probe (default: the dataset's concept); `layers` is "all" or decoder-layer indices
    (negative ones count from the end); `search` is an unfitted RFMSearch or a dict of its settings (the
    task is set here); `k` directions per layer; `seed` drives the split and the search; `progress` is
    called as `progress(stage, done, total)` with stage "extract" (clips) then "fit" (layers).
    """
    mg = model if isinstance(model, MusicGen) else MusicGen.from_model(model)
    if not isinstance(dataset, ConceptDataset):
        raise TypeError(f"dataset must be a ConceptDataset, got {type(dataset).__name__}")
    concept = dataset.concept if concept is None else concept
    if not isinstance(concept, str) or not concept:
        raise ValueError(f"concept must be a non-empty string, got {concept!r}")
    check_seed(seed)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable as progress(stage, done, total), got {type(progress).__name__}")
    if pooling == "mean_std":
        raise ValueError("pooling 'mean_std' yields 2d features, which cannot steer a d-wide residual stream; "
                         "use 'mean', 'last' or 'max'")
    task, classes, y, strata = _labels(dataset, target)
    chosen = _resolve(layers, mg.num_layers)
    parts = stratified_split(strata, fractions=DEFAULT_FRACTIONS, seed=seed)
    _check_parts(task, classes, y, parts)
    activations = extract_activations(mg, dataset, layers=chosen, pooling=pooling, delay_pattern=delay_pattern,
                                      batch_size=batch_size, cache_dir=cache_dir, cache=cache, progress=progress)
    searcher = make_search(search, task, seed)
    fits = fit_layers(activations, y, (parts.train, parts.val, parts.test), task=task, search=searcher, k=k,
                      seed=seed, progress=progress)
    return ConceptProbe(
        concept=concept, task=task, classes=classes, target=classes[1] if task == "binary" else None, layers=chosen,
        vectors=torch.stack([f.vectors for f in fits], dim=1), eigenvalues=torch.stack([f.eigenvalues for f in fits], 1),
        val_scores=tuple(f.val_score for f in fits), test_scores=tuple(f.test_score for f in fits),
        metric=METRICS[task], model={"name": mg.name, "fingerprint": dict(mg.fingerprint)}, pooling=pooling,
        delay_pattern=delay_pattern, version=__version__,
        search={"settings": _settings(searcher), "k": k, "best_params": [f.params for f in fits]},
        dataset={**dataset.summary(), "audio_fingerprint": dataset.audio_fingerprint(), "split_seed": seed,
                 "split_sizes": [len(parts.train), len(parts.val), len(parts.test)]},
        predictors=tuple(f.predictor for f in fits),
        targets=target_summary(y, parts.train, *target_stats(y, parts.train)) if task == "regression" else None,
    )


def _labels(dataset: ConceptDataset, target: str | None):
    """(task, classes, y, strata): what the probe learns and what the split is stratified on."""
    if dataset.task == "regression":
        if target is not None:
            raise ValueError(f"target must be None for the regression concept {dataset.concept!r}, got {target!r}")
        return "regression", (), dataset.targets, quantile_bins(dataset.targets)
    labels = dataset.labels
    present = [c for c in dataset.classes if c in set(labels)]
    if len(present) < 2:
        raise ValueError(f"dataset holds a single class ({present}); a probe needs at least two")
    if target is None and len(present) == 2:
        target = present[1]
    if target is None:
        y = np.array([present.index(label) for label in labels])
        return "multiclass", tuple(present), y, labels
    if not isinstance(target, str) or target not in present:
        raise ValueError(f"target must be one of the dataset's classes {present}, got {target!r}")
    y = (labels == target).astype(np.int64)
    # Stratifying on the one-vs-rest label puts positives in every part even for few clips per class.
    return "binary", (f"not_{target}", target), y, y


def _check_parts(task: str, classes: tuple[str, ...], y: np.ndarray, parts) -> None:
    if task == "regression":
        return
    for name, idx in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        missing = sorted(set(range(len(classes))) - set(np.unique(y[idx]).tolist()))
        needed = task == "binary" or name == "train"
        if missing and needed:
            counts = {classes[m]: int((y == m).sum()) for m in missing}
            raise ValueError(f"the {name} split holds no clips of {sorted(counts)} (clips in all: {counts}); a "
                             "70/15/15 split needs about 5 clips per class or more")


def _resolve(layers: str | Sequence[int], num_layers: int) -> tuple[int, ...]:
    if layers == "all":
        return tuple(range(num_layers))
    if isinstance(layers, str):
        raise ValueError(f"layers must be 'all' or a list of layer indices, got {layers!r}")
    return resolve_layers(layers, num_layers)


def _settings(searcher: RFMSearch) -> dict[str, Any]:
    params = searcher.get_params()
    params["rungs"] = [list(rung) for rung in params["rungs"]]
    return params
