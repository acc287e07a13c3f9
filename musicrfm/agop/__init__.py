"""The generic AGOP core: kernel Recursive Feature Machines and the AGOP of any differentiable function.

This package never imports anything musical.

>>> import numpy as np
>>> from musicrfm.agop import RFMClassifier, directions
>>> X = np.random.default_rng(0).normal(size=(120, 6)); y = (X[:, 2] > 0).astype(int)
>>> clf = RFMClassifier(bandwidth=5.0, iters=2).fit(X, y)
>>> int(directions(clf.agop_, k=1, X=X, y=y).vectors.abs().argmax())
2
"""

from .compact import KernelPredictor
from .directions import Eigendirections, directions
from .estimators import RFMClassifier, RFMRegressor
from .finite import NonFiniteError
from .gradients import agop, jacobians
from .kernels import Kernel
from .params import NotFittedError
from .rounds import RoundState

__all__ = [
    "Eigendirections", "Kernel", "KernelPredictor", "NonFiniteError", "NotFittedError", "RFMClassifier", "RFMRegressor", "RoundState",
    "agop", "directions", "jacobians",
]
