"""Kernel ridge solves: Cholesky first, an eigendecomposition fallback when K + reg I is ill-conditioned.

>>> K = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
>>> solve_kernel_system(K, torch.tensor([[3.0], [3.0]], dtype=torch.float64), reg=0.0).flatten().round(decimals=6).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import torch

__all__ = ["solve_kernel_system", "matrix_power"]


def solve_kernel_system(K: torch.Tensor, Y: torch.Tensor, reg: float) -> torch.Tensor:
    """Coefficients ``a`` with ``(K + reg I) a = Y`` (Y of shape (n, c)); K is left untouched.

    A failed Cholesky factorisation (a singular or indefinite system, e.g. ``reg=0`` with duplicate
    points, or float32 round-off) falls back to the minimum-norm solution from ``eigh``, which discards
    directions whose eigenvalue is at round-off level instead of amplifying them.
    """
    A = K.clone()
    A.diagonal().add_(reg)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        coef = torch.cholesky_solve(Y, L)
        if torch.isfinite(coef).all():
            return coef
    return _eigh_solve(A, Y)


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
