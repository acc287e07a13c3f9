"""Probes really learn: planted concepts in heavy-tailed synthetic activations are found by fit_layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from musicrfm.probes.fit import fit_layers, make_search

N, D = 240, 24
SEARCH = {"n_configs": 6, "max_iters": 2}


def _parts(n: int = N) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(1).permutation(n)
    return order[: int(0.7 * n)], order[int(0.7 * n) : int(0.85 * n)], order[int(0.85 * n) :]


def _heavy_tailed(rng: np.random.Generator, n: int = N) -> np.ndarray:
    """Student-t features in a random rotation, like residual-stream states (a few huge outliers)."""
    rotation, _ = np.linalg.qr(rng.normal(size=(D, D)))
    return rng.standard_t(df=3, size=(n, D)) @ rotation


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _stack(*layers: np.ndarray) -> np.ndarray:
    return np.stack(layers, axis=1).astype(np.float32)


def test_binary_probe_finds_the_planted_direction_and_ignores_a_noise_layer():
    rng = np.random.default_rng(0)
    concept = _unit(rng.normal(size=D))
    y = rng.integers(0, 2, N)
    informative = _heavy_tailed(rng) + 4.0 * np.outer(y, concept)
    noise = _heavy_tailed(rng)
    fits = fit_layers(_stack(noise, informative), y, _parts(), task="binary", search=SEARCH, k=2)
    assert fits[1].val_score > 0.95 and fits[1].test_score > 0.95
    assert fits[0].val_score < 0.8  # a layer without the concept scores near chance
    top = fits[1].vectors[0, 0].double().numpy()
    # Sign convention: projections grow with the label, so the direction points along +concept.
    assert top @ concept > 0.9
    assert fits[1].eigenvalues[0, 0] >= fits[1].eigenvalues[0, 1]
    assert fits[1].vectors.shape == (1, 2, D) and fits[1].vectors.dtype == torch.float32


def test_multiclass_probe_gives_each_class_its_own_direction():
    rng = np.random.default_rng(2)
    planted = np.stack([_unit(rng.normal(size=D)) for _ in range(3)])
    y = np.arange(N) % 3
    X = _heavy_tailed(rng) + 5.0 * planted[y]
    (fit,) = fit_layers(_stack(X), y, _parts(), task="multiclass", search=SEARCH, k=1)
    assert fit.val_score > 0.8  # accuracy; chance is 1/3
    found = fit.vectors[:, 0].double().numpy()
    # Class c's direction separates c from the rest: it leans towards its own planted vector.
    centred = planted - planted.mean(0)
    cosines = np.array([[_unit(f) @ _unit(c) for c in centred] for f in found])
    assert (np.argmax(cosines, axis=1) == np.arange(3)).all() and (np.diag(cosines) > 0.7).all()


def test_regression_probe_direction_points_towards_larger_targets():
    rng = np.random.default_rng(3)
    concept = _unit(rng.normal(size=D))
    X = rng.normal(size=(N, D))
    target = 60 + 120 * rng.random(N)
    X += np.outer((target - 120) / 10, concept)  # signal variance 12 against unit noise: R^2 ~ 0.9 at best
    (fit,) = fit_layers(_stack(X), target, _parts(), task="regression", search=SEARCH, k=1)
    assert fit.val_score > 0.7  # R^2
    assert fit.vectors[0, 0].double().numpy() @ concept > 0.9
    assert {"reg", "bandwidth", "exponent", "center_grads", "iters"} <= set(fit.params)


def test_progress_reports_every_layer():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 60)
    calls = []
    fit_layers(rng.normal(size=(60, 3, 5)).astype(np.float32), y, _parts(60), task="binary",
               search={"n_configs": 2, "max_iters": 1}, k=1, progress=lambda *a: calls.append(a))
    assert calls == [("fit", 1, 3), ("fit", 2, 3), ("fit", 3, 3)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"k": 0}, "k must be an integer"),
        ({"k": 6}, "k must be an integer"),
        ({"activations": np.zeros((10, 5))}, "activations must be"),
        ({"activations": np.full((20, 1, 5), np.nan)}, "NaN"),
        ({"activations": np.ones((20, 2, 5))}, r"layer positions \[0, 1\] are identical"),
        ({"search": {"n_trials": 3}}, "unknown setting"),
        ({"search": {"task": "regression"}}, "conflicts"),
        ({"search": "fast"}, "search must be"),
    ],
)
def test_bad_inputs_are_refused(kwargs, message):
    rng = np.random.default_rng(5)
    args = {"activations": rng.normal(size=(20, 1, 5)), "task": "binary", "k": 1, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        fit_layers(args.pop("activations"), np.arange(20) % 2, _parts(20), **args)


def test_make_search_seeds_from_the_probe_unless_told_otherwise():
    assert make_search(None, "binary", 7).random_state == 7
    assert make_search({"random_state": 3}, "binary", 7).random_state == 3
    assert make_search(make_search({"n_configs": 5}, "binary", 0), "regression", 1).get_params()["n_configs"] == 5
