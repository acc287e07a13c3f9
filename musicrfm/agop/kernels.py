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

from musicrfm.checks import check_finite

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
    d2, keep = _distances(X, Z, M)
    return (d2, keep == 0) if with_mask else d2


def _distances(X: torch.Tensor, Z: torch.Tensor, M: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances with coincident pairs set to exactly 0, and ``keep``: 1.0 for distinct pairs, 0.0
    for coincident ones. Differentiable in X and Z (in-place steps touch only values autograd does not save).
    """
    XM = apply_metric(X, M)
    x2 = (XM * X).sum(-1)
    z2 = x2 if Z is X else (apply_metric(Z, M) * Z).sum(-1)
    norms = x2[:, None] + z2
    d2 = torch.addmm(norms, XM, Z.T, alpha=-2.0)
    # keep = [d2 > tol] by arithmetic on detached values: a comparison plus masked_fill costs ~10x more per
    # element on CPU. Negative round-off is below tol too, so no separate clamp at 0 is needed.
    neg_tol = norms.detach().mul(-SELF_RTOL * torch.finfo(X.dtype).eps).clamp_max_(-(SELF_EPS**2))
    keep = neg_tol.add_(d2.detach()).clamp_min_(0).sign_()
    # Exact zeros: the Laplace kernel's infinite slope at 0 would turn round-off of ~eps into ~sqrt(eps).
    return d2.mul_(keep), keep


def default_batch_size(n_x: int, width: int) -> int:
    """Evaluation points per block so that an (n_x, batch) or (batch, width) block stays bounded."""
    return max(1, BLOCK_ELEMENTS // max(n_x, width, 1))




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
        if check_finite(self.bandwidth, "bandwidth") <= 0:
            raise ValueError(f"bandwidth must be > 0, got {self.bandwidth}")
        if not 0 < check_finite(self.exponent, "exponent") <= 2:
            raise ValueError(f"exponent must be in (0, 2], got {self.exponent}")
        try:
            usable = 0 < self._scale < math.inf and math.isfinite(self.weight_scale)
        except OverflowError:  # float ** float raises where the power overflows
            usable = False
        if not usable:
            power = "2 * bandwidth ** 2" if self.name == "gaussian" else "bandwidth ** exponent"
            raise ValueError(f"bandwidth {self.bandwidth} makes {power} over- or underflow float64; "
                             "standardise the features and use a bandwidth near their scale")

    def from_sq_distances(self, d2: torch.Tensor) -> torch.Tensor:
        """Kernel values from squared distances (lets a search reuse one distance matrix)."""
        return self._from_powered(self._powered(d2))

    def _powered(self, d2: torch.Tensor) -> torch.Tensor:
        """``d^q`` from ``d^2`` (``d^2`` itself, not a copy, for the Gaussian kernel and q = 2)."""
        q = self.exponent
        if self.name == "gaussian" or q == 2:
            return d2
        if q == 1:
            return d2.sqrt()
        # exp(q/2 log d2) costs a third of pow on CPU; log's backward reads its input, not this buffer.
        return d2.log().mul_(q / 2).exp_()

    @property
    def _scale(self) -> float:
        """The divisor of ``d^q`` in the kernel's exponent."""
        return 2.0 * self.bandwidth**2 if self.name == "gaussian" else self.bandwidth**self.exponent

    def _from_powered(self, dq: torch.Tensor) -> torch.Tensor:
        return (dq / -self._scale).exp_()

    @property
    def weight_scale(self) -> float:
        """The constant c in the gradient weights ``w_ij = c K_ij R_ij`` (see :meth:`pair`)."""
        if self.name == "gaussian":
            return -1.0 / self.bandwidth**2
        return -self.exponent / self.bandwidth**self.exponent

    def matrix(self, X: torch.Tensor, Z: torch.Tensor, M: torch.Tensor | None = None) -> torch.Tensor:
        """Kernel matrix ``k(x_i, z_j)``, shape (n_x, n_z)."""
        M = _metric(M, X)
        return self.from_sq_distances(_distances(X, Z, M)[0])

    @torch.no_grad()
    def pair(
        self, X: torch.Tensor, Z: torch.Tensor, M: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel matrix K and gradient factors R from one distance computation, both (n_x, n_z).

        The gradient weights of the module docstring are ``w = weight_scale * K * R`` with
        ``R = d^(q-2)`` (1 for the Gaussian kernel) and 0 for coincident pairs. An RFM round solves with K,
        then reuses it for the AGOP (``K.mul_(R)`` as ``weights`` of :meth:`agop`). Not differentiable.

        >>> K, R = Kernel("laplace", 2.0).pair(torch.zeros(2, 1), torch.tensor([[0.0], [4.0]]))
        >>> K[0].tolist(), R[0].tolist()  # e^-2; the coincident pair has no gradient term
        ([1.0, 0.1353352814912796], [0.0, 0.25])
        """
        M = _metric(M, X)
        d2, keep = _distances(X, Z, M)
        dq = self._powered(d2)
        K = self._from_powered(dq)
        if dq is d2:
            return K, keep
        # d^q / d^2 reuses the power computed for K; coincident pairs have d^q = 0, hence R = 0.
        return K, dq.div_(d2.clamp_min_(SELF_EPS**2))

    def _weights(self, X: torch.Tensor, Z: torch.Tensor, M: torch.Tensor | None) -> torch.Tensor:
        """Gradient weights without the constant ``weight_scale``: ``K * R``, shape (n_x, n_z)."""
        K, R = self.pair(X, Z, M)
        return K.mul_(R)

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
        coef = _as_columns(coef, X) * self.weight_scale
        M = _metric(M, X)
        bs = batch_size or default_batch_size(X.shape[0], coef.shape[1] * X.shape[1])
        parts = [
            apply_metric(_raw_gradients(self._weights(X, Z[i : i + bs], M), X, Z[i : i + bs], coef), M)
            for i in range(0, Z.shape[0], bs)
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
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """AGOP of the predictor over the rows of Z: ``mean_j sum_c g_jc g_jc^T``.

        ``centered`` subtracts each output's mean gradient first; ``diag`` returns only the diagonal;
        ``per_output`` keeps one AGOP per output column (leading axis c) instead of summing them.
        ``weights``: ``K * R`` between X and Z from :meth:`pair`, if already at hand (else computed per
        batch). Shapes: (d, d), (d,), (c, d, d) or (c, d).
        """
        coef = _as_columns(coef, X) * self.weight_scale
        M = _metric(M, X)
        n_z, (c, d) = Z.shape[0], (coef.shape[1], X.shape[1])
        if n_z == 0:
            raise ValueError("Z must contain at least one point to average gradients over")
        if weights is not None:
            if weights.shape != (X.shape[0], n_z):
                raise ValueError(f"weights must have shape {(X.shape[0], n_z)}, got {tuple(weights.shape)}")
            weights = weights.to(dtype=X.dtype, device=X.device)
        # For a full AGOP with full M, M (sum g g^T) M is applied once at the end instead of per batch.
        late_metric = not diag and M is not None and M.dim() == 2
        bs = batch_size or default_batch_size(X.shape[0], c * d)
        acc, grad_sum = None, X.new_zeros(c, d) if centered else None
        for i in range(0, n_z, bs):
            Zb = Z[i : i + bs]
            W = self._weights(X, Zb, M) if weights is None else weights[:, i : i + bs]
            g = _raw_gradients(W, X, Zb, coef)
            g = g if late_metric else apply_metric(g, M)
            if centered:
                grad_sum += g.sum(0)
            part = _outer_sums(g, diag, per_output)
            acc = part if acc is None else acc.add_(part)
        out = _finish_agop(acc, grad_sum, n_z, diag, per_output)
        return M @ out @ M if late_metric else out


def _raw_gradients(W: torch.Tensor, X: torch.Tensor, Z: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    """Gradients before the final multiplication by M: ``sum_i a_ic W_ij (z_j - x_i)``, (n_z, c, d)."""
    (n, c), d = coef.shape, X.shape[1]
    out = Z[:, None, :] * (W.T @ coef)[:, :, None]
    # sum_i w_ij a_ic x_i for several outputs at once is one GEMM against rows a_i (x) x_i; outputs are
    # taken in chunks so that the (n, chunk * d) operand stays bounded.
    step = max(1, BLOCK_ELEMENTS // (n * d))
    for c0 in range(0, c, step):
        block = (coef[:, c0 : c0 + step, None] * X[:, None, :]).reshape(n, -1)
        out[:, c0 : c0 + step].sub_((W.T @ block).reshape(Z.shape[0], -1, d))
    return out


def _outer_sums(g: torch.Tensor, diag: bool, per_output: bool) -> torch.Tensor:
    """``sum_j g_jc g_jc^T`` of gradients (n, c, d): per output (c, d, d) or summed over outputs (d, d)
    (one GEMM), or their diagonals."""
    if diag:
        sq = g.square()
        return sq.sum(0) if per_output else sq.sum((0, 1))
    if per_output:
        return torch.einsum("ncd,nce->cde", g, g)
    flat = g.reshape(-1, g.shape[-1])
    return flat.T @ flat


def _finish_agop(
    acc: torch.Tensor, grad_sum: torch.Tensor | None, n: int, diag: bool, per_output: bool
) -> torch.Tensor:
    """Turn sums of g g^T into the mean; with the sums of g per output (centring), E[gg^T] - E[g]E[g]^T."""
    acc = acc / n
    if grad_sum is not None:
        mean = grad_sum / n
        if per_output:
            acc = acc - (mean.square() if diag else mean[:, :, None] * mean[:, None, :])
        else:
            acc = acc - (mean.square().sum(0) if diag else mean.T @ mean)
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
