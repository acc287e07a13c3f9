"""Per-layer probe fitting on activation arrays: search on train, select on validation, score on test,
directions from the selected model's AGOP. Nothing here knows about audio or MusicGen, so any
(n_clips, n_layers, d) array of features can be probed.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(90, 2, 6)).astype(np.float32); y = (X[:, :, 0].sum(1) > 0).astype(int)
>>> parts = (np.arange(60), np.arange(60, 75), np.arange(75, 90))
>>> fits = fit_layers(X, y, parts, task="binary", search=RFMSearch(n_configs=3, max_iters=1), k=2)
>>> [f.vectors.shape for f in fits], all(0.5 <= f.val_score <= 1 for f in fits), fits[0].predictor.width
([torch.Size([1, 2, 6]), torch.Size([1, 2, 6])], True, 6)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from musicrfm.agop.compact import KernelPredictor
from musicrfm.agop.directions import directions
from musicrfm.agop.metrics import roc_auc
from musicrfm.agop.search import RFMSearch
from musicrfm.checks import is_int

Progress = Callable[[str, int, int], None]
SEARCH_TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True, eq=False)
class LayerFit:
    """One layer's probe: directions (n_sets, k, d) and eigenvalues (n_sets, k), scores, chosen settings, and
    the selected RFM's predictor in compact form (what a live monitor evaluates; regression outputs are in
    standardised target units, see `target_stats`)."""

    vectors: torch.Tensor
    eigenvalues: torch.Tensor
    val_score: float
    test_score: float
    params: dict[str, Any]
    predictor: KernelPredictor


def make_search(search: RFMSearch | dict[str, Any] | None, task: str, seed: int) -> RFMSearch:
    """A fresh RFMSearch for `task`: defaults, keyword settings, or an unfitted template's settings."""
    if search is None:
        search = {}
    if isinstance(search, RFMSearch):
        # A template's task is only its default: the probe's mode decides it.
        search = {key: value for key, value in search.get_params().items() if key != "task"}
    if not isinstance(search, dict):
        raise TypeError(f"search must be an RFMSearch, a dict of its settings or None, got {type(search).__name__}")
    if "task" in search and search["task"] != task:
        raise ValueError(f"search task {search['task']!r} conflicts with the probe's task {task!r}")
    settings = {"random_state": seed, **search, "task": task}
    try:
        return RFMSearch(**settings)
    except TypeError as exc:
        raise ValueError(f"search has an unknown setting: {exc}") from exc


def score(estimator: Any, X: np.ndarray, y: np.ndarray, task: str) -> float:
    """Held-out score: ROC AUC (binary), accuracy (multiclass) or R^2 (regression)."""
    if task == "binary":
        return roc_auc(torch.as_tensor(y), torch.as_tensor(np.asarray(estimator.decision_function(X))))
    return float(estimator.score(X, y))


def fit_layer(X: np.ndarray, y: np.ndarray, parts: Sequence[np.ndarray], *, search: RFMSearch, k: int) -> LayerFit:
    """Fit one layer's features X (n, d): search on parts[0], select on parts[1], score on parts[2]."""
    train, val, test = parts
    fitted = RFMSearch(**search.get_params()).fit(X[train], y[train], X[val], y[val])
    model = fitted.best_estimator_
    multiclass = search.task == "multiclass"
    # One multi-output predictor gives every class's AGOP at once (one-vs-rest outputs).
    agop = model.agop(per_output=True) if multiclass else model.agop_
    # Only the top k of d eigenpairs are needed: LOBPCG beats a dense eigh already at d = 1024 (MusicGen-small).
    method = "lobpcg" if 3 * k < X.shape[1] else "eigh"
    found = directions(agop.double(), k=k, X=X[train], y=y[train], method=method)
    vectors, values = (found.vectors, found.eigenvalues) if multiclass else (found.vectors[None], found.eigenvalues[None])
    return LayerFit(
        vectors=torch.nn.functional.normalize(vectors.float().cpu(), dim=-1), eigenvalues=values.float().cpu(),
        val_score=score(model, X[val], y[val], search.task), test_score=score(model, X[test], y[test], search.task),
        params=_json_ready(fitted.best_params_), predictor=KernelPredictor.from_estimator(model),
    )


def fit_layers(
    activations: np.ndarray, y: np.ndarray, parts: Sequence[np.ndarray], *, task: str,
    search: RFMSearch | dict[str, Any] | None = None, k: int = 3, seed: int = 0, progress: Progress | None = None,
) -> list[LayerFit]:
    """Probe every layer of `activations` (n, n_layers, d) against labels or targets `y` (n,)."""
    if task not in SEARCH_TASKS:
        raise ValueError(f"task must be one of {SEARCH_TASKS}, got {task!r}")
    X = np.asarray(activations)
    if X.ndim != 3 or X.shape[0] != len(y) or 0 in X.shape:
        raise ValueError(f"activations must be (n_clips={len(y)}, n_layers, d), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("activations contain NaN or infinite values")
    if not is_int(k) or not 1 <= k <= X.shape[2]:
        raise ValueError(f"k must be an integer in [1, {X.shape[2]}], got {k!r}")
    template = make_search(search, task, seed)
    if task == "regression":
        y = _standardise(np.asarray(y, dtype=np.float64), parts[0])
    constant = [layer for layer in range(X.shape[1]) if np.ptp(X[parts[0], layer], axis=0).max() == 0]
    if constant:
        raise ValueError(f"activations of layer positions {constant} are identical for every training clip, so no "
                         "probe can learn there (does the model's codec map all clips to the same codes?)")
    fits = []
    for layer in range(X.shape[1]):
        fits.append(fit_layer(np.ascontiguousarray(X[:, layer]), y, parts, search=template, k=k))
        if progress is not None:
            progress("fit", layer + 1, X.shape[1])
    return fits


def target_stats(y: np.ndarray, train: np.ndarray) -> tuple[float, float]:
    """(mean, std) of the train split's regression targets: probes regress `(y - mean) / std`."""
    y = np.asarray(y, dtype=np.float64)
    spread = y[train].std()
    if not np.isfinite(y).all() or spread == 0:
        raise ValueError("regression targets must be finite and vary within the train split")
    return float(y[train].mean()), float(spread)


def _standardise(y: np.ndarray, train: np.ndarray) -> np.ndarray:
    # Kernel ridge has no intercept: raw targets far from zero (BPM ~ 120) would be shrunk towards 0.
    mean, spread = target_stats(y, train)
    return (y - mean) / spread


def _json_ready(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value.item() if isinstance(value, np.generic) else value for key, value in params.items()}
