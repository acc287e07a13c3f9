"""The Recursive Feature Machine loop shared by RFMRegressor and RFMClassifier.

One round: solve kernel ridge regression under the current metric M, score it, then set
``M = (AGOP / max AGOP) ** agop_power`` from the AGOP of the fitted predictor. ``iters`` rounds of
feature learning give ``iters + 1`` solves (round 0 is the plain kernel machine), as in xrfm. With
validation data the best round by validation score is kept and, with ``early_stopping``, the loop stops
once the score is worse than the best by the factor ``early_stop_multiplier``; without it the last
round is kept.

Each round's predictions, AGOP and metric are checked for overflow, one reduction each. Round 0 raises
``NonFiniteError`` (a ValueError naming the quantity and the remedy); a later round t that overflows is
dropped unrecorded, leaving exactly the fit of ``iters = t - 1``, and warns (RuntimeWarning). There is no
rescaled or float64 retry: neither would give the model that was asked for.

>>> import numpy as np
>>> from musicrfm.agop import RFMRegressor
>>> X = np.random.default_rng(0).normal(size=(80, 4))
>>> rounds = []
>>> model = RFMRegressor(iters=3, callback=rounds.append).fit(X, X[:, 1] ** 2)
>>> [r.iteration for r in rounds], rounds[0].M is None, model.n_iter_
([0, 1, 2, 3], True, 3)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .finite import NonFiniteError, require_finite
from .kernels import Kernel
from .metrics import SCORERS
from .params import ParamsMixin
from .rounds import KeptRound, RoundInputs, RoundState, improves, worse
from .solve import matrix_power, solve_kernel_system
from .validation import (
    all_finite,
    as_array,
    as_device,
    as_features,
    as_shaped,
    check_lengths,
    check_number,
    resolve_dtype,
)

__all__ = ["BaseRFM", "RoundState"]


class BaseRFM(ParamsMixin):
    """Hyperparameters and the fit loop; subclasses encode targets and define scoring and outputs."""

    _default_scoring = "mse"
    _allowed_scoring: tuple[str, ...] = ("mse", "r2")

    def __init__(
        self,
        kernel: str = "laplace",
        bandwidth: float = 10.0,
        exponent: float = 1.0,
        reg: float = 1e-3,
        iters: int = 5,
        diag: bool = False,
        center_grads: bool = False,
        agop_power: float = 1.0,
        normalize_agop: bool = True,
        metric_jitter: float = 0.0,
        early_stopping: bool = True,
        early_stop_multiplier: float = 1.1,
        scoring: str | None = None,
        agop_samples: int | None = 20_000,
        batch_size: int | None = None,
        dtype: str = "auto",
        device: str = "auto",
        random_state: int | None = None,
        callback: Callable[[RoundState], Any] | None = None,
    ) -> None:
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.exponent = exponent
        self.reg = reg
        self.iters = iters
        self.diag = diag
        self.center_grads = center_grads
        self.agop_power = agop_power
        self.normalize_agop = normalize_agop
        self.metric_jitter = metric_jitter
        self.early_stopping = early_stopping
        self.early_stop_multiplier = early_stop_multiplier
        self.scoring = scoring
        self.agop_samples = agop_samples
        self.batch_size = batch_size
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.callback = callback

    # -- subclass hooks -------------------------------------------------------------------------------
    def _encode_targets(self, y: object, name: str, fitting: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (regression targets (n, c), what the scorer compares predictions against)."""
        raise NotImplementedError

    def _scores_for(self, raw: torch.Tensor) -> torch.Tensor:
        """Map raw predictor outputs to what the scorer expects (identity for regression)."""
        return raw

    # -- fitting -------------------------------------------------------------------------------------
    def fit(self, X: object, y: object, X_val: object = None, y_val: object = None) -> "BaseRFM":
        """Fit the RFM on (X, y); optional (X_val, y_val) drive model selection and early stopping.

        Raises ``NonFiniteError`` (a ValueError) when round 0 overflows; a later round that overflows ends
        the fit as a lower ``iters`` would, with a RuntimeWarning (see :mod:`musicrfm.agop.rfm`).
        """
        scorer, maximize = self._scorer()
        Xt, Y, y_score = self._prepare(X, y)
        val = self._validation(X_val, y_val, Xt.shape[1])
        rows = Xt if val is None else torch.cat([Xt, val[0]])
        best, note = self._run(RoundInputs(Xt, Y, y_score, val, rows, scorer, maximize))
        if note:
            warnings.warn(note, RuntimeWarning, stacklevel=2)
        return self._install(Xt, best.coef, best.M, best.iteration, best.agop)

    @classmethod
    def from_state(
        cls,
        X: object,
        y: object,
        M: object,
        coef: object,
        *,
        best_iter: int = 0,
        val_scores: Sequence[float] | None = None,
        **params: Any,
    ) -> "BaseRFM":
        """A fitted estimator from learned state, without fitting: the predictor ``k(., X) @ coef`` under
        metric M, e.g. a model found by a search, or one rebuilt from stored tensors.

        ``X`` and ``y`` are the training data (checked and encoded as by ``fit``: ``classes_`` come from y),
        ``M`` the metric ((d, d), or (d,) with ``diag=True``; None for the identity), ``coef`` the
        coefficients ((n, c), or (n,) for one output; c is 1 for binary problems and 1-D targets, else the
        number of classes or target columns), ``best_iter`` the round the state comes from, ``val_scores``
        the validation scores of rounds 0..best_iter if known, ``params`` constructor hyperparameters.
        ``agop_`` and the final train score are computed; earlier rounds' train scores are NaN.

        >>> import numpy as np
        >>> from musicrfm.agop import RFMClassifier
        >>> X = np.random.default_rng(0).normal(size=(150, 4)); y = (X[:, 0] > 0).astype(int)
        >>> clf = RFMClassifier(bandwidth=5.0, iters=2).fit(X, y)
        >>> twin = RFMClassifier.from_state(X, y, clf.M_, clf.coef_, best_iter=clf.best_iter_, **clf.get_params())
        >>> bool((twin.decision_function(X) == clf.decision_function(X)).all()), twin.history_["train"][-1]
        (True, 1.0)
        """
        est = cls().set_params(**params)
        scorer, _ = est._scorer()
        Xt, Y, y_score = est._prepare(X, y)
        check_number("best_iter", best_iter, low=0, integer=True)
        M, coef = est._checked_state(M, coef, (*Xt.shape, Y.shape[1]))
        history = {"train": [float("nan")] * best_iter}
        if val_scores is not None:
            history["val"] = _round_scores(val_scores, best_iter)
        est._agop_rows = est._agop_subset(Xt.shape[0])
        try:
            train, agop = est._score_state(Xt, coef, M, y_score, scorer)
        except NonFiniteError as err:
            raise est._explained(err, "from_state") from None
        history["train"].append(train)
        est.history_, est.n_iter_ = history, best_iter
        return est._install(Xt, coef, M, best_iter, agop)

    def _checked_state(
        self, M: object, coef: object, sizes: tuple[int, int, int]
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """M and coef of :meth:`from_state` in the estimator's dtype, checked against (n, d) of X and the
        number c of encoded target columns."""
        n, d, c = sizes
        if M is not None:
            M = as_shaped(M, "M", (d,) if self.diag else (d, d), self.dtype_, self.device_)
        one_dim = c == 1 and np.ndim(coef) == 1
        coef = as_shaped(coef, "coef", (n,) if one_dim else (n, c), self.dtype_, self.device_)
        return M, coef.reshape(n, c)

    @torch.no_grad()
    def _score_state(self, X, coef, M, y_score, scorer) -> tuple[float, torch.Tensor]:
        """Train score and AGOP of the predictor ``k(., X) @ coef`` under M, both checked for overflow."""
        K, R = self.kernel_.pair(X, X, M)
        pred = require_finite(K @ coef, "predictions", (("kernel matrix", K),))
        agop = require_finite(self._agop(X, coef, M, K.mul_(R)), "AGOP")
        return scorer(y_score, self._scores_for(pred)), agop

    def _prepare(self, X: object, y: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Check hyperparameters and training data; set the kernel, dtype, device and target encoding."""
        self.kernel_ = self._validated_kernel()
        self.device_ = as_device(self.device)
        self.dtype_ = resolve_dtype(self.dtype, X)
        Xt = as_features(X, "X", self.dtype_, self.device_)
        check_lengths(Xt, y, "X and y")
        self.n_features_in_ = Xt.shape[1]
        return (Xt, *self._encode_targets(y, "y", fitting=True))

    def _install(
        self, X: torch.Tensor, coef: torch.Tensor, M: torch.Tensor | None, best_iter: int, agop: torch.Tensor
    ) -> "BaseRFM":
        """Set the fitted predictor's attributes (``agop`` is its AGOP, ``M`` None for the identity)."""
        self.X_fit_, self.coef_, self.best_iter_, self.agop_ = X, coef, best_iter, agop
        self.M_ = self._materialize(M, X)
        self.feature_importances_ = (self.M_ if self.diag else torch.diagonal(self.M_)).cpu().numpy().copy()
        return self

    def _validation(self, X_val: object, y_val: object, d: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together")
        if X_val is None:
            return None
        Xv = as_features(X_val, "X_val", self.dtype_, self.device_, n_features=d)
        check_lengths(Xv, y_val, "X_val and y_val")
        return Xv, self._encode_targets(y_val, "y_val", fitting=False)[1]

    @torch.no_grad()
    def _run(self, task: RoundInputs) -> tuple[KeptRound, str | None]:
        """The rounds; returns the kept round and, when a round after the first overflowed, the warning."""
        self.history_ = {"train": [], "val": []} if task.val is not None else {"train": []}
        self._agop_rows = self._agop_subset(task.X.shape[0])
        best, state, note = KeptRound(), None, None
        for t in range(self.iters + 1):
            try:
                M = None if state is None else require_finite(self._metric_from_agop(state.agop), "metric M")
                state, best, go_on = self._round(task, t, M, best)
            except NonFiniteError as err:
                err = self._explained(err, "fit", f"in round {t}")
                if t == 0:
                    raise err from None
                note = f"{err}; the fit keeps the best of rounds 0..{t - 1}, as iters={t - 1} would"
                break
            self._record(state)
            if not go_on:
                break
        self.n_iter_ = len(self.history_["train"]) - 1
        return best, note

    def _round(
        self, task: RoundInputs, t: int, M: torch.Tensor | None, best: KeptRound
    ) -> tuple[RoundState, KeptRound, bool]:
        """Round t under metric M: solve, score, and the AGOP if a next round or ``agop_`` needs it. Returns
        the round, the best round so far and whether to go on; records nothing, so that a round that
        overflows (NonFiniteError) leaves the fit as it was after round t - 1."""
        n = task.X.shape[0]
        K, R = self.kernel_.pair(task.rows, task.X, M)
        coef = solve_kernel_system(K[:n], task.Y, float(self.reg))
        # K or coef going non-finite always reaches the predictions, so they alone are checked; the (rows, c)
        # reduction costs nothing next to the solve.
        causes = (("kernel matrix", K), ("kernel ridge coefficients", coef))
        pred = require_finite(K @ coef, "predictions", causes)
        train = task.scorer(task.y_score, self._scores_for(pred[:n]))
        val_score = None if task.val is None else task.scorer(task.val[1], self._scores_for(pred[n:]))
        score = train if task.val is None else val_score
        if task.val is None or improves(score, best.score, task.maximize):
            best = KeptRound(t, score, coef, M)
        stop = task.val is not None and self.early_stopping and worse(
            score, best.score, task.maximize, self.early_stop_multiplier
        )
        go_on, agop = not stop and t < self.iters, None
        # The last round's AGOP is wanted only as agop_ of a best round; now it costs no distances.
        if go_on or best.iteration == t:
            agop = require_finite(self._agop(task.X, coef, M, K[:n].mul_(R[:n])), "AGOP")
            if best.iteration == t:
                best.agop = agop
        return RoundState(t, M, coef, agop if go_on else None, train, val_score), best, go_on

    def _record(self, state: RoundState) -> None:
        """A finished round's scores go to ``history_``, the round to the callback."""
        self.history_["train"].append(state.train_score)
        if state.val_score is not None:
            self.history_["val"].append(state.val_score)
        if self.callback is not None:
            self.callback(state)

    def _explained(self, err: NonFiniteError, method: str, detail: str = "") -> NonFiniteError:
        return err.explained(f"{type(self).__name__}.{method}", self.dtype_, detail)

    def _agop(
        self, X: torch.Tensor, coef: torch.Tensor, M: torch.Tensor | None, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """AGOP over the training points (or the seeded subset); ``weights``: ``K * R`` between X and X."""
        rows = self._agop_rows
        if rows is not None and weights is not None:
            weights = weights[:, rows]
        return self.kernel_.agop(
            X, X if rows is None else X[rows], coef, M, centered=self.center_grads, diag=self.diag,
            batch_size=self.batch_size, weights=weights,
        )

    def _metric_from_agop(self, agop: torch.Tensor) -> torch.Tensor:
        if self.normalize_agop:
            # Scale-free metric: the bandwidth keeps its meaning from one round to the next.
            agop = agop / agop.abs().max().clamp(min=torch.finfo(agop.dtype).tiny)
        if self.metric_jitter:
            agop = agop + (self.metric_jitter if self.diag else self.metric_jitter * torch.eye(
                agop.shape[0], dtype=agop.dtype, device=agop.device))
        return matrix_power(agop, float(self.agop_power))

    def _agop_subset(self, n: int) -> torch.Tensor | None:
        if self.agop_samples is None or n <= self.agop_samples:
            return None
        rng = np.random.default_rng(self.random_state)
        return torch.as_tensor(np.sort(rng.choice(n, size=self.agop_samples, replace=False)), device=self.device_)

    def _materialize(self, M: torch.Tensor | None, X: torch.Tensor) -> torch.Tensor:
        if M is not None:
            return M
        d = X.shape[1]
        return X.new_ones(d) if self.diag else torch.eye(d, dtype=X.dtype, device=X.device)

    # -- hyperparameter checks (at fit time, per the scikit-learn contract) --------------------------
    def _validated_kernel(self) -> Kernel:
        check_number("reg", self.reg, low=0.0)
        check_number("iters", self.iters, low=0, integer=True)
        check_number("agop_power", self.agop_power, low=0.0, low_inclusive=False)
        check_number("metric_jitter", self.metric_jitter, low=0.0)
        check_number("early_stop_multiplier", self.early_stop_multiplier, low=1.0)
        if self.agop_samples is not None:
            check_number("agop_samples", self.agop_samples, low=1, integer=True)
        if self.batch_size is not None:
            check_number("batch_size", self.batch_size, low=1, integer=True)
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got {type(self.callback).__name__}")
        return Kernel(self.kernel, self.bandwidth, self.exponent)

    def _scorer(self) -> tuple[Callable[[torch.Tensor, torch.Tensor], float], bool]:
        name = self._default_scoring if self.scoring is None else self.scoring
        if name not in self._allowed_scoring:
            raise ValueError(f"scoring must be one of {self._allowed_scoring}, got {name!r}")
        return SCORERS[name]

    # -- prediction helpers --------------------------------------------------------------------------
    def _raw(self, X: object, method: str) -> torch.Tensor:
        """Predictor outputs at X for ``method``, refused when they overflow (X on another scale than the
        training features, say): finite fitted state and finite X never give NaN predictions."""
        self._check_fitted()
        Xt = as_features(X, "X", self.dtype_, self.device_, n_features=self.n_features_in_)
        out = self.raw_predict(Xt)
        if all_finite(out):
            return out
        # Failure path only: the kernel is recomputed to tell its overflow from that of the sum over centres.
        cause = "predictions" if all_finite(self.kernel_.matrix(Xt, self.X_fit_, self.M_)) else "kernel matrix"
        raise self._explained(NonFiniteError(cause), method, "between X and the training points")

    def raw_predict(self, Z: torch.Tensor) -> torch.Tensor:
        """The kernel predictor ``f(Z) = k(Z, X_fit) @ coef``, (n, c), differentiable in Z (torch in, torch out)."""
        self._check_fitted()
        return self.kernel_.matrix(Z, self.X_fit_, self.M_) @ self.coef_

    def agop(
        self, X: object = None, *, centered: bool | None = None, diag: bool = False, per_output: bool = False
    ) -> torch.Tensor:
        """Closed-form AGOP of the fitted predictor at the rows of X (default: the training points used for
        ``agop_``). ``centered`` defaults to ``center_grads``; ``per_output`` keeps one AGOP per output column.
        """
        self._check_fitted()
        Z = self.X_fit_ if X is None else as_features(X, "X", self.dtype_, self.device_, self.n_features_in_)
        rows = self._agop_rows if X is None else None
        Z = Z if rows is None else Z[rows]
        centered = self.center_grads if centered is None else centered
        out = self.kernel_.agop(
            self.X_fit_, Z, self.coef_, self.M_, centered=centered, diag=diag, per_output=per_output,
            batch_size=self.batch_size,
        )
        try:
            return require_finite(out, "AGOP")
        except NonFiniteError as err:
            raise self._explained(err, "agop", "at X") from None


def _round_scores(values: object, best_iter: int) -> list[float]:
    """Validation scores of rounds 0..best_iter as floats (NaN allowed: a score can be undefined)."""
    arr = as_array(values, "val_scores")
    if arr.ndim != 1 or len(arr) != best_iter + 1:
        raise ValueError(f"val_scores must hold one score per round 0..best_iter ({best_iter + 1}), "
                         f"got shape {tuple(arr.shape)}")
    return [float(v) for v in arr]


def as_output(t: torch.Tensor, like: object) -> np.ndarray | torch.Tensor:
    """Return torch when the caller passed torch, numpy otherwise."""
    return t if isinstance(like, torch.Tensor) else t.detach().cpu().numpy()
