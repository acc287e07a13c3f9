"""Job schema, grid expansion, sharding and the manifest: no model needed."""

import json

import pytest

from musicrfm.jobs import JobError, batches, expand, load_job, parse_job, parse_shard, read_manifest, shard
from musicrfm.jobs.manifest import Manifest
from musicrfm.schedules import ConceptSequence, LinearRamp

BASE = {"prompts": ["calm piano"], "duration": 1.0}


def job(**fields):
    return parse_job({**BASE, **fields}, source="jobs.yaml")


def error_of(**fields) -> str:
    with pytest.raises(JobError) as info:
        job(**fields)
    return str(info.value)


def test_full_job_parses_every_field(tmp_path):
    (tmp_path / "ramp.yaml").write_text("kind: linear_ramp\nstart: 0.0\nend: 0.5\n")
    text = """
name: demo
model: toy
probes: lib
prompts: [a, b]
duration: 2
seeds: [3, 4]
sampling: {top_k: [50, 250], temperature: 0.9, guidance_scale: 1.0}
format: flac
batch_size: 2
long_form: {window: 20, context: 5}
metrics: true
orthogonalize: true
terms:
  - {probe: notes, target: C, strength: [0.1, 0.2], layers: {top_k: 1}, schedule: ramp.yaml, gate_p: 0.3,
     cfg_target: cond, mode: relative, component: 0, label: c-note}
  - {probe: ./minor, strength: 1e-1, layers: {exponential: {kappa: 0.5}}}
  - {probe: notes, strength: 0.4, layers: [0, -1]}
"""
    (tmp_path / "jobs.yaml").write_text(text)
    spec = load_job(tmp_path / "jobs.yaml")
    assert spec.probes == tmp_path / "lib" and spec.format == "flac" and (spec.window_s, spec.context_s) == (20, 5)
    assert spec.sampling.top_k == (50, 250) and spec.sampling.temperature == (0.9,)
    first, second, third = spec.terms
    assert first.schedule == LinearRamp(start=0.0, end=0.5) and first.strengths == (0.1, 0.2)
    assert (first.layers.kind, first.layers.k, first.cfg_target, first.mode, first.gate_p) == ("top_k", 1, "cond",
                                                                                                "relative", 0.3)
    assert second.strengths == (0.1,) and (second.layers.kind, second.layers.kappa) == ("exponential", 0.5)
    assert third.layers.layers == (0, -1)
    assert len(expand(spec)) == 2 * 2 * 2 * 2


@pytest.mark.parametrize(("fields", "message"), [
    ({"durration": 2}, "jobs.yaml: durration: unknown field"),
    ({"duration": -1}, "jobs.yaml: duration: must be > 0"),
    ({"seeds": [1, 1]}, "jobs.yaml: seeds: lists a value twice"),
    ({"seeds": -2}, "jobs.yaml: seeds: must be >= 0"),
    ({"format": "mp3"}, "jobs.yaml: format: must be one of wav, flac"),
    ({"sampling": {"topk": 5}}, "jobs.yaml: sampling.topk: unknown field"),
    ({"long_form": {"window": 5, "context": 5}}, "jobs.yaml: long_form.context: must lie in [0, window)"),
    ({"terms": [{"probe": "n", "strength": 1, "colour": 2}]}, "jobs.yaml: terms[0].colour: unknown field"),
    ({"terms": [{"strength": 1}]}, "jobs.yaml: terms[0].probe: missing required field"),
    ({"terms": [{"probe": "n", "strength": 1}, {"probe": "n", "strength": 1, "gate_p": 2}]},
     "jobs.yaml: terms[1].gate_p: must lie in [0, 1]"),
    ({"terms": [{"probe": "n", "strength": 1},
                {"probe": "n", "strength": 1, "schedule": {"kind": "linear_ramp", "start": 2, "end": 1}}]},
     "jobs.yaml: terms[1].schedule.end: must be > start"),
    ({"terms": [{"probe": "n", "strength": 1, "schedule": {"kind": "sum", "schedules": [{"kind": "constant", "value": 1},
                                                                                      {"kind": "constant", "value": "x"}]}}]},
     "jobs.yaml: terms[0].schedule.schedules[1].value: must be a number"),
    ({"terms": [{"probe": "n", "strength": 1, "schedule": {"kind": "wobble"}}]},
     "jobs.yaml: terms[0].schedule.kind: unknown kind 'wobble'"),
    ({"terms": [{"probe": "n", "strength": 1, "layers": {"top_k": 0}}]}, "jobs.yaml: terms[0].layers.top_k: must be >= 1"),
    ({"terms": [{"probe": "n", "strength": 1, "layers": "some"}]}, "jobs.yaml: terms[0].layers: must be all"),
    ({"terms": [{"probe": {"C": "c"}, "strength": 1}]}, "jobs.yaml: terms[0].probe: a concept -> probe mapping needs a sequence"),
    ({"terms": [{"probe": "n", "strength": 1, "cfg_target": "half"}]}, "jobs.yaml: terms[0].cfg_target: must be one of both"),
])
def test_errors_name_file_field_and_problem(fields, message):
    text = error_of(**fields)
    assert text.startswith(message) and "\n" not in text


def test_sequence_terms_check_their_probe_mapping():
    seq = {"kind": "sequence", "segments": [{"concept": "C", "start": 0, "end": 0.5}, {"concept": "E", "start": 0.5}]}
    spec = job(terms=[{"probe": {"C": "c_probe", "E": "e_probe"}, "strength": 1, "schedule": seq}])
    assert isinstance(spec.terms[0].schedule, ConceptSequence) and spec.terms[0].probe == (("C", "c_probe"),
                                                                                          ("E", "e_probe"))
    assert "must map exactly the sequence's concepts ['C', 'E']" in error_of(
        terms=[{"probe": {"C": "c"}, "strength": 1, "schedule": seq}])
    assert "sequence schedule names its own targets" in error_of(
        terms=[{"probe": "n", "target": "C", "strength": 1, "schedule": seq}])


def test_missing_schedule_file_and_bad_yaml_are_named(tmp_path):
    bad = tmp_path / "jobs.yaml"
    bad.write_text("prompts: [a]\nduration: 1\nterms:\n  - {probe: n, strength: 1, schedule: nope.yaml}\n")
    with pytest.raises(JobError, match=r"jobs.yaml: terms\[0\].schedule: schedule file .*nope.yaml' does not exist"):
        load_job(bad)
    bad.write_text("prompts: [a\nduration: 1\n")
    with pytest.raises(JobError, match="jobs.yaml: not valid YAML"):
        load_job(bad)
    (tmp_path / "jobs.txt").write_text("{}")
    with pytest.raises(JobError, match="must end in .yaml"):
        load_job(tmp_path / "jobs.txt")


def test_item_ids_are_stable_distinct_and_parameter_sensitive():
    spec = job(prompts=["a", "b"], seeds=[0, 1], terms=[{"probe": "n", "target": "C", "strength": [0.0, 0.5]}])
    items = expand(spec)
    assert len({i.id for i in items}) == len(items) == 8
    assert [i.id for i in expand(spec)] == [i.id for i in items]
    assert items[0].prompt == "a" and items[1].prompt == "b"  # prompts vary fastest: batch-mates are neighbours
    other = job(prompts=["a", "b"], seeds=[0, 1], terms=[{"probe": "n", "target": "E", "strength": [0.0, 0.5]}])
    assert not {i.id for i in items} & {i.id for i in expand(other)}
    # An unrelated knob (batch size) does not change what an item is.
    assert [i.id for i in expand(job(prompts=["a", "b"], seeds=[0, 1], batch_size=1,
                                      terms=[{"probe": "n", "target": "C", "strength": [0.0, 0.5]}]))] == \
        [i.id for i in items]


def test_batches_group_prompts_only_and_respect_batch_size():
    spec = job(prompts=["a", "b", "c"], seeds=[0, 1], batch_size=2)
    groups = batches(spec, expand(spec))
    assert [[i.prompt for i in g] for g in groups] == [["a", "b"], ["c"], ["a", "b"], ["c"]]
    assert all(len({i.batch_key() for i in g}) == 1 for g in groups)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shards_cover_every_item_exactly_once(n):
    spec = job(prompts=["a", "b", "c"], seeds=[0, 1, 2], batch_size=2, terms=[{"probe": "n", "strength": [1, 2]}])
    groups = batches(spec, expand(spec))
    seen = [item.id for i in range(1, n + 1) for g in shard(groups, i, n) for item in g]
    assert sorted(seen) == sorted(item.id for item in expand(spec))


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shards_are_refused(text):
    with pytest.raises(ValueError, match="--shard must look like i/n"):
        parse_shard(text)


def test_manifest_ignores_and_repairs_a_torn_last_line(tmp_path):
    manifest = Manifest(tmp_path)
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.wav").write_bytes(b"x")
    manifest.append({"id": "a", "file": "audio/a.wav"})
    with open(manifest.path, "ab") as stream:
        stream.write(b'{"id": "b", "fi')  # a kill in the middle of a write
    assert [e["id"] for e in read_manifest(tmp_path)] == ["a"] and manifest.finished() == {"a"}
    manifest.append({"id": "c", "file": "audio/c.wav"})
    lines = manifest.path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "c"]
    assert manifest.finished() == {"a"}  # c's audio is missing, so c is not finished


def test_manifest_reads_every_shard_file(tmp_path):
    Manifest(tmp_path, (1, 2)).append({"id": "x", "file": "x.wav"})
    Manifest(tmp_path, (2, 2)).append({"id": "y", "file": "y.wav"})
    assert sorted(e["id"] for e in read_manifest(tmp_path)) == ["x", "y"]
    (tmp_path / "manifest.jsonl").write_text('{"no_id": 1}\n')
    with pytest.raises(ValueError, match="line 1 is not a manifest entry"):
        read_manifest(tmp_path)
