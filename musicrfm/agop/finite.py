"""Non-finite fitted state: detected by one reduction, reported as one line that names the cause and the cure.

A kernel RFM overflows long before its inputs do: squared distances square the feature scale (float32
features near 1e19, float64 near 1e154 are enough), the AGOP squares the coefficients and ``agop_power``
raises the metric's eigenvalues to a power. Unchecked, the NaN reaches the predictions, where a ``> 0``
test quietly turns it into class 0. The fit loops and the search check each round with
:func:`require_finite` and re-raise the :class:`NonFiniteError` with :meth:`NonFiniteError.explained`.

>>> require_finite(torch.tensor([1.0, float("inf")]), "AGOP")
Traceback (most recent call last):
...
musicrfm.agop.finite.NonFiniteError: the AGOP overflowed (non-finite)
>>> print(NonFiniteError("AGOP").explained("RFMRegressor.fit", torch.float64, "in round 0"))
RFMRegressor.fit: the AGOP overflowed (non-finite) in round 0 in float64; standardise the features and targets
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .validation import all_finite

__all__ = ["ADVICE", "NonFiniteError", "require_finite"]

_FEATURES = "standardise the features (e.g. sklearn StandardScaler)"
# What to do about each quantity that can overflow; a float32 fit is also told that float64 goes further.
ADVICE = {
    "squared distances": _FEATURES,
    "kernel matrix": f"{_FEATURES} and use a bandwidth near their scale",
    "kernel ridge coefficients": "standardise the targets or increase reg",
    "predictions": "standardise the targets",
    "AGOP": "standardise the features and targets",
    "metric M": "lower agop_power (M = (AGOP / max AGOP) ** agop_power)",
}


class NonFiniteError(ValueError):
    """A kernel matrix, solution, AGOP or metric that overflowed (or went NaN from inf - inf) during a fit.

    ``quantity`` is a key of :data:`ADVICE`. A ValueError, as scikit-learn raises for unusable data.
    """

    def __init__(self, quantity: str, message: str | None = None) -> None:
        super().__init__(message or f"the {quantity} overflowed (non-finite)")
        self.quantity = quantity

    def __reduce__(self):  # the two-argument constructor would otherwise not survive pickling
        return type(self), (self.quantity, str(self))

    def explained(self, where: str, dtype: torch.dtype, detail: str = "") -> "NonFiniteError":
        """The error for users: ``where`` (e.g. "RFMClassifier.fit"), what overflowed, ``detail`` (e.g.
        "in round 2"), the dtype and what to do about it."""
        advice = ADVICE[self.quantity] + ("" if dtype == torch.float64 else ", or use dtype='float64'")
        context = f" {detail}" if detail else ""
        name = str(dtype).removeprefix("torch.")
        return NonFiniteError(self.quantity, f"{where}: the {self.quantity} overflowed (non-finite){context} "
                                             f"in {name}; {advice}")


def require_finite(
    t: torch.Tensor, quantity: str, causes: Sequence[tuple[str, torch.Tensor]] = ()
) -> torch.Tensor:
    """``t`` if every entry is finite (one reduction), else raise NonFiniteError naming the first non-finite
    of ``causes`` (the inputs ``t`` was computed from), or ``quantity`` when they are all finite."""
    if all_finite(t):
        return t
    # Failure path only: the inputs are checked to name the cause rather than its symptom.
    for name, cause in causes:
        if not all_finite(cause):
            raise NonFiniteError(name)
    raise NonFiniteError(quantity)
