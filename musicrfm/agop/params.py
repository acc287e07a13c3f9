"""scikit-learn style hyperparameter access without depending on scikit-learn.

``get_params``/``set_params`` read the constructor signature, so ``sklearn.base.clone``, grid searches and
pipelines work when scikit-learn is installed.

>>> class Demo(ParamsMixin):
...     def __init__(self, alpha=1.0):
...         self.alpha = alpha
>>> Demo().set_params(alpha=2.0).get_params()
{'alpha': 2.0}
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["NotFittedError", "ParamsMixin"]


class NotFittedError(ValueError, AttributeError):
    """Raised when a method needs a fitted estimator (a ValueError and AttributeError, as in sklearn)."""


class ParamsMixin:
    """Hyperparameters are exactly the constructor's keyword arguments, stored unchanged."""

    @classmethod
    def _param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as a dict (``deep`` is accepted for compatibility; nothing nests)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "ParamsMixin":
        """Set constructor arguments by name; unknown names raise ValueError."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = {k: v for k, v in self.get_params().items() if defaults.get(k) is not v and defaults.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
