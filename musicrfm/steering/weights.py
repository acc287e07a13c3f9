"""Which decoder layers a steering term acts on, and how strongly each.

Four rules, as in the MusicRFM paper: every layer that has a direction; the top-k layers by probe score;
exponential weighting `w_l = base * s_l ** (1 / kappa)` of min-max normalised probe scores `s_l`; or an
explicit list (weight 1) or `{layer: weight}` mapping.

>>> LayerWeights.top_k(1, {0: 0.7, 1: 0.9}).resolve((0, 1))
{1: 1.0}
>>> LayerWeights.exponential({0: 0.5, 1: 1.0}).resolve((0, 1))
{1: 1.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from musicrfm.checks import check_positive, is_finite, is_int

Kind = Literal["all", "top_k", "exponential", "explicit"]
_KINDS = ("all", "top_k", "exponential", "explicit")


@dataclass(frozen=True)
class LayerWeights:
    """A rule mapping the layers that have directions to per-layer weights; build it with a classmethod.

    Layer keys in `scores` and `weights` may be negative; `map_layers` rewrites them once the model's
    depth is known, before `resolve`.
    """

    kind: Kind = "all"
    k: int | None = None
    scores: Mapping[int, float] | None = None
    base: float = 1.0
    kappa: float = 0.95
    weights: Mapping[int, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if self.kind == "top_k" and (not is_int(self.k) or self.k < 1):
            raise ValueError(f"k must be a positive int for top_k weights, got {self.k!r}")
        if self.kind in ("top_k", "exponential"):
            object.__setattr__(self, "scores", _freeze(self.scores, "scores"))
        if self.kind == "exponential":
            check_positive(self.base, "base")
            check_positive(self.kappa, "kappa")
        if self.kind == "explicit":
            object.__setattr__(self, "weights", _freeze(self.weights, "weights"))

    @classmethod
    def all(cls) -> LayerWeights:
        """Weight 1 on every layer that has a direction (the research default)."""
        return cls("all")

    @classmethod
    def top_k(cls, k: int, scores: Mapping[int, float]) -> LayerWeights:
        """Weight 1 on the `k` layers with the highest probe score (ties go to the lower layer)."""
        return cls("top_k", k=k, scores=scores)

    @classmethod
    def exponential(cls, scores: Mapping[int, float], base: float = 1.0, kappa: float = 0.95) -> LayerWeights:
        """`w_l = base * s_l ** (1 / kappa)` with scores min-max normalised; the worst layer gets 0."""
        return cls("exponential", scores=scores, base=base, kappa=kappa)

    @classmethod
    def explicit(cls, layers: Sequence[int] | Mapping[int, float]) -> LayerWeights:
        """A list of layers (weight 1 each) or a `{layer: weight}` mapping."""
        if isinstance(layers, Mapping):
            return cls("explicit", weights=layers)
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
            raise TypeError(f"layers must be a sequence of ints or a mapping, got {type(layers).__name__}")
        return cls("explicit", weights={layer: 1.0 for layer in layers})

    def map_layers(self, fn) -> LayerWeights:
        """A copy with every layer key passed through `fn` (used to resolve negative indices)."""
        remap = (lambda m: None if m is None else {fn(layer): value for layer, value in m.items()})
        return LayerWeights(self.kind, self.k, remap(self.scores), self.base, self.kappa, remap(self.weights))

    def resolve(self, available: Sequence[int]) -> dict[int, float]:
        """`{layer: weight}` over the `available` layers (those with a direction); zero weights are dropped."""
        if self.kind == "all":
            return {layer: 1.0 for layer in available}
        if self.kind == "explicit":
            _require_subset(self.weights, available, "weights")
            return {layer: w for layer, w in self.weights.items() if w != 0.0}
        _require_subset(self.scores, available, "scores")
        if self.kind == "top_k":
            if self.k > len(self.scores):
                raise ValueError(f"k={self.k} exceeds the {len(self.scores)} scored layers")
            ranked = sorted(self.scores, key=lambda layer: (-self.scores[layer], layer))
            return {layer: 1.0 for layer in sorted(ranked[: self.k])}
        return self._exponential()

    def _exponential(self) -> dict[int, float]:
        low, high = min(self.scores.values()), max(self.scores.values())
        span = high - low
        # Equal scores carry no ranking: weigh every layer fully rather than divide by zero.
        normalised = {layer: 1.0 if span == 0 else (s - low) / span for layer, s in self.scores.items()}
        weights = {layer: self.base * s ** (1.0 / self.kappa) for layer, s in normalised.items()}
        return {layer: w for layer, w in sorted(weights.items()) if w != 0.0}


def as_layer_weights(layers: LayerWeights | str | Sequence[int] | Mapping[int, float]) -> LayerWeights:
    """Coerce `"all"`, a list of layers, a `{layer: weight}` mapping or a LayerWeights."""
    if isinstance(layers, LayerWeights):
        return layers
    if layers == "all":
        return LayerWeights.all()
    if isinstance(layers, str):
        raise ValueError(f"layers must be 'all', a list, a mapping or LayerWeights, got {layers!r}")
    return LayerWeights.explicit(layers)


def _freeze(mapping: Mapping[int, float] | None, field: str) -> Mapping[int, float]:
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(f"{field} must be a non-empty mapping of layer -> number")
    clean = {}
    for layer, value in mapping.items():
        if not is_int(layer):
            raise TypeError(f"{field} keys must be int layers, got {layer!r}")
        if not is_finite(value):
            raise ValueError(f"{field}[{layer}] must be a finite number, got {value!r}")
        clean[layer] = float(value)
    return MappingProxyType(clean)




def _require_subset(mapping: Mapping[int, float], available: Sequence[int], field: str) -> None:
    missing = sorted(set(mapping) - set(available))
    if missing:
        raise ValueError(f"{field} names layers {missing} that have no direction (available: {list(available)})")
