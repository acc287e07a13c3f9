"""Kernel ridge solves: Cholesky first, in float64 when a lower precision fails, and an eigendecomposition
fallback when K + reg I is singular or indefinite even then.

>>> K = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
>>> solve_kernel_system(K, torch.tensor([[3.0], [3.0]], dtype=torch.float64), reg=0.0).flatten().round(decimals=6).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import torch

from .finite import NonFiniteError
from .validation import all_finite

__all__ = ["cholesky_solve", "solve_kernel_system", "matrix_power"]


def solve_kernel_system(K: torch.Tensor, Y: torch.Tensor, reg: float) -> torch.Tensor:
    """Coefficients ``a`` with ``(K + reg I) a = Y`` (Y of shape (n, c)), in K's dtype; K is left untouched.

    A small ridge on a wide kernel defeats a float32 Cholesky factorisation through round-off alone; it is
    then redone in float64 (about 1.5 times a float32 factorisation, a tenth of an eigendecomposition).
    When that fails too (a singular or indefinite system, e.g. ``reg=0`` with duplicate points), the
    minimum-norm solution from ``eigh`` in K's dtype discards directions whose eigenvalue is at round-off
    level instead of amplifying them. A non-finite K (e.g. from overflowing distances) fails both
    factorisations and raises :class:`~musicrfm.agop.finite.NonFiniteError` instead of reaching ``eigh``.
    """
    coef = cholesky_solve(K, Y, reg)
    if coef is None and K.dtype != torch.float64:
        coef = cholesky_solve(K.double(), Y.double(), reg)
    if coef is not None:
        return coef.to(K.dtype)
    A = K.clone()
    A.diagonal().add_(reg)
    if not all_finite(A):  # checked only here: Cholesky already failed, and eigh would raise LinAlgError
        raise NonFiniteError("kernel matrix")
    return _eigh_solve(A, Y)


def cholesky_solve(K: torch.Tensor, Y: torch.Tensor, reg: float) -> torch.Tensor | None:
    """The Cholesky solution of ``(K + reg I) a = Y`` in K's dtype, or None when the factorisation fails or
    the solution is not finite."""
    A = K.clone()
    A.diagonal().add_(reg)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        return None
    coef = torch.cholesky_solve(Y, L)
    return coef if all_finite(coef) else None


def _eigh_solve(A: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(A)
    # The usual pseudo-inverse cutoff: eigenvalues within round-off of zero carry no information.
    cutoff = evals.abs().max() * A.shape[0] * torch.finfo(A.dtype).eps
    inv = torch.where(evals > cutoff, 1.0 / evals.clamp(min=cutoff), torch.zeros_like(evals))
    return evecs @ (inv[:, None] * (evecs.T @ Y))


def matrix_power(M: torch.Tensor, power: float) -> torch.Tensor:
    """``M ** power`` for a PSD matrix (via eigh, negative round-off eigenvalues clipped) or a vector.

    >>> matrix_power(torch.tensor([4.0, 9.0]), 0.5).tolist()
    [2.0, 3.0]
    """
    if power == 1:
        return M.clone()
    if M.dim() == 1:
        return M.clamp(min=0).pow(power)
    evals, evecs = torch.linalg.eigh((M + M.T) / 2)
    return (evecs * evals.clamp(min=0).pow(power)) @ evecs.T
