"""The AGOP of any differentiable torch function, by per-sample Jacobians (torch.func.jacrev + vmap).

``fn`` maps a batch ``(n, d)`` to ``(n,)`` or ``(n, c)`` and treats rows independently (a network in eval
mode, a kernel predictor, a closed-form function). The AGOP is ``mean_i J_i^T J_i`` with ``J_i`` the
(c, d) Jacobian at sample i; ``centered`` uses ``J_i - mean J`` instead.

>>> import torch
>>> W = torch.tensor([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])
>>> agop(lambda Z: Z @ W.T, torch.randn(5, 2))  # a linear map's AGOP is W^T W at every point
tensor([[10.,  2.],
        [ 2.,  5.]])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jacrev, vmap

from musicrfm.checks import is_int

from .kernels import BLOCK_ELEMENTS
from .validation import as_features, resolve_dtype

__all__ = ["agop", "jacobians"]


def jacobians(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """Per-sample Jacobians of ``fn`` at the rows of X, shape (n, c, d) (c = 1 for scalar outputs)."""

    def one(x: torch.Tensor) -> torch.Tensor:
        return fn(x[None]).reshape(-1)

    return vmap(jacrev(one))(X)


def agop(
    fn: Callable[[torch.Tensor], torch.Tensor],
    X: object,
    *,
    centered: bool = False,
    diag: bool = False,
    batch_size: int | None = None,
) -> torch.Tensor:
    """AGOP of ``fn`` over the rows of X: (d, d), or its diagonal (d,) with ``diag``.

    Jacobians are formed ``batch_size`` samples at a time (default: about 16M Jacobian entries per
    batch), so memory stays bounded whatever the number of samples. A floating tensor X keeps its dtype
    and device; an array is read on the CPU in float64 if it is float64, else float32.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(X, torch.Tensor) and X.is_floating_point():
        Xt = as_features(X, "X", X.dtype, X.device)
    else:
        Xt = as_features(X, "X", resolve_dtype("auto", X), torch.device("cpu"))
    n, d = Xt.shape
    if batch_size is not None and (not is_int(batch_size) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    total, grad_sum = None, None
    step = batch_size or max(1, BLOCK_ELEMENTS // (d * _n_outputs(fn, Xt[:1])))
    for i in range(0, n, step):
        J = jacobians(fn, Xt[i : i + step]).detach()
        part = J.square().sum((0, 1)) if diag else torch.einsum("ncd,nce->de", J, J)
        total = part if total is None else total + part
        grad_sum = J.sum(0) if grad_sum is None else grad_sum + J.sum(0)
    total = total / n
    if centered:
        mean = grad_sum / n
        total = total - (mean.square().sum(0) if diag else mean.T @ mean)
    return total


def _n_outputs(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
    with torch.no_grad():
        return max(1, fn(x).numel())
