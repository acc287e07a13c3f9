"""Mahalanobis kernels with closed-form predictor gradients and AGOPs.

Kernels (``L`` the bandwidth, ``||v||_M = sqrt(v^T M v)``):

* ``laplace``:  ``k(x, z) = exp(-||x - z||_M^q / L^q)`` with exponent ``q`` in (0, 2] (RFM's default);
* ``gaussian``: ``k(x, z) = exp(-||x - z||_M^2 / (2 L^2))`` (the convention of the original RFM code;
  ``exponent`` is ignored).

**The M convention.** ``M`` is always the *metric itself*, never its square root: a full PSD matrix of
shape (d, d), a vector of shape (d,) meaning ``diag(M)``, or ``None`` for the identity. An RFM sets
``M = (AGOP / max(AGOP)) ** agop_power`` (the matrix power for full M, elementwise for diagonal M). With
``agop_power=1`` this is exactly xrfm's effective metric for both its ``l2`` kernel (which multiplies the
data by ``sqrt(M)``) and its ``l2_high_dim`` kernel (which uses ``M`` directly).

The gradient of the kernel predictor ``f(z) = sum_i a_i k(x_i, z)`` (``a`` of shape (n, c)) is

    grad f_c(z) = sum_i a_ic w(d_i) M (z - x_i),   d_i = ||z - x_i||_M,

with ``w(d) = -(q / L^q) k d^(q-2)`` (Laplace) or ``w = -k / L^2`` (Gaussian). Terms whose distance is
numerically zero (the self-term at a training point) are set to zero: the Laplace kernel is not
differentiable there and keeping ``d^(q-2)`` would blow up.

>>> import torch
>>> X = torch.randn(50, 4, dtype=torch.float64)
>>> a = torch.randn(50, 1, dtype=torch.float64)
>>> kern = Kernel("laplace", bandwidth=2.0, exponent=1.0)
>>> kern.matrix(X, X).shape, kern.gradients(X, X[:5], a).shape, kern.agop(X, X, a).shape
(torch.Size([50, 50]), torch.Size([5, 1, 4]), torch.Size([4, 4]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["KERNELS", "Kernel", "apply_metric", "sq_distances", "default_batch_size"]

KERNELS = ("laplace", "gaussian")

# Below this squared distance (absolute) a pair counts as coincident.
SELF_EPS = 1e-10
# Squared distances come from ||x||^2 + ||z||^2 - 2 x.z, whose rounding error scales with the norms, so
# coincidence is also declared relative to them; distinct points that close are indistinguishable anyway.
SELF_RTOL = 64.0
# Elements per working block (kernel weights or gradients) when batching over evaluation points.
BLOCK_ELEMENTS = 1 << 24


def apply_metric(V: torch.Tensor, M: torch.Tensor | None) -> torch.Tensor:
    """Return ``V @ M`` for rows of ``V`` (M full, diagonal vector, or None for the identity).

    >>> apply_metric(torch.ones(2, 3), torch.tensor([1.0, 2.0, 3.0])).tolist()
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    """
    if M is None:
        return V
    return V * M if M.dim() == 1 else V @ M


def sq_distances(
    X: torch.Tensor, Z: torch.Tensor, M: torch.Tensor | None = None, *, with_mask: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Squared Mahalanobis distances ``||x_i - z_j||_M^2``, shape (n_x, n_z).

    Coincident pairs (distance at round-off level, see the module docstring) get exactly 0;
    ``with_mask`` also returns their boolean mask.

    >>> sq_distances(torch.zeros(1, 2), torch.ones(3, 2)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    XM = apply_metric(X, M)
    ZM = apply_metric(Z, M)
    x2 = (XM * X).sum(-1)
    z2 = (ZM * Z).sum(-1)
    norms = x2[:, None] + z2[None, :]
    d2 = torch.addmm(norms, XM, Z.T, alpha=-2.0).clamp(min=0)
    coincident = d2 <= (SELF_RTOL * torch.finfo(X.dtype).eps * norms).clamp(min=SELF_EPS**2)
    # Exact zeros: the Laplace kernel's infinite slope at 0 would turn round-off of ~eps into ~sqrt(eps).
    # (Out-of-place ops keep this usable under torch.func transforms.)
    d2 = d2.masked_fill(coincident, 0.0)
    return (d2, coincident) if with_mask else d2


def default_batch_size(n_x: int, width: int) -> int:
    """Evaluation points per block so that an (n_x, batch) or (batch, width) block stays bounded."""
    return max(1, BLOCK_ELEMENTS // max(n_x, width, 1))


def _check_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


@dataclass(frozen=True)
class Kernel:
    """A radial kernel under a Mahalanobis metric (see the module docstring for formulas and M).

    >>> Kernel("gaussian", bandwidth=1.0).matrix(torch.zeros(1, 1), torch.ones(1, 1)).item()  # e^-0.5
    0.6065306663513184
    """

    name: str = "laplace"
    bandwidth: float = 10.0
    exponent: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.name!r}")
        if _check_float("bandwidth", self.bandwidth) <= 0:
            raise ValueError(f"bandwidth must be > 0, got {self.bandwidth}")
        if not 0 < _check_float("exponent", self.exponent) <= 2:
            raise ValueError(f"exponent must be in (0, 2], got {self.exponent}")

    def from_sq_distances(self, d2: torch.Tensor) -> torch.Tensor:
        """Kernel values from squared distances (lets a search reuse one distance matrix)."""
        if self.name == "gaussian":
            return torch.exp(d2 / (-2.0 * self.bandwidth**2))
        q = self.exponent
        scaled = d2 / self.bandwidth**2
        return torch.exp(-(scaled if q == 2 else scaled.pow(q / 2)))

    def matrix(self, X: torch.Tensor, Z: torch.Tensor, M: torch.Tensor | None = None) -> torch.Tensor:
        """Kernel matrix ``k(x_i, z_j)``, shape (n_x, n_z)."""
        M = _metric(M, X)
        return self.from_sq_distances(sq_distances(X, Z, M))

    def _weights(self, X: torch.Tensor, Z: torch.Tensor, M: torch.Tensor | None) -> torch.Tensor:
        """``w(d_ij)`` of the gradient formula, coincident pairs zeroed, shape (n_x, n_z)."""
        d2, coincident = sq_distances(X, Z, M, with_mask=True)
        k = self.from_sq_distances(d2)
        if self.name == "gaussian":
            w = k / (-(self.bandwidth**2))
        else:
            q = self.exponent
            w = k * d2.clamp(min=SELF_EPS**2).pow((q - 2) / 2) * (-q / self.bandwidth**q)
        return w.masked_fill_(coincident, 0.0)

    def _raw_gradients(
        self, X: torch.Tensor, Z: torch.Tensor, coef: torch.Tensor, M: torch.Tensor | None
    ) -> torch.Tensor:
        """Gradients before the final multiplication by M: ``sum_i a_ic w_ij (z_j - x_i)``, (n_z, c, d)."""
        W = self._weights(X, Z, M)
        (n, c), d = coef.shape, X.shape[1]
        out = Z[:, None, :] * (W.T @ coef)[:, :, None]
        # sum_i w_ij a_ic x_i for several outputs at once is one GEMM against rows a_i (x) x_i; outputs are
        # taken in chunks so that the (n, chunk * d) operand stays bounded.
        step = max(1, BLOCK_ELEMENTS // (n * d))
        for c0 in range(0, c, step):
            block = (coef[:, c0 : c0 + step, None] * X[:, None, :]).reshape(n, -1)
            out[:, c0 : c0 + step, :] -= (W.T @ block).reshape(Z.shape[0], -1, d)
        return out

    def gradients(
        self,
        X: torch.Tensor,
        Z: torch.Tensor,
        coef: torch.Tensor,
        M: torch.Tensor | None = None,
        *,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """Gradients of ``f(z) = k(z, X) @ coef`` at each row of Z, shape (n_z, c, d).

        ``coef`` may be (n_x,) (treated as one output) or (n_x, c).
        """
        coef = _as_columns(coef, X)
        M = _metric(M, X)
        bs = batch_size or default_batch_size(X.shape[0], coef.shape[1] * X.shape[1])
        parts = [
            apply_metric(self._raw_gradients(X, Z[i : i + bs], coef, M), M) for i in range(0, Z.shape[0], bs)
        ]
        return torch.cat(parts) if parts else Z.new_zeros(0, coef.shape[1], X.shape[1])

    def agop(
        self,
        X: torch.Tensor,
        Z: torch.Tensor,
        coef: torch.Tensor,
        M: torch.Tensor | None = None,
        *,
        centered: bool = False,
        diag: bool = False,
        per_output: bool = False,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """AGOP of the predictor over the rows of Z: ``mean_j sum_c g_jc g_jc^T``.

        ``centered`` subtracts each output's mean gradient first; ``diag`` returns only the diagonal;
        ``per_output`` keeps one AGOP per output column (leading axis c) instead of summing them.
        Shapes: (d, d), (d,), (c, d, d) or (c, d).
        """
        coef = _as_columns(coef, X)
        M = _metric(M, X)
        n_z, (c, d) = Z.shape[0], (coef.shape[1], X.shape[1])
        if n_z == 0:
            raise ValueError("Z must contain at least one point to average gradients over")
        # For a full AGOP with full M, M (sum g g^T) M is applied once at the end instead of per batch.
        late_metric = not diag and M is not None and M.dim() == 2
        bs = batch_size or default_batch_size(X.shape[0], c * d)
        acc = X.new_zeros((c, d) if diag else (c, d, d))
        grad_sum = X.new_zeros(c, d)
        for i in range(0, n_z, bs):
            g = self._raw_gradients(X, Z[i : i + bs], coef, M)
            g = g if late_metric else apply_metric(g, M)
            grad_sum += g.sum(0)
            acc += g.square().sum(0) if diag else torch.einsum("ncd,nce->cde", g, g)
        out = _finish_agop(acc, grad_sum, n_z, centered, diag)
        if late_metric:
            out = M @ out @ M
        return out if per_output else out.sum(0)


def _finish_agop(acc: torch.Tensor, grad_sum: torch.Tensor, n: int, centered: bool, diag: bool) -> torch.Tensor:
    """Turn sums of g g^T (and of g) into the mean, optionally centred: E[gg^T] - E[g]E[g]^T."""
    acc = acc / n
    if centered:
        mean = grad_sum / n
        acc = acc - (mean.square() if diag else mean[:, :, None] * mean[:, None, :])
    return acc


def _as_columns(coef: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    coef = coef[:, None] if coef.dim() == 1 else coef
    if coef.dim() != 2 or coef.shape[0] != X.shape[0]:
        raise ValueError(f"coef must have shape ({X.shape[0]},) or ({X.shape[0]}, c), got {tuple(coef.shape)}")
    return coef.to(dtype=X.dtype, device=X.device)


def _metric(M: torch.Tensor | None, X: torch.Tensor) -> torch.Tensor | None:
    """Validate M's shape against X and move it to X's dtype and device."""
    if M is None:
        return None
    d = X.shape[-1]
    if M.shape not in ((d,), (d, d)):
        raise ValueError(f"M must have shape ({d},) or ({d}, {d}) or be None, got {tuple(M.shape)}")
    return M.to(dtype=X.dtype, device=X.device)
