"""The numerical engine behind :class:`musicrfm.agop.search.RFMSearch`: RFM rounds with M kept as a factor.

An RFM metric is ``M = AGOP / max(AGOP)`` (xrfm's ``l2_high_dim`` convention, ``agop_power=1``). Every
gradient of the kernel predictor is ``M (z - x_i)`` summed over centres, so with ``M = F^T F`` the new
AGOP is ``F^T (Gamma^T Gamma) F`` where ``Gamma`` (rows: points x outputs, columns: r) holds the
predictor's gradients in the coordinates ``Z = X F^T``. For wide data nothing d x d is formed:

* round 0 (M = I) shares one distance matrix between all configurations;
* the first AGOP is kept as the exact row factor ``F = Gamma`` (n x d);
* later factors are compressed to their eigen-directions, dropping those below ``rtol`` times the largest
  eigenvalue. AGOP spectra collapse within two or three rounds, so r drops to a few dozen and a round
  costs little more than its n x n ridge solve;
* with few features (d <= ``MAX_SKETCH_RANK``) or many outputs the exact d x d eigen-factor is used.

Compression moves squared distances by at most ``rtol * max_eig * ||x - z||^2`` (tests check the scores
against plain fits). The one deliberate approximation is opt-in: ``sketch_rank`` cuts round 0's AGOP
to its top directions (see :func:`next_factor`).

Overflow (see :mod:`musicrfm.agop.finite`) is checked with one reduction per quantity: the shared
distances once, then each round's validation predictions and gradients. A round after the first that
overflows ends its run with the best round so far, as vanishing gradients do; round 0 raises.

>>> import torch
>>> X = torch.randn(60, 8, dtype=torch.float64); Y = (X[:, :1] > 0).double()
>>> data = SearchData.build(X, Y, X[:20], Y[:20])
>>> run = Trajectory.start(data, reg=1e-2, bandwidth=3.0, exponent=1.0, center_grads=False)
>>> run.advance(data, lambda y, p: -float((p - y).square().mean()), rounds=3, early_stop_multiplier=1e9).rounds
3
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .finite import NonFiniteError, require_finite
from .kernels import Kernel, sq_distances
from .solve import cholesky_solve, solve_kernel_system

__all__ = ["KernelRound", "SearchData", "Trajectory", "compress_factor", "gradient_rows", "next_factor", "ridge_solve",
           "truncate_factor"]

# Relative eigenvalue cutoff when a metric factor is compressed.
DEFAULT_RTOL = 1e-6
# Ranks tried by the randomised compression before the exact row factor is kept instead.
SKETCH_RANKS = (48, 192)
MAX_SKETCH_RANK = SKETCH_RANKS[-1]
# Extra random directions beyond the rank being tested, and subspace (power) iterations per try.
OVERSAMPLE, POWER_ITERS = 16, 1


@dataclass(frozen=True, eq=False)
class SearchData:
    """Training and validation data, centred by the training mean (kernel distances do not see it).

    ``log_d2``/``near``/``log_d2_val`` are the round-0 (identity metric) log squared distances and
    coincidence mask, shared by all configurations.
    """

    X: torch.Tensor
    Y: torch.Tensor
    X_val: torch.Tensor
    Y_val: torch.Tensor
    log_d2: torch.Tensor
    near: torch.Tensor
    log_d2_val: torch.Tensor

    @classmethod
    def build(cls, X: torch.Tensor, Y: torch.Tensor, X_val: torch.Tensor, Y_val: torch.Tensor) -> "SearchData":
        """Centre both sets by the training mean and precompute the identity-metric distances (raises
        NonFiniteError when they overflow: no configuration could use them)."""
        mean = X.mean(0, keepdim=True)
        Xc, Xv = X - mean, X_val - mean
        d2, near = sq_distances(Xc, Xc, with_mask=True)
        d2_val = sq_distances(Xv, Xc)
        for t in (d2, d2_val):
            require_finite(t, "squared distances")
        return cls(Xc, Y, Xv, Y_val, log_sq(d2), near, log_sq(d2_val))


@dataclass(frozen=True, eq=False)
class KernelRound:
    """One round's training coordinates ``Z = X F^T``, log squared distances, coincidence mask and kernel."""

    Z: torch.Tensor
    log_d2: torch.Tensor
    near: torch.Tensor
    K: torch.Tensor

    @classmethod
    def build(cls, data: SearchData, kernel: Kernel, F: torch.Tensor | None) -> "KernelRound":
        if F is None:
            return cls(data.X, data.log_d2, data.near, laplace_values(kernel, data.log_d2))
        Z = data.X @ F.T
        d2, near = sq_distances(Z, Z, with_mask=True)
        log_d2 = log_sq(d2)
        return cls(Z, log_d2, near, laplace_values(kernel, log_d2))


@dataclass
class Trajectory:
    """One configuration's RFM run, resumable round by round.

    ``F`` is None for the identity metric, else the factor with ``M = F^T F`` (rows x d). ``scores``
    holds the validation score of every round run (higher is better), ``ranks`` the factor's rows per
    round (0 for the identity), ``best`` the best round, kept with its coefficients and factor.
    """

    kernel: Kernel
    reg: float
    center_grads: bool
    F: torch.Tensor | None = None
    scores: list[float] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    best: int = -1
    best_coef: torch.Tensor | None = None
    best_F: torch.Tensor | None = None
    coef: torch.Tensor | None = None
    stopped: bool = False

    @classmethod
    def start(cls, data: SearchData, *, reg: float, bandwidth: float, exponent: float, center_grads: bool) -> "Trajectory":
        """A fresh run at round 0 (nothing computed yet)."""
        return cls(Kernel("laplace", bandwidth, exponent), float(reg), bool(center_grads))

    @property
    def rounds(self) -> int:
        """Rounds (solves) run so far."""
        return len(self.scores)

    @property
    def best_score(self) -> float:
        return self.scores[self.best] if self.scores else float("-inf")

    def advance(
        self,
        data: SearchData,
        score: Callable[[torch.Tensor, torch.Tensor], float],
        *,
        rounds: int,
        early_stop_multiplier: float = 1.1,
        rtol: float = DEFAULT_RTOL,
        sketch_rank: int | None = None,
    ) -> "Trajectory":
        """Run rounds until ``rounds`` have been run or early stopping fires (``sketch_rank``: see
        :func:`next_factor`).

        ``score(Y_val, predictions)`` must be higher-is-better. Early stopping follows xrfm: stop once a
        round scores below ``best / multiplier`` (above ``best * multiplier`` for negative scores). A later
        round that overflows stops the run unrecorded; round 0's NonFiniteError propagates.
        """
        # Kernel quantities of the last solved round feed the next AGOP; they are rebuilt after a pause
        # rather than kept, so that paused runs hold no n x n buffers.
        last = None
        while self.rounds < rounds and not self.stopped:
            try:
                F = self.F
                if self.coef is not None:
                    last = last or KernelRound.build(data, self.kernel, self.F)
                    F = next_factor(self.kernel, last, self.F, self.coef, self.center_grads, rtol, sketch_rank)
                    if F.shape[0] == 0:
                        # The predictor's gradients vanished (e.g. constant features): M = 0 makes all points
                        # alike, so no later round can score better; the best round so far stands.
                        self.stopped = True
                        break
                last = self._solve_and_score(data, score, F)
            except NonFiniteError:
                if self.rounds == 0:
                    raise
                # Like vanishing gradients: the rounds already scored stand, as a lower max_iters gives them.
                self.stopped = True
                break
            self.stopped = _worse(self.scores[-1], self.best_score, early_stop_multiplier)
        return self

    def _solve_and_score(
        self, data: SearchData, score: Callable[[torch.Tensor, torch.Tensor], float], F: torch.Tensor | None
    ) -> KernelRound:
        """Solve and score the round under factor F; it is recorded only once nothing has overflowed."""
        rnd = KernelRound.build(data, self.kernel, F)
        if F is None:
            K_val = laplace_values(self.kernel, data.log_d2_val)
        else:
            K_val = laplace_values(self.kernel, log_sq(sq_distances(data.X_val @ F.T, rnd.Z)))
        coef = ridge_solve(rnd.K, data.Y, self.reg)  # a non-finite rnd.K raises there
        causes = (("kernel matrix", K_val), ("kernel ridge coefficients", coef))
        pred = require_finite(K_val @ coef, "predictions", causes)
        self.F = F
        self.scores.append(score(data.Y_val, pred))
        self.ranks.append(0 if F is None else F.shape[0])
        self.coef = coef
        if self.best < 0 or self.scores[-1] > self.best_score:
            self.best, self.best_coef, self.best_F = self.rounds - 1, coef, self.F
        return rnd

    def best_metric(self, d: int) -> torch.Tensor:
        """The metric M of the best round as a dense (d, d) matrix in the original feature space."""
        if self.best_F is None:
            return torch.eye(d, dtype=self.best_coef.dtype, device=self.best_coef.device)
        return self.best_F.T @ self.best_F


def log_sq(d2: torch.Tensor) -> torch.Tensor:
    """``log`` of squared distances, floored at the dtype's smallest normal number so that it stays finite.

    Coincident pairs thus get kernel value 1 to working precision; their gradient weights overflow and
    are zeroed by the coincidence mask, which covers every squared distance below ``kernels.SELF_EPS ** 2``.
    """
    return d2.clamp(min=torch.finfo(d2.dtype).tiny).log_()


def laplace_values(kernel: Kernel, log_d2: torch.Tensor) -> torch.Tensor:
    """``Kernel.from_sq_distances`` for the Laplace kernel, from log squared distances.

    ``(d2 / L^2)^(q/2)`` as ``exp((q/2) log d2 - q log L)``: one log per round is shared by the kernel and
    its gradient weights (and, at round 0, by every configuration), where ``pow`` would cost three times
    an ``exp`` each time.
    """
    q = kernel.exponent
    return log_d2.mul(q / 2).sub_(q * math.log(kernel.bandwidth)).exp_().neg_().exp_()


def ridge_solve(K: torch.Tensor, Y: torch.Tensor, reg: float) -> torch.Tensor:
    """``(K + reg I)^-1 Y`` by Cholesky in K's dtype, escalating to float64 when that factorisation fails.

    Unlike :func:`solve_kernel_system`, whose last resort is an eigendecomposition in K's dtype, everything
    after a failed first factorisation runs in float64, that eigendecomposition included.
    """
    coef = cholesky_solve(K, Y, reg)
    return coef if coef is not None else solve_kernel_system(K.double(), Y.double(), reg).to(K.dtype)


def _worse(score: float, best: float, multiplier: float) -> bool:
    return score < best / multiplier if best > 0 else score < best * multiplier


def gradient_rows(kernel: Kernel, rnd: KernelRound, coef: torch.Tensor, center: bool) -> torch.Tensor:
    """Gradients of each output of ``K @ coef`` at the training points, in Z coordinates: (c * n, r).

    Same formula as :meth:`Kernel.gradients` (coincident pairs dropped), but from the round's cached
    log distances and kernel values instead of recomputing them.
    """
    q, bw = kernel.exponent, kernel.bandwidth
    W = rnd.log_d2.mul((q - 2) / 2).exp_().mul_(rnd.K).mul_(-q / bw**q)
    W.masked_fill_(rnd.near, 0.0)  # symmetric: W^T = W below
    rows = []
    for a in coef.T:
        g = rnd.Z * (W @ a)[:, None] - W @ (a[:, None] * rnd.Z)
        rows.append(g - g.mean(0, keepdim=True) if center else g)
    return torch.cat(rows)


def next_factor(
    kernel: Kernel,
    rnd: KernelRound,
    F: torch.Tensor | None,
    coef: torch.Tensor,
    center: bool,
    rtol: float,
    sketch_rank: int | None = None,
) -> torch.Tensor:
    """Factor of the next metric ``AGOP / max(AGOP)`` of the predictor ``coef`` under metric ``F^T F``.

    With ``sketch_rank``, round 0's nearly full-rank AGOP is cut to that many directions (the max entry
    still comes from the exact AGOP): an approximation that makes round 1 about as cheap as later ones.
    """
    rows = gradient_rows(kernel, rnd, coef, center)
    if F is None:
        factor = rows
    elif F.shape[0] < min(rows.shape[0], F.shape[1]):
        # Small rank: the r x r Gram of the gradients carries everything; eigh it instead of forming rows @ F.
        # Checked first: eigh fails on an overflowed Gram with LinAlgError.
        factor = _eigen_factor(require_finite(rows.T @ rows, "AGOP"), F, rtol)
    else:
        factor = rows @ F
    # max(AGOP) is its largest diagonal entry (AGOP is PSD), i.e. the largest squared column norm. Checking
    # them catches non-finite gradients, and finite ones whose squares overflow (a zero factor would pass for
    # vanishing gradients).
    top = require_finite(factor.square().sum(0), "AGOP").max()
    factor = factor / top.sqrt().clamp(min=torch.finfo(factor.dtype).tiny)
    n_rows, d = factor.shape
    if n_rows > d and (d <= MAX_SKETCH_RANK or n_rows > 2 * d):
        # Few features, or many outputs: the exact eigen-factor of the d x d metric is short and cheap.
        return _eigen_factor(factor.T @ factor, None, rtol)
    if F is None and sketch_rank is not None and n_rows > sketch_rank:
        return truncate_factor(factor, sketch_rank, rtol)
    if F is not None and n_rows > MAX_SKETCH_RANK:
        # Round 0's AGOP is nearly full rank; later ones collapse, so only they are worth sketching.
        return compress_factor(factor, rtol)
    return factor


def _eigen_factor(gram: torch.Tensor, F: torch.Tensor | None, rtol: float) -> torch.Tensor:
    """``L`` with ``L^T L = F^T gram F`` (F None: the identity), from the eigen-directions of PSD ``gram``."""
    evals, evecs = torch.linalg.eigh(gram.double())
    keep = evals > rtol * evals[-1].clamp(min=0)
    root = (evals[keep].sqrt() * evecs[:, keep]).T.to(gram.dtype)
    return root if F is None else root @ F


def compress_factor(F: torch.Tensor, rtol: float = DEFAULT_RTOL, generator: torch.Generator | None = None) -> torch.Tensor:
    """A shorter factor ``G`` with ``G^T G ~= F^T F``, or F itself when no short one is accurate enough.

    A randomised range finder on the rows of F proposes k directions (each k of ``SKETCH_RANKS`` in
    turn); they are accepted when the trace F misses outside them is at most ``rtol`` times the largest
    eigenvalue, which bounds the error of every squared distance by that fraction of ``||x - z||^2``.
    """
    gen = generator if generator is not None else torch.Generator(device=F.device).manual_seed(0)
    F64 = F.double()
    total = float(F64.square().sum())
    for k in SKETCH_RANKS:
        short, evals = _factor_in_basis(F64, _row_space_sketch(F, k, gen), rtol)
        if total - float(evals.sum()) <= rtol * float(evals[-1]):
            return short.to(F.dtype)
    return F


def truncate_factor(F: torch.Tensor, rank: int, rtol: float = DEFAULT_RTOL, generator: torch.Generator | None = None) -> torch.Tensor:
    """At most ``rank`` rows ``G`` with ``G^T G`` the best rank-``rank`` approximation of ``F^T F`` found by
    a randomised range finder: an approximation whatever the spectrum, unlike :func:`compress_factor`."""
    gen = generator if generator is not None else torch.Generator(device=F.device).manual_seed(0)
    short, _ = _factor_in_basis(F, _row_space_sketch(F, rank, gen).to(F.dtype), rtol)
    return short[-rank:]


def _row_space_sketch(F: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Orthonormal float64 basis (d, k + OVERSAMPLE) of F's dominant row space, by subspace iteration.

    The iterations run in F's dtype; only the final orthonormalisation is float64.
    """
    sketch = torch.randn(F.shape[1], k + OVERSAMPLE, generator=gen, dtype=F.dtype, device=F.device)
    for _ in range(POWER_ITERS + 1):
        sketch = torch.linalg.qr(F.T @ (F @ sketch)).Q
    return torch.linalg.qr(sketch.double()).Q


def _factor_in_basis(F: torch.Tensor, basis: torch.Tensor, rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-factor of F restricted to ``basis`` (rows by ascending eigenvalue, those below ``rtol`` times
    the largest dropped) and all the restricted eigenvalues (float64), in the dtype of F and basis."""
    proj = F @ basis
    evals, evecs = torch.linalg.eigh((proj.T @ proj).double())
    keep = evals > rtol * evals[-1]
    return ((evals[keep].sqrt() * evecs[:, keep]).T.to(F.dtype)) @ basis.T, evals
