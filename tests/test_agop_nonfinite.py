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


@pytest.mark.parametrize("kernel, bandwidth, exponent", [("gaussian", 1e-200, 1.0), ("laplace", 1e300, 2.0),
                                                         ("gaussian", 1e160, 1.0)])
def test_a_bandwidth_outside_float64_is_refused_at_fit(data, kernel, bandwidth, exponent):
    X, y, _ = data
    expected = re.escape(f"bandwidth {bandwidth:g} makes ") + ".* over- or underflow float64"
    with pytest.raises(ValueError, match=expected):
        RFMClassifier(kernel=kernel, bandwidth=bandwidth, exponent=exponent).fit(X, y)
    with pytest.raises(ValueError, match="over- or underflow"):
        Kernel(kernel, bandwidth, exponent)


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
