"""Concept directions: top eigenvectors of an AGOP, signed so that projections correlate with the label.

One AGOP (d, d) gives k directions; a stack (c, d, d) (e.g. ``model.agop(per_output=True)`` of a
multiclass RFM, one AGOP per one-vs-rest output from a single multi-output predictor) gives k directions
per class in one call. Dense ``eigh`` for moderate d; LOBPCG beyond (only the top k are needed).

>>> import torch
>>> A = torch.diag(torch.tensor([1.0, 5.0, 2.0], dtype=torch.float64))
>>> directions(A, k=1).vectors.abs().tolist()
[[0.0, 1.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from musicrfm.checks import is_int

from .validation import as_array, as_features, as_targets, check_lengths

__all__ = ["Eigendirections", "directions"]

# Above this dimension the default method is LOBPCG.
DENSE_MAX_DIM = 1024
LOBPCG_MAX_ITER = 200
# Largest accepted eigen-residual ||A v - lambda v||, relative to the top eigenvalue.
LOBPCG_RTOL = 1e-6


@dataclass(frozen=True)
class Eigendirections:
    """Unit-norm directions (..., k, d) sorted by eigenvalue, and those eigenvalues (..., k)."""

    vectors: torch.Tensor
    eigenvalues: torch.Tensor


def directions(
    agop: object,
    k: int = 1,
    *,
    X: object = None,
    y: object = None,
    method: str = "auto",
    random_state: int | None = 0,
) -> Eigendirections:
    """Top-k eigenvectors of an AGOP (d, d) or of each AGOP in a stack (c, d, d).

    With X (n, d) and y, each direction's sign is chosen so that ``X @ v`` correlates positively with the
    label: y (n,) numeric for one AGOP; for a stack, y holds class indices 0..c-1 (or an (n, c) score
    matrix) and direction j of class c is signed against the indicator ``y == c``. ``method`` is
    "auto", "eigh" or "lobpcg"; ``random_state`` seeds LOBPCG's start.
    """
    A = _agop_tensor(agop)
    d = A.shape[-1]
    if not is_int(k) or not 1 <= k <= d:
        raise ValueError(f"k must be an integer in [1, {d}], got {k!r}")
    if method not in ("auto", "eigh", "lobpcg"):
        raise ValueError(f"method must be 'auto', 'eigh' or 'lobpcg', got {method!r}")
    stack = A if A.dim() == 3 else A[None]
    use_lobpcg = method == "lobpcg" or (method == "auto" and d > DENSE_MAX_DIM and 3 * k < d)
    found = [_top_lobpcg(a, k, random_state) if use_lobpcg else _top_eigh(a, k) for a in stack]
    vals = torch.stack([v for v, _ in found])
    vecs = torch.stack([u for _, u in found]).transpose(1, 2)  # (c, k, d)
    if (X is None) != (y is None):
        raise ValueError("X and y must be given together to fix the signs")
    if X is not None:
        vecs = vecs * _signs(vecs, X, y, stack.shape[0])[:, :, None]
    return Eigendirections(vecs if A.dim() == 3 else vecs[0], vals if A.dim() == 3 else vals[0])


def _agop_tensor(agop: object) -> torch.Tensor:
    A = as_array(agop, "agop")
    A = torch.as_tensor(A) if isinstance(A, np.ndarray) else A
    A = A if A.is_floating_point() else A.double()
    if A.dim() not in (2, 3) or A.shape[-1] != A.shape[-2] or A.shape[-1] == 0:
        raise ValueError(f"agop must be a square (d, d) matrix or a (c, d, d) stack, got shape {tuple(A.shape)}")
    if not torch.isfinite(A).all():
        raise ValueError("agop contains NaN or infinite values")
    return (A + A.transpose(-1, -2)) / 2


def _top_eigh(A: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    vals, vecs = torch.linalg.eigh(A)
    return vals.flip(0)[:k], vecs.flip(1)[:, :k]


def _top_lobpcg(A: torch.Tensor, k: int, seed: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator(device="cpu")
    if seed is not None:
        g.manual_seed(seed)
    start = torch.randn(A.shape[0], k, generator=g, dtype=A.dtype).to(A.device)
    try:
        vals, vecs = torch.lobpcg(A, k=k, X=start, largest=True, niter=LOBPCG_MAX_ITER)
    except (RuntimeError, torch.linalg.LinAlgError):  # e.g. a rank-deficient block
        return _top_eigh(A, k)
    order = torch.argsort(vals, descending=True)
    vals, vecs = vals[order], torch.nn.functional.normalize(vecs[:, order], dim=0)
    # LOBPCG stops silently at niter; when the top eigenvalues are not separated from the rest it may not
    # have converged, so the answer is checked and the dense solver takes over if needed.
    residual = (A @ vecs - vecs * vals).norm(dim=0).max()
    if not torch.isfinite(residual) or residual > LOBPCG_RTOL * vals.abs().max():
        return _top_eigh(A, k)
    return vals, vecs


def _signs(vecs: torch.Tensor, X: object, y: object, c: int) -> torch.Tensor:
    """+1/-1 per (class, direction) so that cov(X v, target) >= 0."""
    Xt = as_features(X, "X", vecs.dtype, vecs.device, n_features=vecs.shape[-1])
    check_lengths(Xt, y, "X and y")
    T = _targets(as_targets(y, "y", vecs.dtype, vecs.device), c)
    proj = torch.einsum("nd,ckd->nck", Xt - Xt.mean(0), vecs)
    cov = torch.einsum("nck,nc->ck", proj, T - T.mean(0))
    return torch.where(cov < 0, -1.0, 1.0).to(vecs.dtype)


def _targets(Y: torch.Tensor, c: int) -> torch.Tensor:
    """(n, c) targets: given as such, or class indices expanded to one-vs-rest indicators."""
    if Y.shape[1] == c:
        return Y
    if Y.shape[1] != 1:
        raise ValueError(f"y must be (n,) or (n, {c}), got {Y.shape[1]} columns")
    labels = Y[:, 0].long()
    if not torch.equal(labels.to(Y.dtype), Y[:, 0]) or labels.min() < 0 or labels.max() >= c:
        raise ValueError(f"y must hold class indices 0..{c - 1} to sign {c} stacked AGOPs")
    return torch.nn.functional.one_hot(labels, c).to(Y.dtype)
