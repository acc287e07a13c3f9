"""Input checks shared by the AGOP estimators: arrays or tensors in, validated torch tensors out.

Every check raises a one-line ValueError (or TypeError for a wrong Python type) that names the field.

>>> as_features([[1.0, 2.0], [3.0, 4.0]], "X", torch.float64, torch.device("cpu")).shape
torch.Size([2, 2])
"""

from __future__ import annotations

import math

import numpy as np
import torch

from musicrfm.checks import is_int, is_real

__all__ = [
    "all_finite", "as_array", "as_features", "as_labels", "as_shaped", "as_targets", "check_lengths", "check_number",
    "as_device", "resolve_dtype",
]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def as_array(values: object, name: str) -> np.ndarray | torch.Tensor:
    """Numeric tensor or array view of ``values``; rejects None, strings, objects, complex numbers."""
    if values is None:
        raise ValueError(f"{name} is None; expected an array of numbers")
    if isinstance(values, torch.Tensor):
        if values.is_complex():
            raise ValueError(f"{name} must hold real numbers, got dtype {values.dtype}")
        return values.detach()
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise ValueError(f"{name} could not be read as a numeric array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _to_tensor(arr: np.ndarray | torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(arr, np.ndarray):
        arr = torch.from_numpy(np.ascontiguousarray(arr))
    return arr.to(device=device, dtype=dtype)


def all_finite(t: torch.Tensor) -> bool:
    """Whether every entry is finite: one reduction when the sum is finite (the usual case), which an
    elementwise isfinite test costs several passes more.

    >>> all_finite(torch.tensor([1.0, 2.0])), all_finite(torch.tensor([1.0, float("nan")]))
    (True, False)
    >>> all_finite(torch.tensor([3e38, 3e38]))  # the float32 sum overflows; the entries are finite
    True
    """
    # A NaN or inf entry always makes the sum non-finite; a finite sum can only come from finite entries.
    # A non-finite sum of finite entries (overflow) is told apart by the exact test.
    return math.isfinite(float(t.sum())) or bool(torch.isfinite(t).all())


def _finite_tensor(arr: np.ndarray | torch.Tensor, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``arr`` in ``dtype`` on ``device``, refused unless every entry is finite there."""
    t = _to_tensor(arr, dtype, device)
    if all_finite(t):
        return t
    # Failure path only: finite values that the cast made infinite call for another remedy than NaNs do.
    if all_finite(arr) if isinstance(arr, torch.Tensor) else bool(np.isfinite(arr).all()):
        raise ValueError(f"{name} has values beyond the range of {str(dtype).removeprefix('torch.')}; "
                         "standardise it (e.g. sklearn StandardScaler) or use dtype='float64'")
    raise ValueError(f"{name} contains NaN or infinite values")


def as_features(
    X: object, name: str, dtype: torch.dtype, device: torch.device, n_features: int | None = None
) -> torch.Tensor:
    """A finite 2-D (n_samples, n_features) tensor with at least one sample and one feature."""
    arr = as_array(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(arr.shape)}")
    n, d = arr.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} must have at least one sample and one feature, got shape {(n, d)}")
    if n_features is not None and d != n_features:
        raise ValueError(f"{name} has {d} features but the model was fitted with {n_features}")
    return _finite_tensor(arr, name, dtype, device)


def as_shaped(
    values: object, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """A finite tensor of exactly ``shape`` (learned state handed back to an estimator, say).

    >>> as_shaped([[1.0], [2.0]], "coef", (2, 1), torch.float64, torch.device("cpu")).shape
    torch.Size([2, 1])
    """
    arr = as_array(values, name)
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(arr.shape)}")
    return _finite_tensor(arr, name, dtype, device)


def as_targets(y: object, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Finite regression targets as an (n, c) tensor (a 1-D y becomes one column)."""
    arr = as_array(y, name)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D or 2-D array, got shape {tuple(arr.shape)}")
    t = _finite_tensor(arr, name, dtype, device)
    return t[:, None] if t.dim() == 1 else t


def check_lengths(X: torch.Tensor, y: object, names: str) -> None:
    """Raise if X and y disagree on the number of samples."""
    if not hasattr(y, "__len__"):
        raise ValueError(f"{names}: the targets must be an array, got {type(y).__name__}")
    if len(y) != X.shape[0]:
        raise ValueError(f"{names} have mismatched lengths: {X.shape[0]} samples vs {len(y)} targets")


def as_device(device: object) -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; anything torch.device accepts is passed through."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (TypeError, RuntimeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or a torch.device, got {device!r}") from err


def resolve_dtype(dtype: object, X: object) -> torch.dtype:
    """``"auto"`` keeps float64 input in float64 and computes everything else in float32."""
    if dtype == "auto":
        given = getattr(X, "dtype", None)
        return torch.float64 if given in (np.float64, torch.float64) else torch.float32
    if dtype in DTYPES.values():
        return dtype
    if dtype in DTYPES:
        return DTYPES[dtype]
    raise ValueError(f"dtype must be 'auto', 'float32' or 'float64', got {dtype!r}")


def check_number(name: str, value: object, *, low: float, low_inclusive: bool = True, integer: bool = False) -> None:
    """Hyperparameter check: a real (or integer) number not below ``low``."""
    if not (is_int(value) if integer else is_real(value)):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}, got {value!r}")
    if not np.isfinite(value) or value < low or (value == low and not low_inclusive):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value}")


def as_labels(y: object, name: str) -> np.ndarray:
    """Class labels as a 1-D numpy array (a single column is accepted); rejects NaN and odd dtypes."""
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of class labels, got shape {arr.shape}")
    if arr.dtype.kind not in "biufUS":
        raise ValueError(f"{name} must hold numbers or strings as class labels, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite labels")
    return arr
