"""RFMSearch: finds good probes, is reproducible, handles every task, rejects bad input, and its fast
path (shared distances, low-rank metric factors, cached kernels) scores each round like a plain fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from musicrfm.agop import RFMClassifier, RFMRegressor
from musicrfm.agop.metrics import accuracy, mse, roc_auc
from musicrfm.agop.search import RFMSearch, SearchConfig, sample_configs
from musicrfm.agop import Kernel
from musicrfm.agop.search_math import SearchData, Trajectory, compress_factor, laplace_values, log_sq, ridge_solve

NO_EARLY_STOP = 1e12


def probe_like(n: int, d: int, seed: int = 0, classes: int = 2):
    """Rotated heavy-tailed features; labels from a nonlinear function of two hidden directions."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Z = rng.standard_t(5.0, size=(n, d)) * (1.0 + np.arange(d)) ** -0.3
    X = Z @ Q.T
    signal = np.sin(2.0 * Z[:, 0]) + Z[:, 1] * np.abs(Z[:, 0])
    edges = np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])
    return X, np.digitize(signal, edges), signal


@pytest.fixture(scope="module")
def binary_data():
    X, y, _ = probe_like(300, 12, seed=1)
    return X[:200], y[:200], X[200:], y[200:]


@pytest.fixture(scope="module")
def binary_search(binary_data):
    return RFMSearch(n_configs=12, max_iters=6, rungs=((1, 1.0), (3, 0.5), (None, 0.25)), random_state=0).fit(*binary_data)


def test_search_beats_the_plain_kernel_machine_and_its_estimator_reproduces_the_score(binary_data, binary_search):
    s = binary_search
    round0 = max(r.val_scores[0] for r in s.results_)
    assert s.best_score_ > 0.85 and s.best_score_ > round0 + 0.02
    assert s.best_score_ == max(r.best_score for r in s.results_)
    X, y, Xv, yv = binary_data
    est = s.best_estimator_
    assert isinstance(est, RFMClassifier) and est.best_iter_ == s.best_params_["iters"] > 0
    got = roc_auc(torch.as_tensor(yv), torch.as_tensor(est.decision_function(Xv)))
    assert got == pytest.approx(s.best_score_, abs=1e-6)
    assert est.agop_.shape == (12, 12) and est.feature_importances_.shape == (12,)


def test_best_estimator_matches_a_plain_fit_of_the_selected_config(binary_data, binary_search):
    X, y, Xv, _ = binary_data
    params = binary_search.best_params_
    plain = RFMClassifier(kernel="laplace", agop_power=1.0, early_stopping=False, dtype="float32", **params).fit(X, y)
    np.testing.assert_allclose(binary_search.best_estimator_.decision_function(Xv), plain.decision_function(Xv), atol=2e-3)


def test_successive_halving_runs_few_configs_to_the_end(binary_search):
    rounds = [len(r.val_scores) for r in binary_search.results_]
    assert all(n >= 1 for n in rounds)
    assert sum(n > 3 for n in rounds) <= math.ceil(0.25 * 12)
    assert sum(n > 1 for n in rounds) <= math.ceil(0.5 * 12)


def test_default_rungs_cut_gently_until_five_rounds_then_keep_few_finalists(binary_data):
    # Early-round rankings are loose (see DEFAULT_RUNGS), so 40% must reach five rounds; the five-round
    # ranking is trusted with the cut to 2% finalists (at least one).
    search = RFMSearch(n_configs=20, max_iters=8, early_stop_multiplier=NO_EARLY_STOP, random_state=0).fit(*binary_data)
    rounds = sorted((len(r.val_scores) for r in search.results_), reverse=True)
    assert rounds == [9] + [5] * 7 + [2] * 4 + [1] * 8


def test_same_seed_same_search_other_seed_other_configs(binary_data, binary_search):
    again = RFMSearch(n_configs=12, max_iters=6, rungs=((1, 1.0), (3, 0.5), (None, 0.25)), random_state=0).fit(*binary_data)
    assert again.results_ == binary_search.results_ and again.best_params_ == binary_search.best_params_
    assert sample_configs(5, random_state=1) != sample_configs(5, random_state=0)
    for c in sample_configs(200, random_state=3):
        assert 1e-5 <= c.reg <= 10 and 1 <= c.bandwidth <= 100 and 0.7 <= c.exponent <= 1.4


def test_multiclass_and_regression_tasks():
    X, y, signal = probe_like(240, 8, seed=2, classes=3)
    clf = RFMSearch(task="multiclass", n_configs=6, max_iters=3, random_state=0).fit(X[:160], y[:160], X[160:], y[160:])
    assert isinstance(clf.best_estimator_, RFMClassifier) and clf.best_score_ > 0.6
    assert clf.best_estimator_.score(X[160:], y[160:]) == pytest.approx(clf.best_score_, abs=1e-9)
    reg = RFMSearch(task="regression", n_configs=6, max_iters=3, random_state=0).fit(X[:160], signal[:160], X[160:], signal[160:])
    assert isinstance(reg.best_estimator_, RFMRegressor)
    pred = reg.best_estimator_.predict(X[160:])
    assert reg.best_score_ == pytest.approx(float(np.mean((pred - signal[160:]) ** 2)), rel=1e-4)
    assert reg.best_score_ < 0.5 * float(np.var(signal[160:]))
    assert reg.best_score_ == min(r.best_score for r in reg.results_)


def _plain_history(cls, config: SearchConfig, iters: int, X, y, Xv, yv, scoring: str) -> list[float]:
    est = cls(kernel="laplace", agop_power=1.0, iters=iters, early_stopping=False, scoring=scoring,
              dtype="float64", **vars(config))
    return est.fit(X, y, Xv, yv).history_["val"]


@pytest.mark.parametrize("center", [False, True])
def test_fast_rounds_score_like_plain_fits_through_every_factor_path(center):
    # n = 260 > the sketch threshold, d = 300 > n: round 1 keeps the exact row factor, round 2 is sketched,
    # later rounds take the small-rank eigen path.
    X, y, _ = probe_like(360, 300, seed=3)
    Xt, Xv = torch.as_tensor(X[:260]), torch.as_tensor(X[260:])
    data = SearchData.build(Xt, torch.as_tensor(y[:260], dtype=torch.float64)[:, None], Xv, torch.as_tensor(y[260:]))
    config = SearchConfig(reg=1e-3, bandwidth=8.0, exponent=1.1, center_grads=center)
    run = Trajectory.start(data, **vars(config))
    run.advance(data, lambda Y, P: roc_auc(Y, P[:, 0]), rounds=6, early_stop_multiplier=NO_EARLY_STOP)
    assert run.ranks[1] == 260 and 0 < run.ranks[-1] < 100
    plain = _plain_history(RFMClassifier, config, 5, X[:260], y[:260], X[260:], y[260:], "auc")
    np.testing.assert_allclose(run.scores, plain, atol=2e-4)
    sketched = Trajectory.start(data, **vars(config))
    sketched.advance(data, lambda Y, P: roc_auc(Y, P[:, 0]), rounds=6, early_stop_multiplier=NO_EARLY_STOP, sketch_rank=64)
    assert sketched.ranks[1] == 64 and sketched.scores[0] == run.scores[0]
    np.testing.assert_allclose(sketched.scores, plain, atol=0.02)  # an approximation, but a close one


def test_fast_rounds_match_plain_fits_for_multiclass_and_regression():
    X, y, signal = probe_like(200, 10, seed=4, classes=3)
    Xt, Xv = torch.as_tensor(X[:140]), torch.as_tensor(X[140:])
    config = SearchConfig(reg=1e-2, bandwidth=5.0, exponent=0.9, center_grads=True)
    onehot = torch.nn.functional.one_hot(torch.as_tensor(y[:140]), 3).double()
    data = SearchData.build(Xt, onehot, Xv, torch.as_tensor(y[140:]))
    run = Trajectory.start(data, **vars(config)).advance(data, accuracy, rounds=4, early_stop_multiplier=NO_EARLY_STOP)
    plain = _plain_history(RFMClassifier, config, 3, X[:140], y[:140], X[140:], y[140:], "accuracy")
    np.testing.assert_allclose(run.scores, plain, atol=1e-12)
    target = torch.as_tensor(signal)[:, None]
    data = SearchData.build(Xt, target[:140], Xv, target[140:])
    run = Trajectory.start(data, **vars(config)).advance(data, lambda Y, P: -mse(Y, P), rounds=4, early_stop_multiplier=NO_EARLY_STOP)
    plain = _plain_history(RFMRegressor, config, 3, X[:140], signal[:140], X[140:], signal[140:], "mse")
    np.testing.assert_allclose([-s for s in run.scores], plain, rtol=1e-6)


def test_compress_factor_keeps_the_metric_and_refuses_full_rank():
    gen = torch.Generator().manual_seed(0)
    low = torch.randn(400, 5, generator=gen, dtype=torch.float64) @ torch.randn(5, 250, generator=gen, dtype=torch.float64)
    short = compress_factor(low, rtol=1e-10)
    assert short.shape == (5, 250)
    torch.testing.assert_close(short.T @ short, low.T @ low, rtol=1e-8, atol=1e-8)
    full = torch.randn(300, 250, generator=gen, dtype=torch.float64)
    assert compress_factor(full, rtol=1e-6) is full


@pytest.mark.parametrize("exponent", [0.7, 1.0, 1.4])
def test_laplace_values_from_log_distances_match_the_kernel(exponent):
    d2 = torch.cat([torch.zeros(1), torch.logspace(-6, 4, 200, dtype=torch.float64)])
    kern = Kernel("laplace", bandwidth=7.5, exponent=exponent)
    torch.testing.assert_close(laplace_values(kern, log_sq(d2)), kern.from_sq_distances(d2), rtol=1e-12, atol=1e-15)


def test_ridge_solve_escalates_to_float64_when_float32_cholesky_fails():
    K = torch.ones(50, 50)  # rank one: a 1e-8 ridge is below float32 resolution next to the unit diagonal
    A = K.clone()
    A.diagonal().add_(1e-8)
    assert int(torch.linalg.cholesky_ex(A).info) != 0  # float32 alone cannot factorise it
    Y = torch.linspace(-1, 1, 50)[:, None]
    coef = ridge_solve(K, Y, 1e-8)
    expected = torch.linalg.solve(K.double() + 1e-8 * torch.eye(50, dtype=torch.float64), Y.double())
    assert coef.dtype == torch.float32
    torch.testing.assert_close(coef.double(), expected, rtol=1e-6, atol=0.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(X=np.full((10, 3), np.nan)), "X contains NaN"),
        (lambda a: a.update(y=a["y"][:-1]), "X and y have mismatched lengths"),
        (lambda a: a.update(y=np.zeros(len(a["y"]))), "single class"),
        (lambda a: a.update(X=np.zeros((10, 0))), "at least one sample and one feature"),
        (lambda a: a.update(X=np.array([["a"] * 3] * 10)), "X must hold real numbers"),
        (lambda a: a.update(X_val=np.zeros((4, 2))), "X_val has 2 features"),
        (lambda a: a.update(y_val=np.array([0, 1, 2, 1])), "y_val contains labels not seen in y"),
        (lambda a: a.update(y=np.arange(10) % 3), "exactly two classes"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(change, message):
    rng = np.random.default_rng(0)
    args = {"X": rng.normal(size=(10, 3)), "y": np.arange(10) % 2, "X_val": rng.normal(size=(4, 3)), "y_val": np.array([0, 1, 0, 1])}
    change(args)
    with pytest.raises(ValueError, match=message):
        RFMSearch(n_configs=2, max_iters=1).fit(args["X"], args["y"], args["X_val"], args["y_val"])


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"task": "ranking"}, ValueError, "task must be one of"),
        ({"n_configs": 0}, ValueError, "n_configs must be >= 1"),
        ({"max_iters": 2.5}, TypeError, "max_iters must be an integer"),
        ({"rungs": ((1, 1.5),)}, ValueError, r"rungs fraction must be in \(0, 1\]"),
        ({"rungs": "fast"}, ValueError, "rungs must be a non-empty sequence"),
        ({"sketch_rank": 0}, ValueError, "sketch_rank must be >= 1"),
        ({"task": "multiclass"}, ValueError, "at least three classes"),
    ],
)
def test_bad_hyperparameters_are_rejected(params, error, message):
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(error, match=message):
        RFMSearch(**params).fit(X, np.arange(10) % 2, X[:4], np.array([0, 1, 0, 1]))
