"""Closed-form kernel gradients and AGOPs against finite differences and brute force (float64)."""

import pytest
import torch

from musicrfm.agop.kernels import Kernel, sq_distances

KERNELS = [Kernel("laplace", 2.0, 1.0), Kernel("laplace", 3.0, 0.7), Kernel("laplace", 1.5, 2.0),
           Kernel("gaussian", 1.5)]


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 6, generator=g, dtype=torch.float64)
    coef = torch.randn(40, 3, generator=g, dtype=torch.float64)
    Z = torch.randn(9, 6, generator=g, dtype=torch.float64)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64)
    metrics = {"identity": None, "diag": torch.rand(6, generator=g, dtype=torch.float64) + 0.2,
               "full": A @ A.T / 6 + 0.1 * torch.eye(6, dtype=torch.float64)}
    return X, coef, Z, metrics


def finite_difference_gradients(kern, X, Z, coef, M, h=1e-6):
    """Central differences of f(z) = k(z, X) @ coef along each coordinate: (n_z, c, d)."""
    eye = torch.eye(X.shape[1], dtype=X.dtype)
    cols = [(kern.matrix(Z + h * e, X, M) @ coef - kern.matrix(Z - h * e, X, M) @ coef) / (2 * h) for e in eye]
    return torch.stack(cols, dim=-1)


@pytest.mark.parametrize("kern", KERNELS, ids=lambda k: f"{k.name}-{k.exponent}")
@pytest.mark.parametrize("metric", ["identity", "diag", "full"])
def test_gradients_match_finite_differences(data, kern, metric):
    X, coef, Z, metrics = data
    M = metrics[metric]
    closed = kern.gradients(X, Z, coef, M, batch_size=4)
    torch.testing.assert_close(closed, finite_difference_gradients(kern, X, Z, coef, M), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("metric", ["identity", "diag", "full"])
@pytest.mark.parametrize("centered", [False, True])
def test_agop_matches_brute_force_over_gradients(data, metric, centered):
    X, coef, Z, metrics = data
    M, kern = metrics[metric], Kernel("laplace", 2.0, 1.2)
    G = kern.gradients(X, Z, coef, M)
    if centered:
        G = G - G.mean(0, keepdim=True)
    per_output = torch.einsum("ncd,nce->cde", G, G) / Z.shape[0]
    full = kern.agop(X, Z, coef, M, centered=centered, per_output=True, batch_size=2)
    torch.testing.assert_close(full, per_output)
    torch.testing.assert_close(kern.agop(X, Z, coef, M, centered=centered), per_output.sum(0))
    diag = kern.agop(X, Z, coef, M, centered=centered, diag=True, batch_size=5)
    torch.testing.assert_close(diag, torch.diagonal(per_output.sum(0)))


def test_self_term_is_zeroed_at_training_points(data):
    """At x_j the Laplace predictor has a kink; the gradient is that of the sum without term j."""
    X, coef, _, metrics = data
    kern, M = Kernel("laplace", 2.0, 1.0), metrics["full"]
    at_train = kern.gradients(X, X[:5], coef, M)
    for j in range(5):
        keep = torch.arange(X.shape[0]) != j
        without_j = kern.gradients(X[keep], X[j : j + 1], coef[keep], M)
        torch.testing.assert_close(at_train[j : j + 1], without_j)
    assert torch.isfinite(kern.agop(X, X, coef, M)).all()


def test_kernel_values_and_distances(data):
    X, _, Z, metrics = data
    M = metrics["full"]
    diff = X[:, None, :] - Z[None, :, :]
    d2 = torch.einsum("ijd,de,ije->ij", diff, M, diff)
    torch.testing.assert_close(sq_distances(X, Z, M), d2)
    lap = Kernel("laplace", 2.0, 0.8).matrix(X, Z, M)
    torch.testing.assert_close(lap, torch.exp(-d2.sqrt() ** 0.8 / 2.0**0.8))
    torch.testing.assert_close(Kernel("gaussian", 2.0).matrix(X, Z, M), torch.exp(-d2 / 8.0))
    one_output = Kernel().gradients(X, Z, torch.ones(X.shape[0], dtype=X.dtype))
    assert one_output.shape == (Z.shape[0], 1, X.shape[1])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"name": "rbf"}, "kernel"), ({"bandwidth": 0.0}, "bandwidth"), ({"bandwidth": float("nan")}, "bandwidth"),
     ({"exponent": 2.5}, "exponent"), ({"exponent": 0.0}, "exponent")],
)
def test_bad_kernel_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Kernel(**kwargs)


def test_bad_shapes_raise(data):
    X, coef, Z, _ = data
    with pytest.raises(TypeError, match="bandwidth"):
        Kernel(bandwidth="wide")
    with pytest.raises(ValueError, match="M must have shape"):
        Kernel().matrix(X, Z, torch.eye(3, dtype=X.dtype))
    with pytest.raises(ValueError, match="coef must have shape"):
        Kernel().gradients(X, Z, coef[:-1])
    with pytest.raises(ValueError, match="at least one point"):
        Kernel().agop(X, Z[:0], coef)


def brute_force_weights(kern, X, Z, M):
    """w(d_ij) of the gradient formula, straight from its definition (coincident pairs dropped)."""
    diff = X[:, None, :] - Z[None, :, :]
    Mf = torch.diag(M) if M is not None and M.dim() == 1 else (torch.eye(X.shape[1], dtype=X.dtype) if M is None else M)
    d = torch.einsum("ijd,de,ije->ij", diff, Mf, diff).clamp(min=0).sqrt()
    L, q = kern.bandwidth, kern.exponent
    if kern.name == "gaussian":
        w = -torch.exp(-(d**2) / (2 * L**2)) / L**2
    else:
        w = -(q / L**q) * torch.exp(-(d**q) / L**q) * d.clamp(min=1e-300) ** (q - 2)
    return torch.where(d < 1e-6, torch.zeros_like(w), w)


@pytest.mark.parametrize("kern", KERNELS, ids=lambda k: f"{k.name}-{k.exponent}")
@pytest.mark.parametrize("metric", ["identity", "diag", "full"])
def test_pair_gives_the_kernel_matrix_and_the_gradient_weights(data, kern, metric):
    X, _, Z, metrics = data
    M = metrics[metric]
    Zx = torch.cat([Z, X[:4]])  # four evaluation points coincide with training points
    K, R = kern.pair(X, Zx, M)
    torch.testing.assert_close(K, kern.matrix(X, Zx, M))
    torch.testing.assert_close(kern.weight_scale * K * R, brute_force_weights(kern, X, Zx, M))
    assert (R[torch.arange(4), Z.shape[0] + torch.arange(4)] == 0).all()


@pytest.mark.parametrize("options", [{}, {"centered": True}, {"per_output": True}, {"diag": True, "centered": True},
                                     {"diag": True, "per_output": True}])
def test_agop_from_precomputed_weights_equals_agop_computed_per_batch(data, options):
    X, coef, Z, metrics = data
    kern, M = Kernel("laplace", 2.0, 0.8), metrics["full"]
    K, R = kern.pair(X, Z, M)
    torch.testing.assert_close(kern.agop(X, Z, coef, M, weights=K * R, batch_size=4, **options),
                               kern.agop(X, Z, coef, M, **options))
    torch.testing.assert_close(kern.agop(X, Z, coef, M, weights=(K * R).float(), **options),
                               kern.agop(X, Z, coef, M, **options), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="weights must have shape"):
        kern.agop(X, Z, coef, M, weights=K[:, :-1] * R[:, :-1])


def test_coincident_pairs_have_exactly_zero_distance_and_are_masked(data):
    X, _, _, metrics = data
    Xf = X.float() * 100  # large norms: the expansion ||x||^2 + ||z||^2 - 2 x.z leaves round-off at the self-pairs
    d2, mask = sq_distances(Xf, Xf, metrics["full"].float(), with_mask=True)
    assert mask.diagonal().all() and (d2.diagonal() == 0).all() and (d2 >= 0).all()
    assert mask.sum() == X.shape[0] and (d2[~mask] > 0).all()
