"""Steering value objects and plan binding: arithmetic, layer weights, gates, validation (no generation)."""

import math

import numpy as np
import pytest
import torch

from musicrfm.steering.binding import ModelShape, bind_plan
from musicrfm.steering.directions import LayerDirections
from musicrfm.steering.plan import SteeringPlan, SteeringTerm
from musicrfm.schedules import LinearRamp
from musicrfm.steering.weights import LayerWeights

SHAPE = ModelShape(num_layers=4, hidden_size=8, frame_rate=50.0, delay=3)


def _vectors(seed=0, layers=(0, 1, 2, 3), d=8):
    generator = torch.Generator().manual_seed(seed)
    return {layer: torch.randn(d, generator=generator) for layer in layers}


def _bind(*terms, orthogonalize=False, steps=100):
    return bind_plan(SteeringPlan(terms, orthogonalize=orthogonalize), SHAPE, max_steps=steps)


def test_direction_arithmetic_is_layerwise():
    a, b = LayerDirections(_vectors(0)), LayerDirections(_vectors(1))
    mixed = 2 * a - b / 4 + (-a)
    for layer in a.layers:
        expected = 2 * a.vectors[layer] - b.vectors[layer] / 4 - a.vectors[layer]
        torch.testing.assert_close(mixed.vectors[layer], expected)
    unit = mixed.normalized()
    assert all(math.isclose(float(v.norm()), 1.0, rel_tol=1e-6) for v in unit.vectors.values())


def test_direction_set_from_tensor_and_refusals():
    rows = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    assert LayerDirections.from_tensor(rows).layers == (0, 1, 2)
    with pytest.raises(ValueError, match="one width"):
        LayerDirections({0: torch.ones(3), 1: torch.ones(4)})
    with pytest.raises(ValueError, match=r"vectors\[0\] contains NaN"):
        LayerDirections({0: torch.tensor([1.0, float("nan")])})
    with pytest.raises(ValueError, match="cannot combine"):
        LayerDirections({0: torch.ones(2)}) + LayerDirections({1: torch.ones(2)})
    with pytest.raises(TypeError, match="real number"):
        LayerDirections({0: torch.ones(2)}) * "2"


def test_layer_weight_rules():
    scores = {0: 0.2, 1: 0.6, 2: 1.0, 3: 0.4}
    assert LayerWeights.all().resolve((0, 1, 2, 3)) == {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}
    assert LayerWeights.top_k(2, scores).resolve((0, 1, 2, 3)) == {1: 1.0, 2: 1.0}
    weights = LayerWeights.exponential(scores, base=2.0, kappa=0.5).resolve((0, 1, 2, 3))
    # min-max normalised: 0 -> 0 (dropped), 1 -> 0.5, 2 -> 1, 3 -> 0.25; w = 2 * s ** 2
    assert weights == pytest.approx({1: 0.5, 2: 2.0, 3: 0.125})
    assert LayerWeights.explicit([1, 3]).resolve((0, 1, 2, 3)) == {1: 1.0, 3: 1.0}
    with pytest.raises(ValueError, match="no direction"):
        LayerWeights.explicit({5: 1.0}).resolve((0, 1))
    with pytest.raises(ValueError, match="k=3 exceeds"):
        LayerWeights.top_k(3, {0: 1.0, 1: 2.0}).resolve((0, 1))
    with pytest.raises(ValueError, match="kappa"):
        LayerWeights.exponential(scores, kappa=0.0)


def test_term_refuses_bad_fields():
    vectors = _vectors()
    with pytest.raises(ValueError, match="strength must be finite"):
        SteeringTerm(vectors, strength=float("nan"))
    with pytest.raises(ValueError, match="gate_p"):
        SteeringTerm(vectors, gate_p=1.5)
    with pytest.raises(ValueError, match="target"):
        SteeringTerm(vectors, target="left")
    with pytest.raises(ValueError, match="mode"):
        SteeringTerm(vectors, mode="percent")
    with pytest.raises(TypeError, match="schedule"):
        SteeringTerm(vectors, schedule="ramp")
    with pytest.raises(ValueError, match="must be a number or a string"):
        SteeringTerm(vectors, fingerprint={"num_layers": [4]})


@pytest.mark.parametrize(
    ("term", "message"),
    [
        (SteeringTerm({7: torch.ones(8)}, name="far"), "term far: layer 7 does not exist"),
        (SteeringTerm({0: torch.ones(5)}, name="thin"), "width 5, the model's hidden size is 8"),
        (SteeringTerm(_vectors(), fingerprint={"num_layers": 24}, name="fp"), "num_layers=24, this model has 4"),
        (SteeringTerm(_vectors(), fingerprint={"layers": 4}, name="fk"), "'layers' is not a model fact"),
        (SteeringTerm({1: torch.ones(8), -3: torch.ones(8)}, name="dup"), "same decoder layer"),
        (SteeringTerm(_vectors(), schedule=LinearRamp(0.0, 4.0), name="ramp"), "past the end"),
        (SteeringTerm(_vectors(), schedule=lambda s: math.nan if s > 60 else 1.0, name="nan"), r"schedule\(61\)"),
    ],
)
def test_binding_refuses_plans_that_do_not_fit_the_model(term, message):
    with pytest.raises(ValueError, match=message):
        _bind(term)


def test_binding_resolves_negative_layers_and_weights():
    vectors = _vectors()
    term = SteeringTerm({-1: vectors[3], 0: vectors[0]}, layers={-1: 0.5}, strength=2.0)
    bound = _bind(term)
    assert bound.layers == (3,)
    torch.testing.assert_close(bound.vectors[0, 0], 0.5 * vectors[3])


def test_coefficients_combine_strength_schedule_and_gate():
    term = SteeringTerm(_vectors(), strength=0.5, schedule=lambda step: step / 10, gate_p=1.0)
    table = _bind(term).coefficients(0, 20)
    np.testing.assert_allclose(table[:, 0], 0.5 * np.arange(20) / 10)


def test_gate_draws_are_keyed_by_step_and_term():
    terms = [SteeringTerm(_vectors(), gate_p=0.3, seed=7), SteeringTerm(_vectors(), gate_p=0.3, seed=7)]
    bound = _bind(*terms, steps=10000)
    whole = bound.coefficients(0, 10000)
    # Asking for a later range alone (as a later window does) gives the same draws.
    np.testing.assert_array_equal(whole[5000:6000], bound.coefficients(5000, 6000))
    assert abs(whole[:, 0].mean() - 0.3) < 0.03
    assert not np.array_equal(whole[:, 0], whole[:, 1]), "terms must draw independently"
    again = _bind(*terms, steps=10000).coefficients(0, 10000)
    np.testing.assert_array_equal(whole, again)


def test_orthogonalize_within_layer_keeps_norms_and_order():
    first, second = _vectors(0), _vectors(1)
    second[2] = second[2] + 3 * first[2]  # strongly overlapping at layer 2
    bound = _bind(SteeringTerm(first), SteeringTerm(second), orthogonalize=True)
    a, b = bound.vectors[0, 2], bound.vectors[1, 2]
    torch.testing.assert_close(a, first[2])
    assert abs(float(a @ b)) < 1e-4 * float(a.norm() * b.norm())
    assert math.isclose(float(b.norm()), float(second[2].norm()), rel_tol=1e-5)
    assert float(b @ second[2]) > 0


def test_orthogonalize_refuses_parallel_directions():
    first = _vectors(0)
    with pytest.raises(ValueError, match="cannot be orthogonalised"):
        _bind(SteeringTerm(first), SteeringTerm({k: -2 * v for k, v in first.items()}), orthogonalize=True)
