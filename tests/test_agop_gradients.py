"""agop() of arbitrary torch functions, and its agreement with the closed-form AGOP of a fitted RFM."""

import numpy as np
import pytest
import torch

from musicrfm.agop import RFMClassifier, RFMRegressor, agop


@pytest.fixture(scope="module")
def fitted():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(160, 7, generator=g, dtype=torch.float64)
    y = torch.tanh(X[:, 0] - X[:, 1] * X[:, 4])
    Xq = torch.randn(40, 7, generator=g, dtype=torch.float64)
    model = RFMRegressor(bandwidth=4.0, exponent=1.2, iters=2, dtype="float64").fit(X, y)
    return model, Xq


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("diag", [False, True])
def test_autograd_agop_of_fitted_predictor_equals_closed_form(fitted, centered, diag):
    model, Xq = fitted
    # Query points away from the training set: autograd differentiates sqrt(0) as NaN at the self-term.
    auto = agop(model.raw_predict, Xq, centered=centered, diag=diag, batch_size=7)
    closed = model.agop(Xq, centered=centered, diag=diag)
    torch.testing.assert_close(auto, closed, rtol=1e-9, atol=1e-12)


def test_multiclass_per_output_agops_sum_to_the_autograd_agop():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(150, 5, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long() + (X[:, 3] > 0).long()
    clf = RFMClassifier(bandwidth=3.0, iters=1).fit(X, y)
    Xq = torch.randn(30, 5, generator=g, dtype=torch.float64)
    per_class = clf.agop(Xq, per_output=True, centered=False)
    torch.testing.assert_close(per_class.sum(0), agop(clf.raw_predict, Xq))
    one_class = agop(lambda Z: clf.raw_predict(Z)[:, 2], Xq)
    torch.testing.assert_close(per_class[2], one_class)


def test_agop_of_a_network_matches_explicit_jacobians():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    X = torch.randn(25, 6, dtype=torch.float64)
    J = torch.stack([torch.autograd.functional.jacobian(lambda x: net(x[None])[0], x) for x in X])
    Jc = J - J.mean(0)
    torch.testing.assert_close(agop(net, X, batch_size=4), torch.einsum("ncd,nce->de", J, J) / 25)
    torch.testing.assert_close(agop(net, X, centered=True), torch.einsum("ncd,nce->de", Jc, Jc) / 25)
    torch.testing.assert_close(agop(net, X.numpy(), diag=True), torch.einsum("ncd,ncd->d", J, J) / 25)


def test_scalar_output_and_float32_array_input():
    X = np.random.default_rng(2).normal(size=(10, 3)).astype(np.float32)
    out = agop(lambda Z: (Z**2).sum(1), torch.from_numpy(X))  # grad = 2x: AGOP = 4 E[x x^T]
    torch.testing.assert_close(out, 4 * torch.from_numpy(X).T @ torch.from_numpy(X) / 10)
    assert out.dtype == torch.float32


def test_agop_bad_input():
    with pytest.raises(TypeError, match="fn must be callable"):
        agop("f", torch.zeros(2, 2))
    with pytest.raises(ValueError, match="2-D"):
        agop(torch.sin, torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        agop(torch.sin, torch.full((2, 2), float("nan")))
    with pytest.raises(ValueError, match="batch_size"):
        agop(torch.sin, torch.zeros(2, 2), batch_size=0)
