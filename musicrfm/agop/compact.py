"""A fitted RFM's predictor in compact, storable form: the kernel machine `k(., X) @ coef` under metric M.

An RFM's metric after feature learning is usually of low rank, so `M = F^T F` with a short factor F
(r x d). Distances under M are then Euclidean distances between `F x` and `F z`, so the predictor needs
only the projected training points `P = X F^T` (n x r), the factor and the coefficients: for d = 1024 and
r ~ 100 that is a tenth of X alone, and evaluating it costs O(r d + n r) per point. An identity metric
(the plain kernel machine, round 0) keeps `P = X` and no factor. The factor comes from an eigendecomposition
of M that drops eigenvalues below `rtol` times the largest, numerically nothing for a low-rank metric.

>>> import numpy as np, torch
>>> from musicrfm.agop import RFMClassifier
>>> X = np.random.default_rng(0).normal(size=(120, 6)); y = (X[:, 2] > 0).astype(int)
>>> clf = RFMClassifier(bandwidth=5.0, iters=2).fit(X, y)
>>> compact = KernelPredictor.from_estimator(clf)
>>> Z = torch.as_tensor(X[:5], dtype=torch.float32)
>>> bool(torch.allclose(compact(Z)[:, 0], torch.as_tensor(clf.decision_function(X[:5]) + 0.5).float(), atol=1e-5))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .kernels import Kernel

__all__ = ["KernelPredictor"]

DEFAULT_RTOL = 1e-6


@dataclass(frozen=True, eq=False)
class KernelPredictor:
    """`f(z) = k(F z, P) @ coef`: `points` P (n, r), `coef` (n, c), `factor` F (r, d) or None (identity)."""

    points: torch.Tensor
    coef: torch.Tensor
    factor: torch.Tensor | None
    kernel: Kernel

    def __post_init__(self) -> None:
        n, r = self.points.shape
        if self.coef.ndim != 2 or self.coef.shape[0] != n:
            raise ValueError(f"coef must be shaped ({n}, outputs), got {tuple(self.coef.shape)}")
        if self.factor is not None and (self.factor.ndim != 2 or self.factor.shape[0] != r):
            raise ValueError(f"factor must be shaped ({r}, d), got {tuple(self.factor.shape)}")

    @property
    def width(self) -> int:
        """Input features d."""
        return self.points.shape[1] if self.factor is None else self.factor.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.coef.shape[1]

    @classmethod
    @torch.no_grad()
    def from_estimator(cls, estimator, rtol: float = DEFAULT_RTOL) -> KernelPredictor:
        """The compact predictor of a fitted RFMClassifier / RFMRegressor, in float32."""
        X, M = estimator.X_fit_.double(), estimator.M_.double()
        if M.ndim == 1:
            M = torch.diag(M)
        if torch.equal(M, torch.eye(M.shape[0], dtype=M.dtype, device=M.device)):
            factor = None
        else:
            values, vectors = torch.linalg.eigh((M + M.T) / 2)
            keep = values > rtol * values.max().clamp(min=torch.finfo(values.dtype).tiny)
            factor = (vectors[:, keep] * values[keep].sqrt()).T  # rows: sqrt(lambda) v, so F^T F = M
        points = X if factor is None else X @ factor.T
        kernel = estimator.kernel_
        return cls(points.float().cpu(), estimator.coef_.float().cpu(),
                   None if factor is None else factor.float().cpu(), Kernel(kernel.name, kernel.bandwidth, kernel.exponent))

    def to(self, device: torch.device | str) -> KernelPredictor:
        """A copy on `device`."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return type(self)(move(self.points), move(self.coef), move(self.factor), self.kernel)

    def __call__(self, Z: torch.Tensor) -> torch.Tensor:
        """Raw outputs (m, c) at the rows of Z (m, d)."""
        projected = Z if self.factor is None else Z @ self.factor.T
        return self.kernel.matrix(projected, self.points) @ self.coef
