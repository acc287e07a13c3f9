"""Concept directions as values: one vector per decoder layer, with arithmetic.

A `LayerDirections` is what a probe produces and what a `SteeringTerm` injects. Sets combine like vectors
(sum, difference, scaling, negation) layer by layer, so concepts can be mixed before steering.

>>> import torch
>>> major = LayerDirections({0: torch.tensor([1.0, 0.0]), 1: torch.tensor([0.0, 2.0])})
>>> minor = LayerDirections.from_tensor(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
>>> mixed = (0.5 * major - minor).normalized()
>>> mixed.layers, mixed.width
((0, 1), 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from musicrfm.checks import is_int, is_real


@dataclass(frozen=True, eq=False)
class LayerDirections:
    """Per-layer direction vectors `{layer: (d,) tensor}`, all of one width, stored as float32 on the CPU.

    Layer keys may be negative (counted from the last decoder layer); they are resolved against a model
    only when a plan is applied.
    """

    vectors: Mapping[int, torch.Tensor]

    def __post_init__(self) -> None:
        if not isinstance(self.vectors, Mapping):
            raise TypeError(f"vectors must be a mapping of layer -> tensor, got {type(self.vectors).__name__}")
        if not self.vectors:
            raise ValueError("vectors must name at least one layer")
        clean: dict[int, torch.Tensor] = {}
        for layer, vector in sorted(self.vectors.items(), key=lambda item: _layer_key(item[0])):
            clean[layer] = _clean_vector(layer, vector)
        widths = {v.shape[0] for v in clean.values()}
        if len(widths) != 1:
            raise ValueError(f"vectors must all have one width, got widths {sorted(widths)}")
        # A read-only view keeps the frozen value from being mutated through its mapping.
        object.__setattr__(self, "vectors", MappingProxyType(clean))

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor) -> LayerDirections:
        """Build from an `(n_layers, d)` tensor whose row `i` is the direction for layer `i`."""
        if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2:
            raise ValueError("directions tensor must be 2-D with shape (n_layers, d)")
        return cls({i: row for i, row in enumerate(tensor)})

    @property
    def layers(self) -> tuple[int, ...]:
        """The layer keys, in ascending order."""
        return tuple(self.vectors)

    @property
    def width(self) -> int:
        """The hidden size `d` of every vector."""
        return next(iter(self.vectors.values())).shape[0]

    def normalized(self) -> LayerDirections:
        """Each layer's vector scaled to unit L2 norm (a zero vector is refused)."""
        out = {}
        for layer, vector in self.vectors.items():
            norm = float(vector.norm())
            if norm == 0.0:
                raise ValueError(f"vectors[{layer}] is zero and cannot be normalized")
            out[layer] = vector / norm
        return LayerDirections(out)

    def __add__(self, other: LayerDirections) -> LayerDirections:
        return self._combine(other, torch.add)

    def __sub__(self, other: LayerDirections) -> LayerDirections:
        return self._combine(other, torch.sub)

    def __mul__(self, factor: float) -> LayerDirections:
        factor = _scalar(factor)
        return LayerDirections({layer: vector * factor for layer, vector in self.vectors.items()})

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> LayerDirections:
        divisor = _scalar(divisor)
        if divisor == 0.0:
            raise ValueError("cannot divide a LayerDirections by zero")
        return self * (1.0 / divisor)

    def __neg__(self) -> LayerDirections:
        return self * -1.0

    def _combine(self, other: LayerDirections, op) -> LayerDirections:
        if not isinstance(other, LayerDirections):
            return NotImplemented
        if self.layers != other.layers or self.width != other.width:
            raise ValueError(
                f"cannot combine LayerDirections over layers {self.layers} (d={self.width}) "
                f"and {other.layers} (d={other.width})"
            )
        return LayerDirections({layer: op(self.vectors[layer], other.vectors[layer]) for layer in self.layers})


def as_layer_directions(directions: LayerDirections | Mapping[int, torch.Tensor] | torch.Tensor) -> LayerDirections:
    """Coerce a LayerDirections, a `{layer: vector}` mapping or an `(n_layers, d)` tensor to a LayerDirections."""
    if isinstance(directions, LayerDirections):
        return directions
    if isinstance(directions, torch.Tensor):
        return LayerDirections.from_tensor(directions)
    if isinstance(directions, Mapping):
        return LayerDirections(directions)
    raise TypeError(
        f"directions must be a LayerDirections, a mapping or a tensor, got {type(directions).__name__}"
    )


def _layer_key(layer: object) -> int:
    if not is_int(layer):
        raise TypeError(f"vectors keys must be int layer indices, got {layer!r}")
    return layer


def _clean_vector(layer: int, vector: object) -> torch.Tensor:
    if not isinstance(vector, torch.Tensor):
        raise TypeError(f"vectors[{layer}] must be a torch.Tensor, got {type(vector).__name__}")
    if vector.ndim != 1 or vector.shape[0] == 0:
        raise ValueError(f"vectors[{layer}] must be a non-empty 1-D tensor, got shape {tuple(vector.shape)}")
    if not vector.is_floating_point():
        raise TypeError(f"vectors[{layer}] must be floating point, got {vector.dtype}")
    clean = vector.detach().to(device="cpu", dtype=torch.float32).clone()
    if not torch.isfinite(clean).all():
        raise ValueError(f"vectors[{layer}] contains NaN or infinite values")
    return clean


def _scalar(value: object) -> float:
    if not is_real(value):
        raise TypeError(f"a LayerDirections can only be scaled by a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"scale factor must be finite, got {value}")
    return float(value)
