"""Schedule text: dict / YAML / JSON round trips for every kind, files, and every validation message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_schedules import EXAMPLES, SEQUENCE

from musicrfm.schedules import (ConceptSequence, ConceptWeight, Constant, ExponentialDecay, Keyframes,
                                        LinearRamp, Logistic, Product, Scaled, Segment, Sine, Steps, Sum,
                                        load_schedule, save_schedule, schedule_from_dict, schedule_kinds)

ALL = {
    **EXAMPLES,
    "sequence": ConceptSequence.chain([("C", 1e-05), ("E", 0.1), ("G", 1 / 3)], crossfade=1e-05,
                                      crossfade_shape="equal_power", unit="frames", frame_rate=32.5),
    "deep": Sum((Scaled(Product((SEQUENCE.for_concept("G"), Steps((0.1,), (1 / 3, 2e-7)))), -0.25),
                 Keyframes((0.0, 1e-3), (1e300, -1e-300)))),
}


def test_every_kind_has_a_round_trip_example():
    kinds = {spec.kind for spec in ALL.values()}
    assert kinds == set(schedule_kinds())


@pytest.mark.parametrize("name", sorted(ALL))
def test_dict_yaml_json_round_trips_are_equal(name):
    spec = ALL[name]
    data = spec.to_dict()
    assert next(iter(data)) == "kind" and data["kind"] == spec.kind
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    assert schedule_from_dict(data) == spec
    assert load_schedule(spec.to_yaml()) == spec
    assert load_schedule(spec.to_json()) == spec


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_save_and_load_files(tmp_path, suffix):
    spec = ALL["deep"]
    path = save_schedule(spec, tmp_path / f"job{suffix}")
    assert load_schedule(path) == spec and load_schedule(str(path)) == spec
    text = path.read_text()
    assert (json.loads(text) if suffix == ".json" else yaml.safe_load(text)) == spec.to_dict()
    save_schedule(Constant(0.5), path)  # replaces the old file whole
    assert load_schedule(path) == Constant(0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"job{suffix}"]  # no temporary left behind


def test_save_into_a_missing_folder_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="absent' does not exist"):
        save_schedule(Constant(), tmp_path / "absent" / "job.yaml")
    assert list(tmp_path.iterdir()) == []


def test_load_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_schedule(str(tmp_path / "nothing.yaml"))


def test_hand_written_yaml_with_ints_and_defaults():
    text = """
    kind: sequence
    segments:
      - {concept: C, start: 0, end: 2}
      - {concept: E, start: 2}
    crossfade: 1
    """
    seq = load_schedule(text)
    assert seq == ConceptSequence((Segment("C", 0.0, 2.0), Segment("E", 2.0)), crossfade=1.0)
    assert isinstance(seq.crossfade, float) and seq.frame_rate == 50.0
    assert load_schedule("kind: exponential_decay\nfactor: 0.998\nunit: frames\n")(3) == 0.998 ** 3


@pytest.mark.parametrize(("written", "value"), [("1e-5", 1e-5), ("2.5E3", 2500.0), ("-.5e-2", -0.005), ("+3", 3.0)])
def test_yaml_numbers_in_exponent_notation_are_numbers(written, value):
    assert load_schedule(f"kind: constant\nvalue: {written}\n") == Constant(value)


def test_none_fields_are_left_out_of_the_text():
    data = ExponentialDecay(half_life=2.0).to_dict()
    assert "rate" not in data and "factor" not in data and data["half_life"] == 2.0
    assert "end" not in SEQUENCE.to_dict()["segments"][-1]


def _raises(error, match, build):
    with pytest.raises(error) as caught:
        build()
    assert match in str(caught.value), str(caught.value)


CONSTRUCTION_ERRORS = [
    (TypeError, "constant.value: must be a number (got str", lambda: Constant("1")),
    (TypeError, "constant.value: must be a number (got bool", lambda: Constant(True)),
    (ValueError, "constant.value: must be finite (got inf)", lambda: Constant(float("inf"))),
    (ValueError, "linear_ramp.unit: must be 'seconds' or 'frames' (got 'ms')", lambda: LinearRamp(0, 1, unit="ms")),
    (ValueError, "linear_ramp.frame_rate: must be > 0 (got 0.0)", lambda: LinearRamp(0, 1, frame_rate=0)),
    (ValueError, "linear_ramp.frame_rate: must be finite", lambda: LinearRamp(0, 1, frame_rate=float("nan"))),
    (ValueError, "linear_ramp.start: must be >= 0 (got -1.0)", lambda: LinearRamp(-1, 1)),
    (ValueError, "linear_ramp.end: must be > start (got 1.0 <= 2.0)", lambda: LinearRamp(2, 1)),
    (ValueError, "linear_ramp.to_value: must be finite", lambda: LinearRamp(0, 1, to_value=float("-inf"))),
    (ValueError, "exponential_decay.rate/half_life/factor: give exactly one (got none)", ExponentialDecay),
    (ValueError, "exponential_decay.rate/half_life/factor: give exactly one (got rate, half_life)",
     lambda: ExponentialDecay(rate=1.0, half_life=1.0)),
    (ValueError, "exponential_decay.factor: must be < 1 for a decay (got 1.5)", lambda: ExponentialDecay(factor=1.5)),
    (ValueError, "exponential_decay.factor: must be > 0 (got 0.0)", lambda: ExponentialDecay(factor=0)),
    (ValueError, "exponential_decay.rate: must be > 0 (got 0.0)", lambda: ExponentialDecay(rate=0)),
    (ValueError, "exponential_decay.half_life: must be > 0 (got -2.0)", lambda: ExponentialDecay(half_life=-2)),
    (ValueError, "exponential_decay.start: must be >= 0", lambda: ExponentialDecay(rate=1, start=-1)),
    (ValueError, "logistic.width: must be > 0 (got 0.0)", lambda: Logistic(1.0, 0.0)),
    (ValueError, "logistic.midpoint: must be >= 0", lambda: Logistic(-1.0, 1.0)),
    (ValueError, "sine.frequency: must be > 0", lambda: Sine(0.0)),
    (ValueError, "sine.depth: must be >= 0", lambda: Sine(1.0, depth=-1.0)),
    (ValueError, "steps.boundaries: needs at least one", lambda: Steps((), (1.0,))),
    (ValueError, "steps.boundaries[0]: must be > 0 (got 0.0)", lambda: Steps((0.0,), (1.0, 2.0))),
    (ValueError, "steps.boundaries[1]: must be > boundaries[0] (got 1.0 <= 1.0)", lambda: Steps((1, 1), (0, 1, 2))),
    (ValueError, "steps.levels: needs len(boundaries) + 1 = 2 values (got 1)", lambda: Steps((1.0,), (1.0,))),
    (TypeError, "steps.levels: must be a list of numbers (got str)", lambda: Steps((1.0,), "01")),
    (ValueError, "keyframes.times: needs at least 2 keyframes (got 1)", lambda: Keyframes((0.0,), (1.0,))),
    (ValueError, "keyframes.times[2]: must be > times[1] (got 1.0 <= 2.0)", lambda: Keyframes((0, 2, 1), (0, 1, 2))),
    (ValueError, "keyframes.times[0]: must be >= 0 (got -1.0)", lambda: Keyframes((-1, 2), (0, 1))),
    (ValueError, "keyframes.levels: needs one level per time: 2 (got 3)", lambda: Keyframes((0, 1), (0, 1, 2))),
    (ValueError, "keyframes.interpolation: must be 'linear' or 'cosine' (got 'cubic')",
     lambda: Keyframes((0, 1), (0, 1), interpolation="cubic")),
    (ValueError, "product.schedules: needs at least 2 schedules (got 1)", lambda: Product((Constant(),))),
    (TypeError, "sum.schedules: must be a list of schedules (got Constant)", lambda: Sum(Constant())),
    (TypeError, "product.schedules[1]: must be a Schedule (got ConceptSequence) (a sequence gives one per concept",
     lambda: Product((Constant(), SEQUENCE))),
    (TypeError, "scaled.schedule: must be a Schedule (got float)", lambda: Scaled(1.0, 2.0)),
    (ValueError, "scaled.scale: must be finite", lambda: Scaled(Constant(), float("nan"))),
    (ValueError, "segment.concept: must be a non-empty string (got '  ')", lambda: Segment("  ", 0.0)),
    (ValueError, "segment.start: must be >= 0", lambda: Segment("C", -1.0)),
    (ValueError, "segment.end: must be > start (got 1.0 <= 1.0)", lambda: Segment("C", 1.0, 1.0)),
    (TypeError, "sequence.segments: must be a list of Segment", lambda: ConceptSequence(({"concept": "C"},))),
    (ValueError, "sequence.segments: needs at least one segment", lambda: ConceptSequence(())),
    (ValueError, "sequence.crossfade: must be >= 0", lambda: ConceptSequence((Segment("C", 0),), crossfade=-1)),
    (ValueError, "sequence.crossfade_shape: must be 'linear' or 'equal_power'",
     lambda: ConceptSequence((Segment("C", 0),), crossfade_shape="cosine")),
    (ValueError, "sequence.segments[0].end: only the last segment may be open",
     lambda: ConceptSequence((Segment("C", 0), Segment("E", 2)))),
    (ValueError, "sequence.segments[1].start: overlaps segments[0] (starts at 1.5 < its end 2.0)",
     lambda: ConceptSequence((Segment("C", 0, 2), Segment("E", 1.5, 3)))),
    (ValueError, "sequence.segments[1].concept: repeats 'C' right after segments[0]",
     lambda: ConceptSequence((Segment("C", 0, 2), Segment("C", 2, 3)))),
    (ValueError, "sequence.crossfade: must be <= every segment's length (got 1.5 > 1.0 in segments[1])",
     lambda: ConceptSequence.chain([("C", 2.0), ("E", 1.0), ("G", None)], crossfade=1.5)),
    (ValueError, "sequence.durations[0]: only the last duration may be None",
     lambda: ConceptSequence.chain([("C", None), ("E", 1.0)])),
    (ValueError, "sequence.durations[1]: must be > 0 (got 0.0)", lambda: ConceptSequence.chain([("C", 1), ("E", 0)])),
    (TypeError, "sequence_weight.sequence: must be a ConceptSequence (got Constant)",
     lambda: ConceptWeight(Constant(), "C")),
    (ValueError, "sequence_weight.concept: unknown concept 'A' (concepts: C, E, G)", lambda: SEQUENCE.for_concept("A")),
]


@pytest.mark.parametrize(("error", "match", "build"), CONSTRUCTION_ERRORS, ids=[m.split(":")[0] for _, m, _ in
                                                                               CONSTRUCTION_ERRORS])
def test_construction_errors_name_the_field(error, match, build):
    _raises(error, match, build)


LOAD_ERRORS = [
    (ValueError, "schedule.kind: unknown kind 'ramp' (valid kinds: constant, exponential_decay,", "kind: ramp"),
    (ValueError, "schedule.kind: missing 'kind' (valid kinds:", "value: 1.0"),
    (TypeError, "schedule: must be a mapping with a 'kind' (got list)", "[1, 2]"),
    (ValueError, "schedule: not valid YAML or JSON: expected", "kind: ["),
    (ValueError, "linear_ramp.stop: unknown field (valid fields: start, end, from_value, to_value, unit,",
     "{kind: linear_ramp, start: 0, end: 1, stop: 2}"),
    (ValueError, "linear_ramp.end: missing required field", "{kind: linear_ramp, start: 0}"),
    (ValueError, "constant.value: must be finite (got nan)", "{kind: constant, value: .nan}"),
    (TypeError, "constant.value: must be a number (got str 'loud')", "{kind: constant, value: loud}"),
    (ValueError, "product.schedules[1]: linear_ramp.end: must be > start (got 1.0 <= 2.0)",
     "{kind: product, schedules: [{kind: constant}, {kind: linear_ramp, start: 2, end: 1}]}"),
    (TypeError, "sum.schedules: must be a list of schedules (got dict)", "{kind: sum, schedules: {kind: constant}}"),
    (ValueError, "scaled.schedule: schedule.kind: unknown kind 'ramp'",
     "{kind: scaled, scale: 2, schedule: {kind: ramp}}"),
    (ValueError, "sequence.segments[1]: segment.end: must be > start (got 1.0 <= 3.0)",
     "{kind: sequence, segments: [{concept: C, start: 0, end: 3}, {concept: E, start: 3, end: 1}]}"),
    (ValueError, "sequence.segments[0].level: unknown field (valid fields: concept, start, end)",
     "{kind: sequence, segments: [{concept: C, start: 0, level: 3}]}"),
    (ValueError, "sequence.segments[0].start: missing required field", "{kind: sequence, segments: [{concept: C}]}"),
    (TypeError, "sequence.segments[0]: must be a mapping with concept, start, end (got str)",
     "{kind: sequence, segments: [C]}"),
    (TypeError, "sequence.segments: must be a list of segments (got str)", "{kind: sequence, segments: C}"),
    (ValueError, "sequence.segments[1].start: overlaps segments[0]",
     "{kind: sequence, segments: [{concept: C, start: 0, end: 2}, {concept: E, start: 1}]}"),
    (ValueError, "sequence_weight.sequence: sequence.crossfade: must be >= 0",
     "{kind: sequence_weight, concept: C, sequence: {kind: sequence, crossfade: -1, "
     "segments: [{concept: C, start: 0}]}}"),
]


@pytest.mark.parametrize(("error", "match", "text"), LOAD_ERRORS, ids=[m.split(":")[0] for _, m, _ in LOAD_ERRORS])
def test_load_errors_name_the_field(error, match, text):
    _raises(error, match, lambda: load_schedule(text))


def test_bad_steps_and_arguments_are_refused():
    ramp = LinearRamp(0, 2)
    _raises(ValueError, "step: must be >= 0 (got -1)", lambda: ramp(-1))
    _raises(ValueError, "step: must be finite", lambda: ramp(float("nan")))
    _raises(TypeError, "step: must be a number (got str)", lambda: ramp("3"))
    _raises(TypeError, "step: must be a number (got bool)", lambda: ramp(True))
    _raises(ValueError, "steps: must be >= 0 (got -3)", lambda: ramp.values(np.array([0, -3, 2])))
    _raises(ValueError, "steps: must be finite", lambda: ramp.values([0.0, np.inf]))
    _raises(TypeError, "steps: must be numbers (got dtype <U1)", lambda: ramp.values(["1"]))
    _raises(ValueError, "step: must be >= 0", lambda: SEQUENCE.weights(-1))
    _raises(TypeError, "step: must be a number (got list)", lambda: SEQUENCE.weights([1]))
    _raises(ValueError, "steps: must be >= 0", lambda: SEQUENCE.weight_table([-1]))
    _raises(ValueError, "schedule.frame_rate: must be > 0 (got -50.0)", lambda: Constant().with_frame_rate(-50))
    _raises(TypeError, "schedule.frame_rate: must be a number", lambda: ramp.with_frame_rate("50"))
    _raises(TypeError, "source: must be a path or YAML/JSON text (got dict)", lambda: load_schedule({"kind": "x"}))
    _raises(TypeError, "schedule: must be a schedule (got dict)", lambda: save_schedule({}, "x.yaml"))


def test_validate_for_refuses_times_past_the_end():
    LinearRamp(start=0.0, end=10.0).validate_for(500)  # ends exactly when the generation does
    LinearRamp(start=0.0, end=0.1, frame_rate=30.0).validate_for(3)  # 0.1 * 30 rounds above 3
    _raises(ValueError, "linear_ramp.end: 10 seconds is frame 500, past the end of the generation (499 frames)",
            lambda: LinearRamp(start=0.0, end=10.0).validate_for(499))
    _raises(ValueError, "linear_ramp.end: 10 seconds is frame 250",
            lambda: LinearRamp(start=0.0, end=10.0).with_frame_rate(25.0).validate_for(249))
    _raises(ValueError, "keyframes.times[1]: 600 frames is frame 600",
            lambda: Keyframes((0, 600), (0, 1), unit="frames").validate_for(300))
    _raises(ValueError, "steps.boundaries[1]: 4 seconds", lambda: Steps((1.0, 4.0), (0, 1, 2)).validate_for(150))
    _raises(ValueError, "logistic.midpoint", lambda: Logistic(9.0, 1.0).validate_for(150))
    _raises(ValueError, "exponential_decay.start", lambda: ExponentialDecay(rate=1.0, start=4.0).validate_for(150))
    nested = Constant() + 2.0 * SEQUENCE.for_concept("C")
    _raises(ValueError, "sum.schedules[1]: scaled.schedule: sequence_weight.sequence: sequence.segments[1].end: "
                        "4 seconds is frame 200", lambda: nested.validate_for(150))
    SEQUENCE.validate_for(200)
    Sine(frequency=3.0).validate_for(1)  # periodic: no time of its own to fall off the end
    _raises(ValueError, "n_steps: must be > 0 (got 0)", lambda: Constant().validate_for(0))
    _raises(TypeError, "n_steps: must be an int (got float)", lambda: Constant().validate_for(10.0))


def _kinds_in(data):
    if isinstance(data, dict):
        return {data.get("kind")} | set().union(*(_kinds_in(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(_kinds_in(v) for v in data))
    return set()


def test_every_yaml_example_in_the_schedules_readme_loads():
    readme = Path(__file__).resolve().parents[1] / "schedules" / "README.md"
    schedule_part = readme.read_text().split("\n## Job files")[0]  # the job-file section is the CLI's
    blocks = re.findall(r"```yaml\n(.*?)```", schedule_part, flags=re.S)
    specs = [load_schedule(block) for block in blocks]
    kinds = set().union(*(_kinds_in(spec.to_dict()) for spec in specs)) - {None}
    assert kinds == set(schedule_kinds())
    for spec in specs:
        spec.validate_for(1500)  # every example fits a 30 s generation
