"""Schedule maths: every kind at known points, seconds vs frames, vectorised == scalar, composition, sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from musicrfm.schedules import (
    ConceptSequence,
    ConceptWeight,
    Constant,
    ExponentialDecay,
    Keyframes,
    LinearRamp,
    Logistic,
    Product,
    Scaled,
    Schedule,
    Segment,
    Sine,
    Steps,
    Sum,
)

SEQUENCE = ConceptSequence.chain([("C", 2.0), ("E", 2.0), ("G", None)], crossfade=0.5)
EXAMPLES = {
    "constant": Constant(0.7),
    "ramp_up": LinearRamp(start=1.0, end=3.0),
    "ramp_down_frames": LinearRamp(start=0.0, end=1500.0, from_value=1.0, to_value=0.0, unit="frames"),
    "decay_factor": ExponentialDecay(factor=0.998, unit="frames"),
    "decay_half_life": ExponentialDecay(half_life=1.0, start=0.5, from_value=1.0, to_value=0.2),
    "decay_rate": ExponentialDecay(rate=0.3),
    "logistic": Logistic(midpoint=2.0, width=0.25, from_value=1.0, to_value=-1.0),
    "sine": Sine(frequency=1.5, depth=0.3, offset=0.2, phase=0.1),
    "steps": Steps(boundaries=(1.0, 2.5), levels=(0.0, 1.0, 0.25)),
    "keyframes_linear": Keyframes(times=(0.5, 1.0, 3.0), levels=(0.0, 1.0, -0.5)),
    "keyframes_cosine": Keyframes(times=(0.0, 40.0, 90.0), levels=(1.0, 0.0, 2.0), interpolation="cosine",
                                  unit="frames"),
    "sequence_weight": SEQUENCE.for_concept("E"),
    "product": LinearRamp(start=0.0, end=2.0) * Sine(frequency=2.0),
    "sum": Constant(0.1) + Logistic(midpoint=1.0, width=0.1),
    "scaled": 3.0 * ExponentialDecay(half_life=0.5),
}


def test_constant_is_the_same_everywhere():
    assert Constant(0.7).values(np.array([0, 1, 10_000])).tolist() == [0.7, 0.7, 0.7]
    assert Constant()(5) == 1.0


def test_linear_ramp_in_seconds_at_50_hz_and_25_hz():
    ramp = LinearRamp(start=1.0, end=3.0)  # 0 until 1 s, 1 from 3 s
    assert [ramp(s) for s in (0, 49, 50, 100, 150, 151, 10_000)] == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    slow = ramp.with_frame_rate(25.0)
    assert [slow(s) for s in (25, 50, 75)] == [0.0, 0.5, 1.0]
    assert ramp.frame_rate == 50.0 and slow.frame_rate == 25.0


def test_linear_ramp_down_in_frames_ignores_the_frame_rate():
    down = LinearRamp(start=0.0, end=1500.0, from_value=1.0, to_value=0.0, unit="frames")
    assert [down(s) for s in (0, 750, 1500, 3000)] == [1.0, 0.5, 0.0, 0.0]
    assert down.with_frame_rate(10.0)(750) == 0.5


def test_exponential_decay_matches_the_research_per_step_factor():
    decay = ExponentialDecay(factor=0.998, unit="frames")
    for step in (0, 1, 17, 500, 1500):
        assert decay(step) == pytest.approx(0.998 ** step, rel=1e-15, abs=0)


def test_exponential_decay_half_life_start_and_floor():
    decay = ExponentialDecay(half_life=1.0, start=0.5, from_value=1.0, to_value=0.2)
    assert decay(0) == 1.0 and decay(25) == 1.0  # held before start
    assert decay(75) == pytest.approx(0.6)  # one half-life after 0.5 s: halfway to the floor
    assert decay(125) == pytest.approx(0.4)
    assert decay.with_frame_rate(100.0)(150) == pytest.approx(0.6)


def test_exponential_decay_rate_is_per_unit_time():
    decay = ExponentialDecay(rate=0.3)
    assert decay(100) == pytest.approx(math.exp(-0.6), rel=1e-15)
    assert ExponentialDecay(rate=0.3, unit="frames")(2) == pytest.approx(math.exp(-0.6), rel=1e-15)


def test_logistic_at_midpoint_and_known_offsets():
    curve = Logistic(midpoint=100.0, width=10.0, unit="frames")
    assert curve(100) == 0.5
    assert curve(100 + 10 * math.log(3)) == pytest.approx(0.75, abs=1e-15)
    steps = np.arange(0, 300)
    expected = 1.0 / (1.0 + np.exp(-(steps - 100.0) / 10.0))
    np.testing.assert_allclose(curve.values(steps), expected, rtol=1e-14, atol=1e-15)
    falling = Logistic(midpoint=2.0, width=0.25, from_value=1.0, to_value=-1.0)
    assert falling(100) == 0.0 and falling.with_frame_rate(30.0)(60) == 0.0


def test_sine_quarter_periods_in_seconds_and_frames():
    lfo = Sine(frequency=1.0)  # 0.5 + 0.5 sin(2 pi t): swings 0..1
    assert [lfo(s) for s in (0, 12.5, 25, 37.5, 50)] == pytest.approx([0.5, 1.0, 0.5, 0.0, 0.5], abs=1e-15)
    assert lfo.with_frame_rate(100.0)(25) == pytest.approx(1.0)
    shaped = Sine(frequency=0.25, depth=2.0, offset=-1.0, phase=0.25, unit="frames")
    assert [shaped(s) for s in (0, 1, 2)] == pytest.approx([1.0, -1.0, -3.0], abs=1e-14)


def test_steps_switch_at_each_boundary():
    steps = Steps(boundaries=(1.0, 2.5), levels=(0.0, 1.0, 0.25))
    assert [steps(s) for s in (0, 49, 50, 124, 125, 5000)] == [0.0, 0.0, 1.0, 1.0, 0.25, 0.25]
    at_40 = steps.with_frame_rate(40.0)
    assert [at_40(s) for s in (39, 40, 99, 100)] == [0.0, 1.0, 1.0, 0.25]


def test_keyframes_linear_hold_and_exact_levels():
    keys = Keyframes(times=(0.5, 1.0, 3.0), levels=(0.1, 1.0, 0.3))
    assert keys(0) == 0.1 and keys(10) == 0.1  # held before the first key
    assert [keys(25), keys(50), keys(150)] == [0.1, 1.0, 0.3]  # exactly the keyed levels
    assert keys(100) == pytest.approx(0.65)  # halfway from 1 s to 3 s
    assert keys(10_000) == 0.3
    assert keys.with_frame_rate(100.0)(200) == pytest.approx(0.65)


def test_keyframes_cosine_is_smooth_between_keys():
    keys = Keyframes(times=(0.0, 40.0, 90.0), levels=(1.0, 0.0, 2.0), interpolation="cosine", unit="frames")
    assert keys(10) == pytest.approx(1.0 - (1.0 - math.cos(math.pi / 4)) / 2)
    assert keys(20) == pytest.approx(0.5)
    assert keys(65) == pytest.approx(1.0)
    assert [keys(0), keys(40), keys(90), keys(200)] == [1.0, 0.0, 2.0, 2.0]
    # Zero slope at a key: the values just either side of 40 are (nearly) symmetric.
    assert keys(39.99) == pytest.approx(keys(40.01), abs=1e-6)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_vectorised_values_equal_scalar_calls(name):
    schedule = EXAMPLES[name]
    steps = np.arange(0, 400)
    table = schedule.values(steps)
    assert table.dtype == np.float64 and table.shape == (400,)
    assert np.array_equal(table, np.array([schedule(int(s)) for s in steps]))
    grid = schedule.values(steps.reshape(20, 20))
    assert grid.shape == (20, 20) and np.array_equal(grid.reshape(-1), table)
    assert schedule.values(np.array([], dtype=int)).shape == (0,)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_scalar_calls_accept_numpy_and_fractional_steps(name):
    schedule = EXAMPLES[name]
    assert isinstance(schedule(np.int64(7)), float)
    assert schedule(np.float32(7.0)) == schedule(7)
    assert schedule(7.5) == float(schedule.values(np.array([7.5]))[0])


def test_with_frame_rate_reaches_nested_schedules():
    nested = 2.0 * (LinearRamp(start=0.0, end=1.0) * SEQUENCE.for_concept("C"))
    rebound = nested.with_frame_rate(100.0)
    inner = rebound.schedule.schedules
    assert inner[0].frame_rate == 100.0 and inner[1].sequence.frame_rate == 100.0
    assert nested.schedule.schedules[0].frame_rate == 50.0  # the original is untouched
    assert rebound(50) == 2.0 * 0.5 * 1.0
    assert Constant(0.3).with_frame_rate(12.0) == Constant(0.3)


def test_operators_build_frozen_composites():
    ramp, lfo = LinearRamp(start=0.0, end=2.0), Sine(frequency=2.0)
    assert 2.0 * ramp == Scaled(ramp, 2.0) == ramp * 2
    assert np.float64(2.0) * ramp == Scaled(ramp, 2.0)
    assert ramp * lfo == Product((ramp, lfo))
    assert ramp * lfo * ramp == Product((ramp, lfo, ramp))  # flattened
    assert ramp + 0.5 == Sum((ramp, Constant(0.5)))
    assert 0.5 + ramp == Sum((Constant(0.5), ramp))
    assert (ramp + lfo) + ramp == Sum((ramp, lfo, ramp))
    with pytest.raises(TypeError):
        ramp * "loud"
    with pytest.raises(AttributeError):
        ramp.start = 3.0  # frozen


def test_composite_values_combine_their_parts():
    ramp, lfo = LinearRamp(start=0.0, end=2.0), Sine(frequency=2.0)
    steps = np.arange(0, 300)
    np.testing.assert_array_equal((ramp * lfo).values(steps), ramp.values(steps) * lfo.values(steps))
    np.testing.assert_array_equal((ramp + lfo).values(steps), ramp.values(steps) + lfo.values(steps))
    np.testing.assert_array_equal((-1.5 * lfo).values(steps), -1.5 * lfo.values(steps))
    assert (2.0 * ramp * lfo)(50) == pytest.approx(2.0 * 0.5 * 0.5)


def test_sequence_weights_with_linear_crossfades():
    assert SEQUENCE.concepts == ("C", "E", "G")
    assert SEQUENCE.weights(0) == {"C": 1.0, "E": 0.0, "G": 0.0}  # no fade-in at time 0
    assert SEQUENCE.weights(87) == {"C": 1.0, "E": 0.0, "G": 0.0}  # fade starts at 1.75 s
    assert SEQUENCE.weights(100) == {"C": 0.5, "E": 0.5, "G": 0.0}
    assert SEQUENCE.weights(106) == pytest.approx({"C": 0.26, "E": 0.74, "G": 0.0})
    assert SEQUENCE.weights(150) == {"C": 0.0, "E": 1.0, "G": 0.0}
    assert SEQUENCE.weights(200) == {"C": 0.0, "E": 0.5, "G": 0.5}
    assert SEQUENCE.weights(5000) == {"C": 0.0, "E": 0.0, "G": 1.0}  # open last segment
    table = SEQUENCE.weight_table(np.arange(0, 400))
    np.testing.assert_allclose(table["C"] + table["E"] + table["G"], 1.0, rtol=0, atol=1e-15)


def test_sequence_equal_power_crossfade_keeps_power():
    seq = ConceptSequence.chain([("C", 2.0), ("E", None)], crossfade=1.0, crossfade_shape="equal_power")
    table = seq.weight_table(np.arange(0, 200))
    np.testing.assert_allclose(table["C"] ** 2 + table["E"] ** 2, 1.0, atol=1e-15)
    assert seq.weights(100) == pytest.approx({"C": math.sqrt(0.5), "E": math.sqrt(0.5)})
    assert seq.weights(112.5)["E"] == pytest.approx(math.sin(0.375 * math.pi))  # 2.25 s: 3/4 through


def test_sequence_hard_edges_gaps_and_repeated_concepts():
    seq = ConceptSequence((Segment("C", 0.0, 1.0), Segment("E", 1.0, 2.0), Segment("C", 3.0, 4.0)))
    assert [seq.weights(s)["C"] for s in (49, 50, 99, 100, 149, 150, 199, 200)] == [1, 0, 0, 0, 0, 1, 1, 0]
    assert [seq.weights(s)["E"] for s in (49, 50, 99, 100)] == [0, 1, 1, 0]
    faded = ConceptSequence(seq.segments, crossfade=0.5)
    assert faded.weights(150) == {"C": 0.5, "E": 0.0}  # a fade-in after a gap, centred on 3 s
    assert faded.weights(125) == {"C": 0.0, "E": 0.0}  # inside the gap


def test_sequence_for_concept_is_a_schedule_matching_the_weights():
    steps = np.arange(0, 300)
    table = SEQUENCE.weight_table(steps)
    for concept in SEQUENCE.concepts:
        weight = SEQUENCE.for_concept(concept)
        assert isinstance(weight, Schedule) and weight == ConceptWeight(SEQUENCE, concept)
        np.testing.assert_array_equal(weight.values(steps), table[concept])
    assert not isinstance(SEQUENCE, Schedule)  # several values per step: ask per concept


def test_sequence_in_frames_and_at_another_rate():
    seq = ConceptSequence.chain([("C", 30.0), ("E", 30.0)], start=10.0, unit="frames", crossfade=10.0)
    assert seq.segments == (Segment("C", 10.0, 40.0), Segment("E", 40.0, 70.0))
    assert seq.weights(5) == {"C": 0.0, "E": 0.0}  # fading in around frame 10
    assert seq.weights(10) == {"C": 0.5, "E": 0.0}
    assert seq.weights(40) == {"C": 0.5, "E": 0.5}
    assert seq.weights(80) == {"C": 0.0, "E": 0.0}
    at_25 = SEQUENCE.with_frame_rate(25.0)
    assert at_25.weights(50) == {"C": 0.5, "E": 0.5, "G": 0.0}
