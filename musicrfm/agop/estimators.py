"""RFMRegressor and RFMClassifier: scikit-learn style Recursive Feature Machines.

Hyperparameters (all stored unchanged by ``__init__`` and checked in ``fit``):

* ``kernel`` ("laplace" | "gaussian"), ``bandwidth``, ``exponent`` (Laplace q in (0, 2]): see
  :mod:`musicrfm.agop.kernels`;
* ``reg``: ridge added to the kernel matrix diagonal; ``iters``: AGOP rounds (``iters + 1`` solves);
* ``diag``: learn a diagonal metric only; ``center_grads``: centre gradients before the AGOP;
* ``agop_power`` / ``normalize_agop`` / ``metric_jitter``: ``M = (AGOP / max AGOP + jitter I) ** agop_power``
  (xrfm: power 1, normalised, jitter 1e-8 for its full-matrix ``l2`` kernel, 0 otherwise);
* ``early_stopping`` / ``early_stop_multiplier`` / ``scoring``: model selection on validation data;
* ``agop_samples``: AGOP over at most this many training points (a seeded random subset);
* ``batch_size``, ``dtype`` ("auto" keeps float64 input, else float32), ``device`` ("auto" = CUDA if
  available), ``random_state``, ``callback`` (called with a :class:`RoundState` after every round).

Fitted attributes: ``M_``, ``agop_`` (AGOP of the selected predictor, unnormalised mean),
``history_`` ({"train": [...], "val": [...]} per round), ``feature_importances_`` (diag of M),
``n_iter_`` (AGOP rounds run), ``best_iter_`` (round kept), ``coef_``, ``X_fit_``, ``kernel_``.
Tensors stay on the compute device; ``predict`` returns numpy for numpy input and torch for torch input.
``from_state(X, y, M, coef, best_iter=..., **params)`` builds a fitted estimator from learned state (a
search's winner, stored tensors) without fitting.

Overflow: kernels square the feature scale, so unstandardised features (float32 near 1e19, float64 near
1e154) or huge targets overflow. ``fit`` then raises :class:`~musicrfm.agop.finite.NonFiniteError`, a
ValueError whose one line names the quantity, the round, the dtype and the remedy, e.g.
"RFMClassifier.fit: the kernel matrix overflowed (non-finite) in round 0 in float32; standardise the
features (e.g. sklearn StandardScaler) and use a bandwidth near their scale, or use dtype='float64'". A
round after the first that overflows ends the fit as a lower ``iters`` would, with a RuntimeWarning.
``from_state``, ``predict`` and the other prediction methods raise alike: no output is ever NaN.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 5)); y = (X[:, 0] > 0).astype(int)
>>> clf = RFMClassifier(bandwidth=5.0, iters=3).fit(X, y)
>>> float((clf.predict(X) == y).mean()) > 0.9, clf.predict_proba(X[:2]).shape
(True, (2, 2))
"""

from __future__ import annotations

import numpy as np
import torch

from .metrics import accuracy, r2
from .rfm import BaseRFM, as_output
from .validation import as_labels, as_targets

__all__ = ["RFMClassifier", "RFMRegressor"]

# Kernel regression scores are not calibrated; probabilities clip them into [PROBA_EPS, 1] and normalise.
PROBA_EPS = 1e-6


class RFMRegressor(BaseRFM):
    """Kernel ridge regression with AGOP feature learning; 1-D or multi-output targets.

    Default ``scoring`` is "mse" (also "r2"). ``score(X, y)`` is R^2, as for scikit-learn regressors.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> RFMRegressor(iters=2).fit(X, X[:, 0] ** 2).predict(X[:3]).shape
    (3,)
    """

    def _encode_targets(self, y: object, name: str, fitting: bool) -> tuple[torch.Tensor, torch.Tensor]:
        Y = as_targets(y, name, self.dtype_, self.device_)
        if fitting:
            self.n_outputs_ = Y.shape[1]
            self._one_dimensional = np.ndim(y) == 1
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"{name} has {Y.shape[1]} output columns but y has {self.n_outputs_}")
        return Y, Y

    def predict(self, X: object) -> np.ndarray | torch.Tensor:
        """Predicted targets, (n,) for 1-D training targets, else (n, c)."""
        raw = self._raw(X, "predict")
        return as_output(raw[:, 0] if self._one_dimensional else raw, X)

    def score(self, X: object, y: object) -> float:
        """Coefficient of determination R^2 of ``predict(X)``."""
        raw = self._raw(X, "score")
        Y, _ = self._encode_targets(y, "y", fitting=False)
        return r2(Y, raw)


class RFMClassifier(BaseRFM):
    """Binary and multiclass RFM classification by kernel regression on 0/1 (one-hot) targets.

    Binary problems regress one column (1 = ``classes_[1]``), ``decision_function`` is that score minus
    0.5; multiclass problems regress one-hot columns and predict the argmax. Default ``scoring`` is
    "accuracy" (also "auc": binary ROC AUC, or macro one-vs-rest AUC).
    """

    _default_scoring = "accuracy"
    _allowed_scoring = ("accuracy", "auc")

    def _encode_targets(self, y: object, name: str, fitting: bool) -> tuple[torch.Tensor, torch.Tensor]:
        labels = as_labels(y, name)
        if fitting:
            classes = np.unique(labels)
            if classes.size < 2:
                raise ValueError(f"{name} has a single class ({classes[0]!r}); a classifier needs at least two")
            self.classes_ = classes
        index = np.searchsorted(self.classes_, labels).clip(max=self.classes_.size - 1)
        unseen = self.classes_[index] != labels
        if unseen.any():
            raise ValueError(f"{name} contains labels not seen in y, e.g. {labels[unseen][0]!r}")
        idx = torch.as_tensor(index, device=self.device_)
        if self.classes_.size == 2:
            return idx.to(self.dtype_)[:, None], idx
        return torch.nn.functional.one_hot(idx, self.classes_.size).to(self.dtype_), idx

    def _scores_for(self, raw: torch.Tensor) -> torch.Tensor:
        return raw - 0.5 if raw.shape[1] == 1 else raw

    def decision_function(self, X: object) -> np.ndarray | torch.Tensor:
        """Scores: (n,) for binary problems (> 0 means ``classes_[1]``), else (n, n_classes)."""
        scores = self._scores_for(self._raw(X, "decision_function"))
        return as_output(scores[:, 0] if scores.shape[1] == 1 else scores, X)

    def predict_proba(self, X: object) -> np.ndarray | torch.Tensor:
        """Class probabilities (n, n_classes) from the clipped, normalised regression outputs."""
        raw = self._raw(X, "predict_proba")
        if raw.shape[1] == 1:
            raw = torch.cat([1 - raw, raw], dim=1)
        raw = raw.clamp(min=PROBA_EPS, max=1.0)
        return as_output(raw / raw.sum(1, keepdim=True), X)

    def predict(self, X: object) -> np.ndarray | torch.Tensor:
        """Predicted class labels (values from ``classes_``)."""
        scores = self._scores_for(self._raw(X, "predict"))
        index = (scores[:, 0] > 0).long() if scores.shape[1] == 1 else scores.argmax(1)
        labels = self.classes_[index.cpu().numpy()]
        if isinstance(X, torch.Tensor) and labels.dtype.kind in "biuf":
            return torch.as_tensor(labels, device=X.device)
        return labels

    def score(self, X: object, y: object) -> float:
        """Mean accuracy of ``predict(X)`` against y."""
        _, idx = self._encode_targets(y, "y", fitting=False)
        return accuracy(idx, self._scores_for(self._raw(X, "score")))
