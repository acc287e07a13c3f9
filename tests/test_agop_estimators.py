"""RFMRegressor / RFMClassifier behaviour: feature learning, model selection, I/O types, contract, bad input."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from musicrfm.agop import NotFittedError, RFMClassifier, RFMRegressor
from musicrfm.agop.solve import solve_kernel_system


@pytest.fixture(scope="module")
def sparse_task():
    """y depends on features 3 and 11 of 20 only."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 20))
    y = np.sin(2 * X[:, 3]) + X[:, 11] ** 2 / 2
    return X[:400], y[:400], X[400:550], y[400:550], X[550:], y[550:]


def test_rfm_finds_the_two_relevant_features_and_beats_round_zero(sparse_task):
    X, y, Xv, yv, Xt, yt = sparse_task
    model = RFMRegressor(bandwidth=10.0, reg=1e-3, iters=5, early_stopping=False).fit(X, y, Xv, yv)
    assert set(np.argsort(model.feature_importances_)[-2:]) == {3, 11}
    val_mse = model.history_["val"]
    assert len(val_mse) == 6 and min(val_mse[1:]) < 0.5 * val_mse[0]
    plain = RFMRegressor(bandwidth=10.0, reg=1e-3, iters=0).fit(X, y)
    assert model.score(Xt, yt) > plain.score(Xt, yt) + 0.2
    assert model.best_iter_ == int(np.argmin(val_mse)) and model.n_iter_ == 5


def test_early_stopping_stops_and_keeps_the_best_round(sparse_task):
    X, y, Xv, yv, *_ = sparse_task
    rounds = []
    # With 250 training points validation MSE turns up after round 1, past 1.01 x the best by round 2.
    model = RFMRegressor(bandwidth=10.0, iters=30, early_stop_multiplier=1.01, callback=rounds.append)
    model.fit(X[:250], y[:250], Xv, yv)
    assert model.n_iter_ < 30 and len(rounds) == model.n_iter_ + 1
    assert model.history_["val"][-1] > 1.01 * min(model.history_["val"])
    assert model.best_iter_ == int(np.argmin(model.history_["val"]))
    kept = rounds[model.best_iter_]
    torch.testing.assert_close(model.coef_, kept.coef)


def test_binary_classifier_outputs_and_label_types():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = np.where(X[:, 0] * X[:, 1] > 0, "yes", "no")
    clf = RFMClassifier(bandwidth=5.0, iters=3, scoring="auc").fit(X[:200], y[:200], X[200:], y[200:])
    assert clf.M_.dtype == torch.float32 and list(clf.classes_) == ["no", "yes"]
    proba, scores = clf.predict_proba(X[200:]), clf.decision_function(X[200:])
    assert proba.shape == (100, 2) and np.allclose(proba.sum(1), 1, atol=1e-6)
    assert scores.shape == (100,)
    assert np.array_equal(clf.predict(X[200:]), np.where(scores > 0, "yes", "no"))
    assert clf.score(X[200:], y[200:]) > 0.8 and max(clf.history_["val"]) > 0.9


def test_multiclass_classifier_on_torch_input_returns_torch():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(360, 5, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long() * 2  # 4 classes
    clf = RFMClassifier(bandwidth=5.0, iters=2).fit(X[:240], y[:240])
    pred = clf.predict(X[240:])
    assert isinstance(pred, torch.Tensor) and clf.decision_function(X[240:]).shape == (120, 4)
    assert (pred == y[240:]).double().mean() > 0.85
    assert clf.agop(per_output=True).shape == (4, 5, 5)
    assert clf.M_.dtype == torch.float64


def test_multi_output_regression_and_diagonal_metric(sparse_task):
    X, y, *_ = sparse_task
    Y = np.stack([y, X[:, 0]], axis=1)
    model = RFMRegressor(bandwidth=10.0, iters=2, diag=True, center_grads=True).fit(X, Y)
    assert model.predict(X[:7]).shape == (7, 2) and model.M_.shape == (20,)
    assert model.agop_.shape == (20,) and set(np.argsort(model.feature_importances_)[-3:]) == {0, 3, 11}


def test_get_params_set_params_and_clone():
    model = RFMRegressor(bandwidth=3.0, iters=2, kernel="gaussian")
    params = model.get_params()
    assert params["bandwidth"] == 3.0 and params["kernel"] == "gaussian" and "random_state" in params
    twin = clone(model)
    assert twin is not model and twin.get_params() == params
    assert model.set_params(reg=0.5) is model and model.reg == 0.5
    with pytest.raises(ValueError, match="invalid parameter 'alpha'"):
        model.set_params(alpha=1.0)
    assert repr(model) == "RFMRegressor(bandwidth=3.0, iters=2, kernel='gaussian', reg=0.5)"


def test_solve_falls_back_when_the_system_is_singular():
    X = torch.tensor([[0.0], [0.0], [1.0]], dtype=torch.float64)  # duplicate rows, reg 0: singular K
    K = torch.exp(-torch.cdist(X, X))
    Y = torch.tensor([[1.0], [1.0], [2.0]], dtype=torch.float64)
    coef = solve_kernel_system(K, Y, reg=0.0)
    torch.testing.assert_close(K @ coef, Y)
    assert torch.isfinite(RFMRegressor(reg=0.0, iters=1).fit(X, Y[:, 0]).coef_).all()


GOOD = np.random.default_rng(3).normal(size=(20, 4))
LABELS = np.arange(20) % 2


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.where(np.eye(20, 4) > 0, np.nan, GOOD), LABELS, "X contains NaN"),
        (np.where(np.eye(20, 4) > 0, np.inf, GOOD), LABELS, "X contains NaN or infinite"),
        (GOOD, LABELS[:-1], "mismatched lengths"),
        (GOOD, np.zeros(20), "single class"),
        (GOOD[:, :0], LABELS, "at least one sample and one feature"),
        (GOOD[:, 0], LABELS, "must be 2-D"),
        (GOOD.astype(str), LABELS, "must hold real numbers"),
        (GOOD.astype(object), LABELS, "must hold real numbers"),
        (GOOD, np.where(LABELS > 0, np.nan, 0.0), "NaN or infinite labels"),
    ],
)
def test_bad_input_raises_value_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        RFMClassifier(iters=1).fit(X, y)


@pytest.mark.parametrize(
    "params, error, match",
    [({"reg": -1.0}, ValueError, "reg"), ({"iters": 1.5}, TypeError, "iters"), ({"kernel": "rbf"}, ValueError, "kernel"),
     ({"dtype": "float16"}, ValueError, "dtype"), ({"scoring": "auc"}, ValueError, "scoring"),
     ({"device": "tpu:x"}, ValueError, "device"), ({"callback": 3}, TypeError, "callback")],
)
def test_bad_hyperparameters_raise_at_fit(params, error, match):
    model = RFMRegressor(**params)  # the constructor only stores them
    with pytest.raises(error, match=match):
        model.fit(GOOD, LABELS.astype(float))


def test_unfitted_and_wrong_width_and_unseen_labels():
    with pytest.raises(NotFittedError, match="not fitted"):
        RFMRegressor().predict(GOOD)
    clf = RFMClassifier(iters=1).fit(GOOD, LABELS)
    with pytest.raises(ValueError, match="3 features but the model was fitted with 4"):
        clf.predict(GOOD[:, :3])
    with pytest.raises(ValueError, match="labels not seen"):
        clf.fit(GOOD, LABELS, GOOD, LABELS + 5)
    with pytest.raises(ValueError, match="given together"):
        clf.fit(GOOD, LABELS, X_val=GOOD)


def test_agop_on_a_seeded_subset_is_the_selected_predictors_agop(sparse_task):
    X, y, *_ = sparse_task
    fit = lambda seed: RFMRegressor(bandwidth=10.0, iters=2, agop_samples=100, random_state=seed).fit(X, y)
    a, b, c = fit(0), fit(0), fit(1)
    torch.testing.assert_close(a.M_, b.M_)
    assert not torch.allclose(a.M_, c.M_)
    torch.testing.assert_close(a.agop_, a.agop())  # AGOP of the kept predictor over the same subset
    assert not torch.allclose(a.agop(), a.agop(X))


def test_float32_solve_escalates_to_float64_before_the_eigendecomposition():
    # A smooth kernel on a grid: float32 Cholesky of K + 1e-6 I fails on round-off, float64 succeeds.
    x = torch.linspace(0, 10, 100, dtype=torch.float64)[:, None]
    K = torch.exp(-torch.cdist(x, x) ** 2 / 18).float()
    assert torch.linalg.cholesky_ex(K + 1e-6 * torch.eye(100))[1] != 0
    coef = solve_kernel_system(K, torch.sin(x).float(), reg=1e-6)
    exact = torch.linalg.solve(K.double() + 1e-6 * torch.eye(100, dtype=torch.float64), torch.sin(x))
    assert coef.dtype == torch.float32
    torch.testing.assert_close(coef, exact.float(), rtol=1e-5, atol=1e-3 * exact.abs().max().item())


@pytest.mark.parametrize("diag, val", [(False, False), (True, False), (False, True)])
def test_agop_attribute_is_the_kept_predictors_agop(sparse_task, diag, val):
    X, y, Xv, yv, *_ = sparse_task
    extra = (Xv, yv) if val else ()
    model = RFMRegressor(bandwidth=10.0, iters=3, diag=diag, early_stop_multiplier=1.01).fit(X[:250], y[:250], *extra)
    torch.testing.assert_close(model.agop_, model.agop(diag=diag))
    if val:
        assert model.best_iter_ < model.n_iter_  # the kept round is not the last one here


def twin_of(model, X, y, **overrides):
    state = {"best_iter": model.best_iter_, **model.get_params(), **overrides}
    return type(model).from_state(X, y, model.M_, model.coef_, **state)


@pytest.mark.parametrize("case", ["binary-strings", "multiclass", "regression-diag", "multi-output-torch"])
def test_from_state_rebuilds_the_fitted_estimator_without_fitting(sparse_task, case):
    X, y, Xv, yv, Xt, _ = sparse_task
    if case == "binary-strings":
        model = RFMClassifier(bandwidth=10.0, iters=3, scoring="auc")
        y, yv = np.where(y > 0.5, "hi", "lo"), np.where(yv > 0.5, "hi", "lo")
    elif case == "multiclass":
        model, y, yv = RFMClassifier(bandwidth=10.0, iters=3), np.digitize(y, [0, 1]), np.digitize(yv, [0, 1])
    elif case == "regression-diag":
        model = RFMRegressor(bandwidth=10.0, iters=3, diag=True, center_grads=True, agop_samples=150, random_state=4)
    else:
        model = RFMRegressor(bandwidth=10.0, iters=3)
        X, y, Xv, yv, Xt = (torch.as_tensor(a) for a in (X, np.stack([y, X[:, 0]], 1), Xv,
                                                        np.stack([yv, Xv[:, 0]], 1), Xt))
    model.fit(X, y, Xv, yv)
    twin = twin_of(model, X, y, val_scores=model.history_["val"][: model.best_iter_ + 1])
    assert twin.best_iter_ == model.best_iter_ and type(twin.predict(Xt)) is type(model.predict(Xt))
    out = "decision_function" if isinstance(model, RFMClassifier) else "predict"
    assert np.array_equal(np.asarray(getattr(twin, out)(Xt)), np.asarray(getattr(model, out)(Xt)))
    if isinstance(model, RFMClassifier):
        assert list(twin.classes_) == list(model.classes_) and np.array_equal(twin.predict(Xt), model.predict(Xt))
        assert np.array_equal(twin.predict_proba(Xt), model.predict_proba(Xt))
    torch.testing.assert_close(twin.agop_, model.agop_)
    assert np.array_equal(twin.feature_importances_, model.feature_importances_)
    assert twin.history_["val"] == model.history_["val"][: model.best_iter_ + 1]
    assert np.isnan(twin.history_["train"][:-1]).all()
    assert twin.history_["train"][-1] == pytest.approx(model.history_["train"][model.best_iter_], abs=1e-6)


def test_from_state_accepts_one_dimensional_coefficients_and_the_identity_metric():
    X, y = GOOD, LABELS
    plain = RFMClassifier(iters=0).fit(X, y)
    twin = RFMClassifier.from_state(X, y, None, plain.coef_[:, 0].numpy())
    assert np.array_equal(twin.decision_function(X), plain.decision_function(X))
    torch.testing.assert_close(twin.M_, torch.eye(4, dtype=torch.float64))
    assert twin.history_ == {"train": [plain.history_["train"][0]]}


@pytest.mark.parametrize(
    "state, error, match",
    [({"M": np.eye(3)}, ValueError, r"M must have shape \(4, 4\)"),
     ({"M": np.ones(4)}, ValueError, r"M must have shape \(4, 4\)"),
     ({"M": np.full((4, 4), np.nan)}, ValueError, "M contains NaN"),
     ({"coef": np.zeros((20, 2))}, ValueError, r"coef must have shape \(20, 1\)"),
     ({"coef": np.zeros(19)}, ValueError, r"coef must have shape \(20,\)"),
     ({"coef": "zeros"}, ValueError, "coef must hold real numbers"),
     ({"best_iter": -1}, ValueError, "best_iter"),
     ({"best_iter": 1.0}, TypeError, "best_iter"),
     ({"best_iter": 1, "val_scores": [0.5]}, ValueError, r"one score per round 0..best_iter \(2\)"),
     ({"alpha": 1.0}, ValueError, "invalid parameter 'alpha'"),
     ({"diag": True}, ValueError, r"M must have shape \(4,\)"),
     ({"scoring": "r2"}, ValueError, "scoring"),
     ({"y": np.zeros(20)}, ValueError, "single class"),
     ({"X": GOOD[:, :0]}, ValueError, "at least one sample and one feature")],
)
def test_from_state_checks_its_inputs_like_fit(state, error, match):
    args = {"X": GOOD, "y": LABELS, "M": np.eye(4), "coef": np.zeros((20, 1)), **state}
    with pytest.raises(error, match=match):
        RFMClassifier.from_state(**args)
