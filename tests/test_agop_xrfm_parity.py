"""musicrfm's RFM against xrfm 0.4.5 (a test-only dependency) with identical settings, in float64.

xrfm conventions matched by explicit options (read from its source):
* kernel ``l2`` = LaplaceKernel, data multiplied by ``sqrt(M)``, so the effective metric is M;
* ``M = AGOP / max(AGOP)``, plus ``1e-8 I`` for a full M (added before its matrix square root), so
  ``metric_jitter=1e-8`` for full M and 0 for diagonal M; ``agop_power=1``;
* ridge added to the kernel diagonal; ``iters`` AGOP rounds then a final solve; the last round's
  model unless validation selection is on (``return_best_params``); gradients centred over all
  outputs jointly, so centring is compared on single-output problems only.

xrfm computes distances with ``torch.cdist``, whose matrix-product path returns ~1e-7 instead of 0 for
a point's distance to itself; through the Laplace kernel's infinite slope at 0 that is ~1e-8 noise in
its kernel matrix (and the self-term escapes its 1e-10 mask). The tests route xrfm through cdist's
exact path so both implementations compute the same mathematics and can agree to ~1e-12.
"""

import pytest
import torch
from xrfm import RFM

from musicrfm.agop import RFMClassifier, RFMRegressor


@pytest.fixture(autouse=True)
def exact_cdist(monkeypatch):
    exact = torch.cdist

    def cdist(a, b, p=2.0, compute_mode=None):
        return exact(a, b, p=p, compute_mode="donot_use_mm_for_euclid_dist")

    monkeypatch.setattr(torch, "cdist", cdist)


def target(X):
    return (torch.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2])[:, None]


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 8, generator=g, dtype=torch.float64)
    Xv = torch.randn(80, 8, generator=g, dtype=torch.float64)
    yv = target(Xv) + 0.3 * torch.randn(80, 1, generator=g, dtype=torch.float64)
    return X, target(X), Xv, yv


def fit_xrfm(X, y, Xv, yv, *, diag=False, exponent=1.0, center=False, best=False, iters=3, tuning="mse"):
    ref = RFM(kernel="l2", bandwidth=4.0, exponent=exponent, diag=diag, device="cpu", verbose=False,
              tuning_metric=tuning)
    ref.fit((X, y), (Xv, yv), iters=iters, reg=1e-3, center_grads=center, early_stop_rfm=best,
            return_best_params=best, early_stop_multiplier=1.1)
    return ref


def ours(cls=RFMRegressor, *, diag=False, exponent=1.0, center=False, iters=3, **kwargs):
    return cls(kernel="laplace", bandwidth=4.0, exponent=exponent, reg=1e-3, iters=iters, diag=diag,
               center_grads=center, agop_power=1.0, metric_jitter=0.0 if diag else 1e-8, dtype="float64",
               device="cpu", **kwargs)


@pytest.mark.parametrize(
    "diag, exponent, center", [(False, 1.0, False), (False, 0.8, True), (True, 1.0, True), (True, 0.8, False)]
)
def test_learned_metric_and_predictions_match_xrfm(data, diag, exponent, center):
    X, y, Xv, yv = data
    ref = fit_xrfm(X, y, Xv, yv, diag=diag, exponent=exponent, center=center)
    model = ours(diag=diag, exponent=exponent, center=center, early_stopping=False).fit(X, y)
    torch.testing.assert_close(model.M_, ref.M, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model.predict(Xv), ref.predict(Xv), rtol=1e-10, atol=1e-10)
    assert model.n_iter_ == 3 and model.best_iter_ == 3


def test_validation_selection_and_early_stopping_match_xrfm(data):
    X, y, Xv, yv = data
    ref = fit_xrfm(X, y, Xv, yv, best=True, iters=8)
    model = ours(iters=8, scoring="mse", early_stop_multiplier=1.1).fit(X, y, Xv, yv)
    assert model.best_iter_ == ref.best_iter
    torch.testing.assert_close(model.M_, ref.M, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model.predict(Xv), ref.predict(Xv), rtol=1e-10, atol=1e-10)


def test_multiclass_classifier_matches_xrfm_regression_on_one_hot_targets(data):
    X, _, Xv, _ = data
    labels = torch.bucketize(X[:, 0] + X[:, 1] ** 2, torch.tensor([0.0, 1.5], dtype=torch.float64))
    one_hot = torch.nn.functional.one_hot(labels, 3).to(torch.float64)
    ref = fit_xrfm(X, one_hot, Xv, one_hot[:80])
    model = ours(RFMClassifier).fit(X, labels)
    torch.testing.assert_close(model.M_, ref.M, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model.decision_function(Xv), ref.predict(Xv), rtol=1e-10, atol=1e-10)
