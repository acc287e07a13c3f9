"""Readers: what a live monitor evaluates to tell what concept the model is playing, from its residual stream.

A `Reader` holds, for each probe layer, the probe's own RFM predictor (`musicrfm.agop.KernelPredictor`),
and turns pooled states `(rows, n_layers, d)` of those layers into one number per row: the probability
of a class (binary and multiclass probes, the RFM classifier's `predict_proba`) or a target value in the
probe's units (regression), averaged over layers with the probe's weights (validation scores, clipped at
0 and normalised). `ConceptProbe.reader()` builds one; `generate(..., monitor=[...])` runs them live
(`musicrfm.steering.loop`).

>>> import torch
>>> from musicrfm.agop import Kernel, KernelPredictor
>>> one = KernelPredictor(torch.zeros(1, 2), torch.ones(1, 1), None, Kernel("laplace", 1.0, 1.0))
>>> reader = Reader("fast", layers=(0,), predictors=(one,), weights=(1.0,), task="binary")
>>> [round(p, 4) for p in reader.read(torch.zeros(3, 1, 2)).tolist()]  # k(0, 0) = 1: certainly "fast"
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from musicrfm.agop.compact import KernelPredictor
from musicrfm.agop.estimators import PROBA_EPS
from musicrfm.checks import is_finite, is_int

TASKS = ("binary", "multiclass", "regression")
POOLINGS = ("mean", "last", "max")


@dataclass(frozen=True, eq=False)
class Reader:
    """A concept reading from pooled residual states.

    Args:
        name: label of the reading (trace column).
        layers: decoder layers (non-negative) whose pooled states the predictors read, in order.
        predictors: one per layer; raw outputs are the RFM's regression outputs.
        weights: one non-negative weight per layer, summing to 1 (normalised here).
        task: "binary" (probability of the positive class), "multiclass" (probability of class `column`),
            "regression" (value `mean + std * raw`, see `scale`).
        column: the class index of a multiclass reading.
        scale: (mean, std) of a regression probe's training targets.
        value_range: the goals a controller may ask for: [0, 1], or the training targets' range.
        pooling: how frames are pooled, as the probe was trained ("mean", "last" or "max").
        fingerprint: facts of the model the probe read; a monitor on another model is refused.
    """

    name: str
    layers: tuple[int, ...]
    predictors: tuple[KernelPredictor, ...]
    weights: tuple[float, ...]
    task: str
    column: int = 0
    scale: tuple[float, float] = (0.0, 1.0)
    value_range: tuple[float, float] = (0.0, 1.0)
    pooling: str = "mean"
    fingerprint: Mapping[str, object] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"reader {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"reader {self.name!r}: pooling must be one of {POOLINGS} to be read live, "
                             f"got {self.pooling!r}")
        n = len(self.layers)
        if n == 0 or len(self.predictors) != n or len(self.weights) != n:
            raise ValueError(f"reader {self.name!r}: needs one predictor and one weight per layer ({n})")
        if any(not is_int(layer) or layer < 0 for layer in self.layers):
            raise ValueError(f"reader {self.name!r}: layers must be non-negative ints, got {list(self.layers)}")
        if any(not is_finite(w) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"reader {self.name!r}: weights must be non-negative with a positive sum")
        total = float(sum(self.weights))
        object.__setattr__(self, "weights", tuple(float(w) / total for w in self.weights))
        object.__setattr__(self, "layers", tuple(int(layer) for layer in self.layers))
        low, high = self.value_range
        if not (is_finite(low) and is_finite(high) and low <= high):
            raise ValueError(f"reader {self.name!r}: value_range must be finite (low, high), got {self.value_range}")

    @property
    def width(self) -> int:
        return self.predictors[0].width

    def read(self, pooled: torch.Tensor) -> torch.Tensor:
        """Readings (rows,) from pooled states (rows, n_layers, d) of `layers`, in float32."""
        out = None
        for i, predictor in enumerate(self.predictors):
            value = self.weights[i] * self._output(predictor(pooled[:, i].float()))
            out = value if out is None else out + value
        return out

    def _output(self, raw: torch.Tensor) -> torch.Tensor:
        if self.task == "regression":
            return self.scale[0] + self.scale[1] * raw[:, 0]
        if self.task == "binary":
            raw = torch.cat([1 - raw, raw], dim=1)
        raw = raw.clamp(min=PROBA_EPS, max=1.0)  # as RFMClassifier.predict_proba
        column = 1 if self.task == "binary" else self.column
        return raw[:, column] / raw.sum(dim=1)


def as_readers(monitor: Sequence[object] | None) -> tuple[Reader, ...]:
    """Readers from `monitor`: Readers, or objects with a `reader()` method (a ConceptProbe)."""
    if monitor is None:
        return ()
    if isinstance(monitor, (str, bytes)) or not isinstance(monitor, Sequence):
        monitor = [monitor]
    readers = []
    for i, item in enumerate(monitor):
        if not isinstance(item, Reader):
            if not callable(getattr(item, "reader", None)):
                raise TypeError(f"monitor[{i}] must be a Reader or a probe, got {type(item).__name__}")
            item = item.reader()
        readers.append(item)
    return tuple(readers)
