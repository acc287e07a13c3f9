"""The AGOP lab: fit an RFM on a table (a bundled dataset or an uploaded CSV) and look inside it, and the
modular-arithmetic demo where test accuracy jumps once the learned metric turns block-circulant.

Uploaded CSVs are checked before parsing (size), then for shape (rows, a header, the target column) and
for numeric feature columns; every refusal is one ValueError naming the problem.

>>> table = bundled_table("iris")
>>> result = fit_table(table, "target", LabSettings(iters=2))
>>> result.task, result.test_score > 0.8
('classification', True)
>>> modular_demo(7, train_fraction=0.8, iters=1).p
7
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from musicrfm.agop import RFMClassifier, RFMRegressor
from musicrfm.agop.modular import circulant_deviation, modular_addition
from musicrfm.checks import is_int

SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
GENERATED_DATASETS = ("two_of_twenty", "friedman")
BUNDLED = SKLEARN_DATASETS + GENERATED_DATASETS
MAX_CLASSES = 50
MIN_ROWS = 20


@dataclass(frozen=True)
class LabSettings:
    """RFM hyperparameters offered in the lab (names as in `musicrfm.agop`)."""

    kernel: str = "laplace"
    bandwidth: float = 10.0
    reg: float = 1e-3
    iters: int = 5
    diag: bool = False
    center_grads: bool = False
    seed: int = 0


@dataclass(frozen=True, eq=False)
class LabResult:
    """A fitted lab model's views: per-round scores, importances per feature, AGOP eigenvalues, test score."""

    task: str
    metric: str
    history: dict[str, list[float]]
    best_iter: int
    features: tuple[str, ...]
    importances: np.ndarray
    eigenvalues: np.ndarray
    test_score: float


@dataclass(frozen=True, eq=False)
class ModularResult:
    """The modular demo: per-round train/test accuracy, circulant deviation per learned M, the kept M."""

    p: int
    history: dict[str, list[float]]
    deviations: list[float]
    best_iter: int
    metric: np.ndarray


def bundled_table(name: str, seed: int = 0) -> pd.DataFrame:
    """A bundled dataset as a table whose last column, `target`, is the label."""
    if name in SKLEARN_DATASETS:
        from sklearn import datasets

        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        return frame.rename(columns={frame.columns[-1]: "target"})
    rng = np.random.default_rng(seed)
    if name == "two_of_twenty":
        # The label depends on features x3 and x7 only: the RFM should rank them first.
        X = rng.normal(size=(400, 20))
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)])
        frame["target"] = (X[:, 3] * X[:, 7] > 0).astype(int)
        return frame
    if name == "friedman":
        from sklearn.datasets import make_friedman1

        X, y = make_friedman1(n_samples=400, n_features=10, random_state=seed)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
        frame["target"] = y
        return frame
    raise ValueError(f"dataset: unknown bundled dataset {name!r}; choose one of {', '.join(BUNDLED)}")


def read_csv_upload(path: str | os.PathLike, max_bytes: int, max_rows: int) -> pd.DataFrame:
    """An uploaded CSV after size and shape checks (header row, at least two columns, 20..max_rows rows)."""
    file = Path(path)
    size = file.stat().st_size
    if size > max_bytes:
        raise ValueError(f"CSV upload: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit")
    try:
        frame = pd.read_csv(file, nrows=max_rows + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"CSV upload: cannot be read as CSV ({' '.join(str(error).split())})") from None
    if frame.shape[1] < 2:
        raise ValueError("CSV upload: needs a header row and at least two columns (features and a target)")
    if not MIN_ROWS <= len(frame) <= max_rows:
        raise ValueError(f"CSV upload: has {len(frame)} rows; the lab takes {MIN_ROWS} to {max_rows}")
    return frame


def fit_table(frame: pd.DataFrame, target: str, settings: LabSettings) -> LabResult:
    """Fit an RFM predicting column `target` from the other (numeric) columns; 60/20/20 seeded split,
    features standardised on the training part, validation driving the kept round."""
    X, y, task = _features_and_target(frame, target)
    order = np.random.default_rng(settings.seed).permutation(len(y))
    train, val, test = np.split(order, [int(0.6 * len(y)), int(0.8 * len(y))])
    mean, scale = X[train].mean(0), X[train].std(0)
    X = (X - mean) / np.where(scale > 0, scale, 1.0)
    model_class = RFMClassifier if task == "classification" else RFMRegressor
    model = model_class(kernel=settings.kernel, bandwidth=settings.bandwidth, reg=settings.reg, iters=settings.iters,
                        diag=settings.diag, center_grads=settings.center_grads, random_state=settings.seed,
                        device="cpu", scoring="accuracy" if task == "classification" else "r2")
    model.fit(X[train], y[train], X[val], y[val])
    agop = model.agop_.double().cpu()
    eigenvalues = agop.numpy() if settings.diag else torch.linalg.eigvalsh(agop).numpy()
    return LabResult(task=task, metric="accuracy" if task == "classification" else "R^2",
                     history={k: list(v) for k, v in model.history_.items()}, best_iter=int(model.best_iter_),
                     features=tuple(c for c in frame.columns if c != target),
                     importances=np.asarray(model.feature_importances_, dtype=float), eigenvalues=eigenvalues,
                     test_score=float(model.score(X[test], y[test])))


def _features_and_target(frame: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray, str]:
    if target not in frame.columns:
        raise ValueError(f"target: column {target!r} is not in the table (columns: {', '.join(map(str, frame.columns))})")
    features = frame.drop(columns=[target])
    text = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise ValueError(f"CSV features: columns {', '.join(text)} are not numeric; drop them or pick one as target")
    if features.isna().any().any() or frame[target].isna().any():
        raise ValueError("CSV: has empty or NaN cells; fill or drop them first")
    X = features.to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError("CSV features: contain infinite values")
    column = frame[target]
    integer_like = pd.api.types.is_integer_dtype(column) or pd.api.types.is_bool_dtype(column)
    if not pd.api.types.is_numeric_dtype(column) or (integer_like and column.nunique() <= MAX_CLASSES):
        if column.nunique() < 2:
            raise ValueError(f"target: column {target!r} holds a single value")
        if column.nunique() > MAX_CLASSES:
            raise ValueError(f"target: column {target!r} has {column.nunique()} classes; the lab takes at most {MAX_CLASSES}")
        labels = column.to_numpy() if integer_like else np.asarray(column.astype(str), dtype=str)
        return X, labels, "classification"
    return X, column.to_numpy(dtype=np.float64), "regression"


def modular_demo(p: int, train_fraction: float = 0.75, iters: int = 12, bandwidth: float = 2.5,
                 seed: int = 0) -> ModularResult:
    """(a + b) mod p with one-hot inputs: a Gaussian-kernel RFM interpolating in float64 with centred
    gradients and M = AGOP^0.5, the settings of the grokking-by-AGOP experiments."""
    if not is_int(p) or not 3 <= p <= 31:
        raise ValueError(f"p: must be a whole number from 3 to 31 (larger runs too long here), got {p!r}")
    if not is_int(iters) or not 1 <= iters <= 30:
        raise ValueError(f"iterations: must be a whole number from 1 to 30, got {iters!r}")
    if not isinstance(train_fraction, (int, float)) or not 0.1 <= train_fraction <= 0.9:
        raise ValueError(f"train fraction: must lie in [0.1, 0.9], got {train_fraction!r}")
    if not isinstance(bandwidth, (int, float)) or not math.isfinite(bandwidth) or bandwidth <= 0:
        raise ValueError(f"bandwidth: must be a positive number, got {bandwidth!r}")
    data = modular_addition(p, train_fraction=float(train_fraction), seed=seed)
    deviations: list[float] = []

    def record(state) -> None:
        if state.M is not None:
            deviations.append(circulant_deviation(state.M, p))

    model = RFMClassifier(kernel="gaussian", bandwidth=float(bandwidth), reg=0.0, iters=iters, center_grads=True,
                          agop_power=0.5, normalize_agop=False, early_stopping=False, dtype="float64", device="cpu",
                          callback=record)
    model.fit(data.X_train, data.y_train, data.X_test, data.y_test)
    history = {"train": list(model.history_["train"]), "test": list(model.history_["val"])}
    return ModularResult(p=p, history=history, deviations=deviations, best_iter=int(model.best_iter_),
                         metric=model.M_.double().cpu().numpy())
