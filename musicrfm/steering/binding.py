"""Resolve a SteeringPlan against one model: layer indices, weighted vectors and per-step coefficients.

Everything that can be wrong with a plan for a given model is found here, before generation starts:
unknown layers, wrong widths, a probe fingerprint from another model, a schedule that fails or returns a
non-finite value inside the steps about to be generated.

>>> import torch
>>> from musicrfm.steering.plan import SteeringPlan, SteeringTerm
>>> shape = ModelShape(num_layers=2, hidden_size=4, frame_rate=50.0, delay=3)
>>> bound = bind_plan(SteeringPlan((SteeringTerm({-1: torch.ones(4)}, strength=2.0),)), shape, max_steps=10)
>>> bound.layers, bound.coefficients(0, 2).tolist()
((1,), [[2.0], [2.0]])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from musicrfm.checks import is_int
from musicrfm.models.backend import MusicGen
from musicrfm.steering.monitor import Reader
from musicrfm.steering.plan import SteeringPlan, SteeringTerm

GATE_CHUNK = 4096


@dataclass(frozen=True)
class ModelShape:
    """What a plan needs to know about a MusicGen decoder.

    `delay` is the codebook delay: the forward at token position `p` completes frame `p - delay`.
    `facts` is the model's full `MusicGen.fingerprint`, which term fingerprints are checked against.
    """

    num_layers: int
    hidden_size: int
    frame_rate: float
    delay: int
    facts: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, model) -> ModelShape:
        """Read the shape of a `MusicgenForConditionalGeneration` (MusicGen-melody is refused)."""
        wrapped = MusicGen.from_model(model)
        if wrapped.is_melody:
            # Melody prepends chroma and text to the decoder input, which shifts every cache position.
            raise ValueError("model: MusicGen-melody is not supported by the steering engine yet")
        facts = wrapped.fingerprint
        channels = 2 if facts["audio_channels"] == 2 else 1
        return cls(
            num_layers=facts["num_layers"],
            hidden_size=facts["hidden_size"],
            frame_rate=float(facts["frame_rate"]),
            delay=facts["num_codebooks"] // channels - 1,
            facts=facts,
        )


@dataclass(frozen=True, eq=False)
class BoundPlan:
    """A plan resolved for one model shape.

    `vectors[t, i]` is term `t`'s weighted direction at decoder layer `layers[i]` (zero where the term
    does not act); `coefficients(a, b)[s, t]` is `strength * schedule(a + s) * gate(a + s)` of term `t`.
    """

    terms: tuple[SteeringTerm, ...]
    layers: tuple[int, ...]
    vectors: torch.Tensor
    frame_rate: float

    @property
    def controlled(self) -> tuple[int, ...]:
        """Indices of the closed-loop terms."""
        return tuple(i for i, term in enumerate(self.terms) if term.control is not None)

    def coefficients(self, start: int, stop: int) -> np.ndarray:
        """Per-step coefficients for steps `start..stop-1`, shape `(stop - start, n_terms)`; a closed-loop
        term's is `strength * gate(step)`, its controller's output multiplying it at run time."""
        columns = [self._term_coefficients(i, term, start, stop) for i, term in enumerate(self.terms)]
        return np.stack(columns, axis=1) if columns else np.zeros((stop - start, 0))

    def goals(self, start: int, stop: int) -> np.ndarray:
        """`goal * schedule(step)` of the closed-loop terms for steps `start..stop-1`, `(steps, n_controlled)`."""
        columns = [self.terms[i].control.goal * _schedule_values(self.terms[i], start, stop) for i in self.controlled]
        return np.stack(columns, axis=1) if columns else np.zeros((stop - start, 0))

    def _term_coefficients(self, index: int, term: SteeringTerm, start: int, stop: int) -> np.ndarray:
        values = np.ones(stop - start) if term.control is not None else _schedule_values(term, start, stop)
        if term.gate_p < 1.0:
            values = values * (_gate_draws(term.seed, index, start, stop) < term.gate_p)
        return term.strength * values


def unwrap_model(model):
    """The transformers model inside a `musicrfm.models.MusicGen`, or `model` itself."""
    return model.model if isinstance(model, MusicGen) else model


def bind_plan(plan: SteeringPlan, shape: ModelShape, *, max_steps: int) -> BoundPlan:
    """Validate `plan` against `shape` and resolve it for a generation of `max_steps` frames in all.

    Schedules are evaluated on steps `0..max_steps-1` and, where they can (`validate_for`), checked to
    name no time past the end.
    """
    if not is_int(max_steps) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    terms = tuple(_with_frame_rate(term, shape.frame_rate) for term in plan.terms)
    per_term = [_resolve_term(term, shape) for term in terms]
    layers = tuple(sorted({layer for resolved in per_term for layer in resolved}))
    vectors = torch.zeros(len(terms), len(layers), shape.hidden_size, dtype=torch.float32)
    for t, resolved in enumerate(per_term):
        for layer, vector in resolved.items():
            vectors[t, layers.index(layer)] = vector
    if plan.orthogonalize:
        vectors = _orthogonalize(vectors, terms, layers)
    for term in terms:
        _check_domain(term, max_steps)
    bound = BoundPlan(terms=terms, layers=layers, vectors=vectors, frame_rate=shape.frame_rate)
    bound.coefficients(0, max_steps)  # raises on a schedule failing inside the steps to be generated
    _check_goals(bound, bound.goals(0, max_steps))
    for term in terms:
        if term.control is not None:
            check_reader(term.control.reader, shape)
    return bound


def check_reader(reader: Reader, shape: ModelShape) -> None:
    """ValueError when `reader` was made for another model than `shape`'s."""
    known = {"num_layers": shape.num_layers, "hidden_size": shape.hidden_size, **shape.facts}
    for key, value in (reader.fingerprint or {}).items():
        if key in known and known[key] != value:
            raise ValueError(f"monitor {reader.name!r}: its probe was made for a model with {key}={value}, "
                             f"this model has {known[key]}")
    if reader.width != shape.hidden_size or max(reader.layers) >= shape.num_layers:
        raise ValueError(f"monitor {reader.name!r}: reads width {reader.width} up to layer {max(reader.layers)}, "
                         f"the model has hidden size {shape.hidden_size} and {shape.num_layers} layers")


def _check_goals(bound: BoundPlan, goals: np.ndarray) -> None:
    for column, index in enumerate(bound.controlled):
        term = bound.terms[index]
        low, high = term.control.reader.value_range
        bad = np.flatnonzero((goals[:, column] < low) | (goals[:, column] > high))
        if bad.size:
            step = int(bad[0])
            raise ValueError(f"term {term.label}: goal * schedule({step}) = {goals[step, column]:g} leaves "
                             f"[{low:g}, {high:g}], the readings its monitor can give")


def _check_domain(term: SteeringTerm, steps: int) -> None:
    validate = getattr(term.schedule, "validate_for", None)
    if validate is None:
        return
    try:
        validate(steps)
    except ValueError as error:
        raise ValueError(f"term {term.label}: schedule does not fit {steps} steps: {error}") from error


def _with_frame_rate(term: SteeringTerm, frame_rate: float) -> SteeringTerm:
    # Schedules written in seconds learn the model's frame rate here; plain callables count frames.
    rebind = getattr(term.schedule, "with_frame_rate", None)
    if rebind is None:
        return term
    return replace(term, schedule=rebind(frame_rate))


def _resolve_term(term: SteeringTerm, shape: ModelShape) -> dict[int, torch.Tensor]:
    _check_fingerprint(term, shape)
    directions = term.directions
    if directions.width != shape.hidden_size:
        raise ValueError(
            f"term {term.label}: directions have width {directions.width}, the model's hidden size is "
            f"{shape.hidden_size}"
        )
    to_index = lambda layer: _layer_index(term, layer, shape.num_layers)  # noqa: E731
    vectors: dict[int, torch.Tensor] = {}
    for layer, vector in directions.vectors.items():
        index = to_index(layer)
        if index in vectors:
            raise ValueError(f"term {term.label}: layers {layer} and {index} name the same decoder layer")
        vectors[index] = vector
    weights = term.layers.map_layers(to_index).resolve(tuple(sorted(vectors)))
    if not weights:
        raise ValueError(f"term {term.label}: its layer weights select no layer")
    return {layer: weight * vectors[layer] for layer, weight in weights.items()}


def _layer_index(term: SteeringTerm, layer: int, num_layers: int) -> int:
    if not -num_layers <= layer < num_layers:
        raise ValueError(
            f"term {term.label}: layer {layer} does not exist; the model has {num_layers} decoder layers "
            f"(valid: {-num_layers}..{num_layers - 1})"
        )
    return layer % num_layers


def _check_fingerprint(term: SteeringTerm, shape: ModelShape) -> None:
    known = {"num_layers": shape.num_layers, "hidden_size": shape.hidden_size, **shape.facts}
    for key, value in (term.fingerprint or {}).items():
        if key not in known:
            raise ValueError(f"term {term.label}: fingerprint key {key!r} is not a model fact ({sorted(known)})")
        actual = known[key]
        if value != actual:
            raise ValueError(
                f"term {term.label}: probes were made for a model with {key}={value}, this model has {actual}"
            )


def _schedule_values(term: SteeringTerm, start: int, stop: int) -> np.ndarray:
    steps = np.arange(start, stop)
    vectorised = getattr(term.schedule, "values", None)
    try:
        raw = vectorised(steps) if callable(vectorised) else [term.schedule(int(step)) for step in steps]
        values = np.asarray(raw, dtype=np.float64).reshape(len(steps))
    except (ArithmeticError, ValueError, TypeError, IndexError) as error:
        raise ValueError(f"term {term.label}: schedule failed on steps {start}..{stop - 1}: {error}") from error
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        step = start + int(bad[0])
        raise ValueError(f"term {term.label}: schedule({step}) = {values[bad[0]]} is not finite")
    return values


def _gate_draws(seed: int, term_index: int, start: int, stop: int) -> np.ndarray:
    # Draws are keyed by (seed, term, step) through fixed-size chunks, so the draw for a step never
    # depends on which steps were asked for before: repeated forwards and later windows agree.
    first, last = start // GATE_CHUNK, (stop - 1) // GATE_CHUNK
    chunks = [np.random.default_rng([seed, term_index, c]).random(GATE_CHUNK) for c in range(first, last + 1)]
    offset = first * GATE_CHUNK
    return np.concatenate(chunks)[start - offset : stop - offset]


def _orthogonalize(vectors: torch.Tensor, terms: tuple[SteeringTerm, ...], layers: tuple[int, ...]) -> torch.Tensor:
    out = vectors.clone()
    for i, layer in enumerate(layers):
        active = [t for t in range(len(terms)) if vectors[t, i].abs().sum() > 0]
        if len(active) < 2:
            continue
        block = vectors[active, i].double().T  # (d, n_active), columns in term order
        q, r = torch.linalg.qr(block)
        norms = block.norm(dim=0)
        diagonal = torch.diagonal(r)
        for column, t in enumerate(active):
            if diagonal[column].abs() <= 1e-6 * norms[column]:
                raise ValueError(
                    f"term {terms[t].label}: its direction at layer {layer} is a combination of earlier "
                    "terms' directions and cannot be orthogonalised"
                )
            unit = q[:, column] * torch.sign(diagonal[column])
            out[t, i] = (unit * norms[column]).float()
    return out
