"""Overflow in the AGOP core: fits, from_state, predictions and the search raise one ValueError naming the quantity
(or, for a later round, fall back to the fit of a lower ``iters``); nothing returns NaN."""

import pickle
import re
import warnings

import numpy as np
import pytest
import torch

from musicrfm.agop import Kernel, RFMClassifier, RFMRegressor
from musicrfm.agop.finite import NonFiniteError
from musicrfm.agop.search import RFMSearch
from musicrfm.agop.search_math import SearchData, Trajectory
from musicrfm.agop.solve import solve_kernel_system

KERNEL_ADVICE = "standardise the features (e.g. sklearn StandardScaler) and use a bandwidth near their scale"
TO_FLOAT64 = ", or use dtype='float64'"
# Feature scales whose squared distances overflow the dtype while the features themselves do not.
HUGE = {np.float32: 1e20, np.float64: 1e154}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    return X, (X[:, 0] > 0).astype(int), X[:, 0] ** 2


def _targets(cls, data):
    return data[1] if cls is RFMClassifier else data[2]


def _fit_message(cls, quantity, dtype, advice, round_=0):
    name = np.dtype(dtype).name
    suffix = "" if name == "float64" else TO_FLOAT64
    return f"{cls.__name__}.fit: the {quantity} overflowed (non-finite) in round {round_} in {name}; {advice}{suffix}"


def test_the_issue_example_raises_instead_of_predicting_class_zero(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="kernel matrix overflowed"):
        RFMClassifier(iters=3).fit((X * 1e20).astype(np.float32), y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", [RFMClassifier, RFMRegressor])
@pytest.mark.parametrize("options", [{}, {"diag": True}, {"kernel": "gaussian"}, {"with_val": True}])
def test_overflowing_distances_name_the_kernel_matrix(data, cls, dtype, options):
    X, targets = (data[0] * HUGE[dtype]).astype(dtype), _targets(cls, data)
    options = dict(options)
    val = (X[150:], targets[150:]) if options.pop("with_val", False) else ()
    fit_rows = slice(0, 150) if val else slice(None)
    with pytest.raises(NonFiniteError) as info:
        cls(iters=3, **options).fit(X[fit_rows], targets[fit_rows], *val)
    assert str(info.value) == _fit_message(cls, "kernel matrix", dtype, KERNEL_ADVICE)
    assert isinstance(info.value, ValueError) and info.value.quantity == "kernel matrix"


@pytest.mark.parametrize(
    ("dtype", "scale", "reg", "quantity", "advice"),
    [
        (np.float32, 1e25, 1e-3, "AGOP", "standardise the features and targets"),
        (np.float64, 1e300, 1e-3, "AGOP", "standardise the features and targets"),
        (np.float32, 1e33, 1e-5, "predictions", "standardise the targets"),
        (np.float32, 1e37, 1e-5, "kernel ridge coefficients", "standardise the targets or increase reg"),
    ],
)
def test_huge_targets_name_what_overflowed(data, dtype, scale, reg, quantity, advice):
    X = data[0].astype(dtype)
    # Duplicated points with different targets make K + reg I nearly singular: coefficients ~ y / reg.
    Xd, yd = np.repeat(X[:100], 2, 0), np.random.default_rng(1).normal(size=200) * scale
    with pytest.raises(NonFiniteError, match=f"^{re.escape(_fit_message(RFMRegressor, quantity, dtype, advice))}$"):
        RFMRegressor(reg=reg, iters=2).fit(Xd, yd)


def test_a_float32_kernel_scale_underflow_is_named_and_float64_fits(data):
    X, _, yr = data
    # bandwidth ** 2 = 1e-50 is 0 in float32, so the kernel's diagonal is 0 / 0.
    model = RFMRegressor(bandwidth=1e-25, exponent=2.0, iters=2)
    with pytest.raises(NonFiniteError, match=re.escape(_fit_message(RFMRegressor, "kernel matrix", np.float32,
                                                                    KERNEL_ADVICE))):
        model.fit(X.astype(np.float32), yr)
    assert np.isfinite(model.fit(X, yr).predict(X)).all()


@pytest.mark.parametrize("kernel, bandwidth, exponent", [("gaussian", 1e-200, 1.0), ("laplace", 1e300, 2.0),
                                                         ("gaussian", 1e160, 1.0)])
def test_a_bandwidth_outside_float64_is_refused_at_fit(data, kernel, bandwidth, exponent):
    X, y, _ = data
    expected = re.escape(f"bandwidth {bandwidth:g} makes ") + ".* over- or underflow float64"
    with pytest.raises(ValueError, match=expected):
        RFMClassifier(kernel=kernel, bandwidth=bandwidth, exponent=exponent).fit(X, y)
    with pytest.raises(ValueError, match="over- or underflow"):
        Kernel(kernel, bandwidth, exponent)


@pytest.mark.parametrize("cls", [RFMClassifier, RFMRegressor])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_later_round_that_overflows_leaves_the_fit_of_a_lower_iters(data, cls, dtype):
    X, targets = data[0].astype(dtype), _targets(cls, data)
    rounds = []
    # The metric's largest eigenvalue exceeds 1, so its 1e10-th power overflows: round 1 has no usable M.
    with pytest.warns(RuntimeWarning) as caught:
        model = cls(iters=3, agop_power=1e10, callback=rounds.append).fit(X, targets)
    expected = _fit_message(cls, "metric M", dtype, "lower agop_power (M = (AGOP / max AGOP) ** agop_power)", 1)
    assert [str(w.message) for w in caught] == [f"{expected}; the fit keeps the best of rounds 0..0, as iters=0 would"]
    plain = cls(iters=0, agop_power=1e10).fit(X, targets)
    assert (model.n_iter_, model.best_iter_, model.history_) == (0, 0, plain.history_)
    assert [r.iteration for r in rounds] == [0]
    for name in ("coef_", "M_", "agop_"):
        assert torch.equal(getattr(model, name), getattr(plain, name)), name
    assert np.isfinite(np.asarray(model.predict(X), dtype=float)).all()


def test_the_fallback_keeps_the_validation_choice_and_names_a_float32_agop(data):
    X, _, yr = data
    X32 = X.astype(np.float32) * 1e3
    split = (X32[:150], yr[:150] * 1e10, X32[150:], yr[150:] * 1e10)
    # Unnormalised, round 1's metric is the AGOP itself (~1e30): its gradients square past float32's range.
    with pytest.warns(RuntimeWarning, match=r"^RFMRegressor\.fit: the AGOP overflowed \(non-finite\) in round 1 in "
                                            r"float32; standardise the features and targets, or use dtype='float64'; "
                                            r"the fit keeps the best of rounds 0\.\.0, as iters=0 would$"):
        model = RFMRegressor(iters=4, normalize_agop=False).fit(*split)
    plain = RFMRegressor(iters=0, normalize_agop=False).fit(*split)
    assert model.history_ == plain.history_ and len(model.history_["val"]) == 1
    assert torch.equal(model.coef_, plain.coef_)


def test_from_state_refuses_state_that_overflows(data):
    X, y, _ = data
    clf = RFMClassifier(iters=2).fit(X, y)
    X32, M32, coef32 = X.astype(np.float32), clf.M_.float(), clf.coef_.float()
    with pytest.raises(NonFiniteError, match=r"^RFMClassifier\.from_state: the kernel matrix overflowed \(non-finite\) "
                                             r"in float32; standardise the features"):
        RFMClassifier.from_state(X32, y, M32 * 1e38, coef32, best_iter=2)
    with pytest.raises(NonFiniteError, match=r"^RFMClassifier\.from_state: the AGOP overflowed \(non-finite\) in "
                                             r"float64; standardise the features and targets$"):
        RFMClassifier.from_state(X, y, clf.M_, clf.coef_ * 1e300, best_iter=2)


@pytest.mark.parametrize("method", ["predict", "decision_function", "predict_proba", "score"])
def test_classifier_predictions_on_overflowing_inputs_raise(data, method):
    X, y, _ = data
    clf = RFMClassifier(iters=2).fit(X, y)
    args = (y,) if method == "score" else ()
    with pytest.raises(NonFiniteError, match=rf"^RFMClassifier\.{method}: the kernel matrix overflowed \(non-finite\) "
                                             r"between X and the training points in float64; standardise"):
        getattr(clf, method)(X * 1e154, *args)
    with pytest.raises(ValueError, match="^X contains NaN or infinite values$"):
        getattr(clf, method)(np.where(X > 2, np.nan, X), *args)
    assert np.isfinite(np.asarray(clf.decision_function(X))).all()


def test_regressor_predictions_and_agop_on_overflowing_inputs_raise(data):
    X, _, yr = data
    reg = RFMRegressor(iters=2).fit(X.astype(np.float32), yr)
    predict = r"^RFMRegressor\.predict: the kernel matrix .* in float32; .*dtype='float64'$"
    with pytest.raises(NonFiniteError, match=predict):
        reg.predict(torch.tensor(X * 1e20, dtype=torch.float32))
    agop = r"^RFMRegressor\.agop: the AGOP overflowed \(non-finite\) at X in float32;"
    with pytest.raises(NonFiniteError, match=agop):
        reg.agop(X * 1e20)
    with pytest.raises(ValueError, match="^X contains NaN or infinite values$"):
        reg.score(np.full_like(X, np.inf), yr)


def test_finite_inputs_beyond_the_compute_dtype_are_named_as_such(data):
    X, _, yr = data
    expected = ("X has values beyond the range of float32; standardise it (e.g. sklearn StandardScaler) "
                "or use dtype='float64'")
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        RFMRegressor(dtype="float32").fit(X * 1e300, yr)
    reg = RFMRegressor(iters=1).fit(X.astype(np.float32), yr)
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        reg.predict(X * 1e300)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_search_refuses_overflowing_distances(data, dtype):
    X, y, _ = data
    Xb = (X * HUGE[np.dtype(dtype).type]).astype(dtype)
    expected = f"RFMSearch.fit: the squared distances overflowed (non-finite) in {dtype}; standardise the features " \
               f"(e.g. sklearn StandardScaler){TO_FLOAT64 if dtype == 'float32' else ''}"
    with pytest.raises(NonFiniteError, match=f"^{re.escape(expected)}$"):
        RFMSearch(n_configs=4, max_iters=2, dtype=dtype, random_state=0).fit(Xb[:150], y[:150], Xb[150:], y[150:])


@pytest.mark.parametrize(("scale", "expected"), [
    (1e35, r"the kernel ridge coefficients overflowed \(non-finite\) in round 0 of configuration 1 \(reg=0\.000416, "
           r"bandwidth=28\.8\) in float32; standardise the targets or increase reg, or use dtype='float64'$"),
    (1e30, r"the AGOP overflowed \(non-finite\) in the selected round \(round 0 of configuration 0\) in float32"),
])
def test_search_names_what_overflowed_with_huge_targets(data, scale, expected):
    X = np.repeat(data[0][:100].astype(np.float32), 2, 0)
    y = np.random.default_rng(1).normal(size=200) * scale
    with pytest.raises(NonFiniteError, match="^RFMSearch.fit: " + expected):
        RFMSearch(task="regression", n_configs=6, max_iters=3, random_state=0).fit(X[:150], y[:150], X[150:], y[150:])


@pytest.mark.parametrize("rounds, zero_features", [(1, 0), (2, 2)])
@pytest.mark.parametrize("scale", [1e30, 1e37])  # the gradients' squares overflow float32, or the gradients do
def test_a_search_run_whose_later_round_overflows_keeps_its_rounds(data, rounds, zero_features, scale):
    X = data[0].copy()
    # Two constant features give round 1 a rank-3 factor, so round 2 takes the small-rank (Gram) path.
    X[:, X.shape[1] - zero_features:] = 0
    X, Y = torch.tensor(X, dtype=torch.float32), torch.tensor(data[2][:, None], dtype=torch.float32)
    split = SearchData.build(X[:150], Y[:150], X[150:], Y[150:])
    score = lambda y, p: -float((p - y).square().mean())  # noqa: E731
    run = Trajectory.start(split, reg=1e-3, bandwidth=5.0, exponent=1.0, center_grads=False)
    run.advance(split, score, rounds=rounds, early_stop_multiplier=1e9)
    best, kept, ranks = run.best, run.best_coef.clone(), list(run.ranks)
    run.coef = run.coef * scale
    run.advance(split, score, rounds=4, early_stop_multiplier=1e9)
    assert (run.rounds, run.stopped, run.best, run.ranks) == (rounds, True, best, ranks)
    assert ranks[-1] == (0 if rounds == 1 else 3)
    assert torch.equal(run.best_coef, kept) and np.isfinite(run.scores).all()


def test_ordinary_data_is_unaffected(data):
    X, y, yr = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = RFMClassifier(iters=3, early_stopping=False).fit(X[:150], y[:150], X[150:], y[150:])
        reg = RFMRegressor(iters=3).fit(X.astype(np.float32), yr)
        search = RFMSearch(n_configs=4, max_iters=3, random_state=0).fit(X[:150], y[:150], X[150:], y[150:])
    assert clf.n_iter_ == 3 and len(clf.history_["val"]) == 4 and reg.n_iter_ == 3
    assert np.isfinite(clf.decision_function(X)).all() and np.isfinite(reg.predict(X)).all()
    assert np.isfinite(search.best_estimator_.decision_function(X)).all()


def test_solve_raises_on_a_non_finite_kernel():
    K = torch.eye(3, dtype=torch.float64)
    K[0, 1] = K[1, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="^the kernel matrix overflowed"):  # not LinAlgError from eigh
        solve_kernel_system(K, torch.ones(3, 1, dtype=torch.float64), reg=1e-3)


def test_the_error_is_one_line_and_pickles():
    err = NonFiniteError("AGOP").explained("RFMRegressor.fit", torch.float32, "in round 2")
    assert str(err) == ("RFMRegressor.fit: the AGOP overflowed (non-finite) in round 2 in float32; "
                        "standardise the features and targets, or use dtype='float64'")
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.quantity, type(copy)) == (str(err), "AGOP", NonFiniteError)
