"""ConceptProbe: the per-layer concept directions and scores a trained probe hands to steering.

A probe holds, for every probed decoder layer, k unit directions (top AGOP eigenvectors, signed so that
projections grow with the concept) per direction set: one set for binary and regression probes, one per
class for multiclass probes. It turns them into what `musicrfm.steering` consumes.

>>> import torch
>>> probe = ConceptProbe(
...     concept="notes", task="binary", classes=("not_C", "C"), target="C", layers=(0, 1),
...     vectors=torch.nn.functional.normalize(torch.randn(1, 2, 1, 32), dim=-1),
...     eigenvalues=torch.ones(1, 2, 1), val_scores=(0.7, 0.9), test_scores=(0.6, 0.8), metric="auc",
...     model={"name": "tiny", "fingerprint": {"hidden_size": 32, "num_layers": 2}})
>>> probe.direction().layers, probe.layer_weights("top_k", top_k=1).resolve((0, 1))
((0, 1), {1: 1.0})
>>> probe.term(0.5, layers="exponential").strength
0.5
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch

from musicrfm import __version__
from musicrfm.checks import is_finite, is_int
from musicrfm.models.backend import MusicGen
from musicrfm.agop.compact import KernelPredictor
from musicrfm.probes.bundle import FIELDS, TENSOR_NAMES, read_bundle, write_bundle
from musicrfm.probes.predictor import pack, probe_reader, unpack
from musicrfm.steering import Control, LayerDirections, LayerWeights, Reader, SteeringPlan, SteeringTerm, apply_plan
from musicrfm.steering.weights import as_layer_weights

TASKS = ("binary", "multiclass", "regression")
METRICS = {"binary": "auc", "multiclass": "accuracy", "regression": "r2"}
LAYER_RULES = ("all", "top_k", "exponential")
# Unit directions may drift from norm 1 by float32 rounding only.
_NORM_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class ConceptProbe:
    """A trained concept probe (see the module docstring); build it with `train_probe` or `load`.

    `vectors` is float32 (n_sets, n_layers, k, d) and `eigenvalues` (n_sets, n_layers, k); `layers`
    are non-negative decoder-layer indices; `val_scores` / `test_scores` are one per layer in `metric`
    (ROC AUC, accuracy or R^2); `model` is {"name", "fingerprint"} of the model the probe read.
    `predictors` are the selected RFMs per layer (what `reader()` evaluates live; None for probes saved
    before they were kept) and `targets` a regression probe's {"mean", "std", "min", "max"} of its targets.
    """

    concept: str
    task: str
    classes: tuple[str, ...]
    target: str | None
    layers: tuple[int, ...]
    vectors: torch.Tensor
    eigenvalues: torch.Tensor
    val_scores: tuple[float, ...]
    test_scores: tuple[float, ...]
    metric: str
    model: Mapping[str, Any]
    pooling: str = "mean"
    delay_pattern: bool = True
    search: Mapping[str, Any] = field(default_factory=dict)
    dataset: Mapping[str, Any] = field(default_factory=dict)
    version: str = __version__
    predictors: tuple[KernelPredictor, ...] | None = None
    targets: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        _check_labels(self)
        object.__setattr__(self, "layers", _check_layers(self.layers))
        object.__setattr__(self, "val_scores", _check_scores(self.val_scores, "val_scores", len(self.layers)))
        object.__setattr__(self, "test_scores", _check_scores(self.test_scores, "test_scores", len(self.layers)))
        _check_tensors(self)
        _check_model(self.model, self.vectors.shape[3], max(self.layers))
        for name in ("search", "dataset", "model"):
            if not isinstance(getattr(self, name), Mapping):
                raise TypeError(f"{name} must be a mapping, got {type(getattr(self, name)).__name__}")
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        if not isinstance(self.pooling, str) or not isinstance(self.delay_pattern, bool):
            raise TypeError("pooling must be a str and delay_pattern a bool")
        _check_predictors(self)

    def __repr__(self) -> str:
        best = max(range(len(self.layers)), key=lambda i: self.val_scores[i])
        what = f"target={self.target!r}" if self.target else f"classes={len(self.classes)}" if self.classes else "regression"
        return (f"ConceptProbe(concept={self.concept!r}, task={self.task!r}, {what}, layers={len(self.layers)}, "
                f"k={self.n_components}, d={self.hidden_size}, model={self.model['name']!r}, best layer "
                f"{self.layers[best]} ({self.metric} val {self.val_scores[best]:.3f}, test {self.test_scores[best]:.3f}))")

    @property
    def n_components(self) -> int:
        """Directions k per layer and set."""
        return self.vectors.shape[2]

    @property
    def hidden_size(self) -> int:
        return self.vectors.shape[3]

    @property
    def fingerprint(self) -> Mapping[str, Any]:
        """Architecture facts of the model the probe was trained on."""
        return self.model["fingerprint"]

    @property
    def layer_scores(self) -> dict[int, float]:
        """Validation score per layer, the basis of `layer_weights`."""
        return dict(zip(self.layers, self.val_scores))

    def direction(self, target: str | None = None, component: int = 0) -> LayerDirections:
        """Per-layer unit directions of one class (multiclass: required) and eigen-component."""
        index = self._set_index(target)
        if not is_int(component) or not 0 <= component < self.n_components:
            raise ValueError(f"component must be an integer in [0, {self.n_components - 1}], got {component!r}")
        return LayerDirections({layer: self.vectors[index, i, component] for i, layer in enumerate(self.layers)})

    def layer_weights(self, rule: str = "all", *, top_k: int | None = None, base: float = 1.0,
                      kappa: float = 0.95) -> LayerWeights:
        """"all" layers, the `top_k` best by validation score, or "exponential" weights of those scores."""
        if rule == "all":
            return LayerWeights.all()
        if rule == "top_k":
            if top_k is None:
                raise ValueError("top_k must be given with rule='top_k'")
            return LayerWeights.top_k(top_k, self.layer_scores)
        if rule == "exponential":
            return LayerWeights.exponential(self.layer_scores, base=base, kappa=kappa)
        raise ValueError(f"rule must be one of {LAYER_RULES}, got {rule!r}")

    def term(
        self, strength: float, *, target: str | None = None, component: int = 0,
        layers: str | Sequence[int] | Mapping[int, float] | LayerWeights = "all", top_k: int | None = None,
        schedule: Any = 1.0, gate_p: float = 1.0, seed: int = 0, rows: str = "both", mode: str = "absolute",
        goal: float | None = None, kp: float = 2.0, ki: float = 0.5, ceiling: float = 2.0, floor: float = 0.0,
    ) -> SteeringTerm:
        """A SteeringTerm injecting this probe's direction; `layers` is a rule name ("all", "top_k" with
        `top_k`, "exponential") or anything SteeringTerm accepts; `rows` is the CFG half to steer.

        With `goal` (a probability of `target`, or a regression value inside the training range) the term
        is closed-loop: a PI controller (`kp`, `ki`, limits `floor`..`ceiling`) sets the strength factor
        per step from this probe's live reading, `strength` scales it and `schedule` shapes the goal."""
        weights = self.layer_weights(layers, top_k=top_k) if isinstance(layers, str) else as_layer_weights(layers)
        name = self.concept if self.target is None and target is None else f"{self.concept}:{target or self.target}"
        control = None if goal is None else Control(self.reader(target), goal, kp=kp, ki=ki, ceiling=ceiling,
                                                    floor=floor)
        return SteeringTerm(self.direction(target, component), strength=strength, layers=weights, schedule=schedule,
                            gate_p=gate_p, seed=seed, target=rows, mode=mode, fingerprint=dict(self.fingerprint),
                            name=name, control=control)

    def reader(self, target: str | None = None) -> Reader:
        """The live monitor's reading of this probe (`generate(..., monitor=[probe])` uses the default one):
        the probability of `target` (multiclass: required; binary: the positive class) or the regression
        value. A probe saved without its predictors is refused with one line."""
        return probe_reader(self, target)

    def check_model(self, model: Any) -> None:
        """ValueError when `model` (a MusicGen or transformers model) differs in architecture from the probe's."""
        wrapped = model if isinstance(model, MusicGen) else MusicGen.from_model(model)
        wrapped.check_fingerprint(self.fingerprint, what=f"probe '{self.concept}'")

    @contextmanager
    def steer(self, model: Any, strength: float, **term_options: Any) -> Iterator[Any]:
        """Steer `model` (MusicGen or transformers model) inside the block, yielding the bound plan; options
        as for `term`. A model of another architecture than the probe's is refused before any hook is set."""
        with apply_plan(SteeringPlan((self.term(strength, **term_options),)), model) as bound:
            yield bound

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle folder `path` (directions.safetensors + probe.json) atomically; an existing
        bundle there is replaced once the new one is whole, any other folder is refused."""
        fields = {name: getattr(self, name) for name in FIELDS if name != "predictor"}
        tensors = {name: getattr(self, name) for name in TENSOR_NAMES}
        fields["predictor"] = None
        if self.predictors is not None:
            fields["predictor"], extra = pack(self.predictors, self.targets)
            tensors.update(extra)
        return write_bundle(path, fields, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ConceptProbe:
        """Read and validate a bundle folder written by `save` (no code is ever executed)."""
        fields, tensors = read_bundle(path)
        for name in ("classes", "layers", "val_scores", "test_scores"):
            if isinstance(fields[name], list):
                fields[name] = tuple(fields[name])
        try:
            predictors, targets = unpack(fields.pop("predictor"), tensors)
            return cls(**fields, **{name: tensors[name] for name in TENSOR_NAMES}, predictors=predictors,
                       targets=targets)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"probe bundle '{Path(path).expanduser()}' is invalid: {exc}") from exc

    def _set_index(self, target: str | None) -> int:
        if self.task == "multiclass":
            if target not in self.classes:
                raise ValueError(f"target must name one of the probe's classes {list(self.classes)}, got {target!r}")
            return self.classes.index(target)
        if target is not None and target != self.target:
            raise ValueError(f"target: this {self.task} probe has a single direction set (target {self.target!r}), "
                             f"got {target!r}")
        return 0


def _check_labels(probe: ConceptProbe) -> None:
    if not isinstance(probe.concept, str) or not probe.concept:
        raise ValueError(f"concept must be a non-empty string, got {probe.concept!r}")
    if probe.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {probe.task!r}")
    if probe.metric != METRICS[probe.task]:
        raise ValueError(f"metric must be {METRICS[probe.task]!r} for a {probe.task} probe, got {probe.metric!r}")
    classes = probe.classes
    if not isinstance(classes, tuple) or not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a tuple of unique strings, got {classes!r}")
    wanted = {"binary": len(classes) == 2, "multiclass": len(classes) >= 3, "regression": not classes}[probe.task]
    if not wanted:
        raise ValueError(f"classes {list(classes)} do not fit a {probe.task} probe")
    if (probe.target is None) != (probe.task != "binary") or (probe.target is not None and probe.target != classes[1]):
        raise ValueError(f"target must be the positive class of a binary probe and None otherwise, got {probe.target!r}")


def _check_layers(layers: object) -> tuple[int, ...]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise ValueError("layers must be a non-empty sequence of layer indices")
    if any(not is_int(x) or x < 0 for x in layers) or len(set(layers)) != len(layers):
        raise ValueError(f"layers must be unique non-negative integers, got {list(layers)}")
    return tuple(layers)


def _check_scores(scores: object, name: str, n_layers: int) -> tuple[float, ...]:
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Sequence) or len(scores) != n_layers:
        raise ValueError(f"{name} must hold one score per layer ({n_layers})")
    if any(not is_finite(s) for s in scores):
        raise ValueError(f"{name} must be finite numbers, got {list(scores)}")
    return tuple(float(s) for s in scores)


def _check_tensors(probe: ConceptProbe) -> None:
    vectors, values = probe.vectors, probe.eigenvalues
    if not isinstance(vectors, torch.Tensor) or not isinstance(values, torch.Tensor):
        raise TypeError("vectors and eigenvalues must be torch tensors")
    if vectors.dtype != torch.float32 or values.dtype != torch.float32:
        raise ValueError(f"vectors and eigenvalues must be float32, got {vectors.dtype} and {values.dtype}")
    n_sets = len(probe.classes) if probe.task == "multiclass" else 1
    if vectors.ndim != 4 or vectors.shape[:2] != (n_sets, len(probe.layers)) or 0 in vectors.shape:
        raise ValueError(f"vectors must be shaped ({n_sets}, {len(probe.layers)}, k, d), got {tuple(vectors.shape)}")
    if tuple(values.shape) != tuple(vectors.shape[:3]):
        raise ValueError(f"eigenvalues must be shaped {tuple(vectors.shape[:3])}, got {tuple(values.shape)}")
    if not torch.isfinite(vectors).all() or not torch.isfinite(values).all():
        raise ValueError("vectors and eigenvalues must be finite (found NaN or infinity)")
    if ((vectors.norm(dim=-1) - 1).abs() > _NORM_TOLERANCE).any():
        raise ValueError("vectors must be unit-norm directions")


def _check_predictors(probe: ConceptProbe) -> None:
    if probe.predictors is None:
        return
    predictors = tuple(probe.predictors)
    if len(predictors) != len(probe.layers) or any(not isinstance(p, KernelPredictor) for p in predictors):
        raise ValueError(f"predictors must hold one KernelPredictor per layer ({len(probe.layers)})")
    if any(p.width != probe.hidden_size for p in predictors):
        raise ValueError(f"predictors must read width {probe.hidden_size}")
    outputs = len(probe.classes) if probe.task == "multiclass" else 1
    if any(p.n_outputs != outputs for p in predictors):
        raise ValueError(f"predictors of a {probe.task} probe must have {outputs} output(s)")
    if (probe.targets is not None) != (probe.task == "regression"):
        raise ValueError("targets must be given for a regression probe with predictors, and only then")
    object.__setattr__(probe, "predictors", predictors)


def _check_model(model: object, width: int, deepest: int) -> None:
    if not isinstance(model, Mapping) or not isinstance(model.get("name"), str):
        raise ValueError("model must be a mapping with a 'name' string and a 'fingerprint' mapping")
    fingerprint = model.get("fingerprint")
    if not isinstance(fingerprint, Mapping):
        raise ValueError("model must be a mapping with a 'name' string and a 'fingerprint' mapping")
    for key in ("hidden_size", "num_layers"):
        value = fingerprint.get(key)
        if not is_int(value) or value < 1:
            raise ValueError(f"model fingerprint[{key!r}] must be a positive integer, got {value!r}")
    if fingerprint["hidden_size"] != width or deepest >= fingerprint["num_layers"]:
        raise ValueError(f"vectors of width {width} up to layer {deepest} do not fit the model fingerprint "
                         f"(hidden_size {fingerprint['hidden_size']}, num_layers {fingerprint['num_layers']})")
