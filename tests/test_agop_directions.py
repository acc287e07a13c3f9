"""Top AGOP eigenvectors: dense vs iterative agreement, sign convention, per-class stacks."""

import numpy as np
import pytest
import torch

from musicrfm.agop import RFMClassifier, directions


def planted_agop(d=60, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    spectrum = torch.cat([torch.tensor([9.0, 6.0, 4.0], dtype=torch.float64)[:k], 0.1 * torch.rand(d - k, generator=g)])
    return (Q * spectrum) @ Q.T, Q[:, :k].T, spectrum[:k]


def test_eigh_and_lobpcg_find_the_planted_directions():
    A, truth, vals = planted_agop()
    for method in ("eigh", "lobpcg"):
        found = directions(A, k=3, method=method)
        assert found.vectors.shape == (3, 60)
        torch.testing.assert_close(found.eigenvalues, vals, rtol=1e-6, atol=1e-8)
        overlap = (found.vectors @ truth.T).abs()
        torch.testing.assert_close(overlap, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-5)
        torch.testing.assert_close(found.vectors.norm(dim=1), torch.ones(3, dtype=torch.float64))


def test_signs_make_projections_correlate_positively_with_the_label():
    A, truth, _ = planted_agop()
    X = torch.randn(200, 60, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = X @ truth[0] - 0.5 * (X @ truth[1]) + 0.3 * (X @ truth[2])
    vecs = directions(A, k=3, X=X, y=y).vectors
    corr = [np.corrcoef((X @ v).numpy(), y.numpy())[0, 1] for v in vecs]
    assert all(c > 0.2 for c in corr)
    torch.testing.assert_close(directions(A, k=3, X=X, y=-y).vectors, -vecs)


def test_multiclass_stack_gives_class_specific_directions_from_one_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    y = np.argmax(X[:, [1, 4, 6]], axis=1)  # class c is driven by feature (1, 4, 6)[c]
    clf = RFMClassifier(bandwidth=6.0, iters=2).fit(X, y)
    found = directions(clf.agop(per_output=True), k=2, X=X, y=y)
    assert found.vectors.shape == (3, 2, 8) and found.eigenvalues.shape == (3, 2)
    for c, feature in enumerate((1, 4, 6)):
        top = found.vectors[c, 0]
        assert int(top.abs().argmax()) in (1, 4, 6)
        proj = X @ top.numpy()
        assert proj[y == c].mean() > proj[y != c].mean()
    assert {int(found.vectors[c, 0].abs().argmax()) for c in range(3)} == {1, 4, 6}


@pytest.mark.parametrize(
    "kwargs, match",
    [({"agop": np.ones((3, 4))}, "square"), ({"agop": np.full((2, 2), np.nan)}, "NaN"), ({"k": 0}, "k must"),
     ({"k": 5}, "k must"), ({"method": "svd"}, "method"), ({"X": np.ones((4, 3))}, "together"),
     ({"X": np.ones((4, 2)), "y": np.ones(4)}, "shape|features"), ({"X": np.ones((4, 3)), "y": np.ones(5)}, "lengths")],
)
def test_bad_input(kwargs, match):
    args = {"agop": np.eye(3), "k": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        directions(args.pop("agop"), **args)
