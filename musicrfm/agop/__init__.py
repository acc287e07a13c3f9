"""The generic AGOP core: kernel Recursive Feature Machines and the AGOP of any differentiable function.

This package never imports anything musical.

>>> from musicrfm.agop import RFMClassifier, RFMRegressor, Kernel
"""

from .estimators import RFMClassifier, RFMRegressor
from .kernels import Kernel
from .params import NotFittedError
from .rfm import RoundState

__all__ = ["Kernel", "NotFittedError", "RFMClassifier", "RFMRegressor", "RoundState"]
