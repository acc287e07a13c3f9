"""The renderer on a tiny random MusicGen: manifest content, resume, determinism, shards, probe checks."""

import json

import numpy as np
import pytest

from musicrfm.jobs import build_plan, load_probes, parse_job, read_manifest, render_job
from musicrfm.models import read_audio
from musicrfm.probes import ProbeLibrary
from tests.jobs_support import chord_probe, probe_library, tiny_model

SEQUENCE = {"kind": "sequence", "segments": [{"concept": "C", "start": 0.0, "end": 0.1}, {"concept": "G", "start": 0.1}],
            "crossfade": 0.04}


@pytest.fixture(scope="module")
def mg():
    return tiny_model()


@pytest.fixture
def library(tmp_path, mg):
    return probe_library(tmp_path / "probes", mg)


def make_job(**fields):
    base = {"prompts": ["calm", "loud"], "duration": 0.2, "seeds": [0, 1], "batch_size": 2,
            "sampling": {"top_k": 20, "guidance_scale": 2.0},
            "terms": [{"probe": "notes", "target": "C", "strength": [0.0, 0.5], "layers": {"top_k": 1}}]}
    return parse_job({**base, **fields}, source="jobs.yaml")


def audio_bytes(out):
    return {e["id"]: (out / e["file"]).read_bytes() for e in read_manifest(out)}


def test_render_writes_audio_and_complete_manifest(tmp_path, mg, library):
    job = make_job(metrics=True, terms=[{"probe": "notes", "strength": 0.5, "schedule": SEQUENCE},
                                        {"probe": "minor", "strength": [0.2], "gate_p": 0.5, "cfg_target": "cond"}])
    report = render_job(job, mg, tmp_path / "out", library=library)
    assert (report.total, report.rendered, report.skipped) == (4, 4, 0)
    entries = read_manifest(tmp_path / "out")
    assert len(entries) == 4 and len({e["id"] for e in entries}) == 4
    for entry in entries:
        audio, rate = read_audio(tmp_path / "out" / entry["file"])
        assert rate == mg.sample_rate and audio.shape == (1, round(0.2 * mg.sample_rate))
        assert entry["params"]["terms"][1]["cfg_target"] == "cond" and entry["model"]["fingerprint"] == mg.fingerprint
        assert set(entry["probes"]) == {"notes", "minor"} and len(entry["probes"]["notes"]["sha256"]) == 64
        assert entry["batch"] and entry["id"] in entry["batch"] and entry["timing"]["batch_s"] > 0
        measured = [t["label"] for t in entry["targets"]]
        assert measured == ["sequence:C-G", "chords:minor"]
        assert "sequence:C-G.min_segment_accuracy" in entry["metrics"] and "chords:minor.chord_accuracy" in entry["metrics"]


def test_rerun_skips_finished_items_and_rerenders_missing_ones_identically(tmp_path, mg, library):
    job = make_job()
    out = tmp_path / "out"
    render_job(job, mg, out, library=library)
    before = audio_bytes(out)
    victim = read_manifest(out)[2]
    (out / victim["file"]).unlink()
    calls = []
    report = render_job(job, mg, out, library=library, progress=lambda done, total: calls.append((done, total)))
    assert (report.rendered, report.skipped) == (1, 7) and calls == [(8, 8)]
    assert audio_bytes(out) == before  # the batch is re-rendered with the same mates and seed
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 9 and sum(json.loads(line)["id"] == victim["id"] for line in lines) == 2


def test_shards_together_render_exactly_the_full_job(tmp_path, mg, library):
    job = make_job()
    full, split = tmp_path / "full", tmp_path / "split"
    render_job(job, mg, full, library=library)
    totals = [render_job(job, mg, split, library=library, shard_of=(i, 3)).rendered for i in (1, 2, 3)]
    assert sum(totals) == 8 and sorted(p.name for p in split.glob("manifest*.jsonl")) == [
        "manifest.shard-1of3.jsonl", "manifest.shard-2of3.jsonl", "manifest.shard-3of3.jsonl"]
    assert audio_bytes(split) == audio_bytes(full)
    assert render_job(job, mg, split, library=library).skipped == 8  # an unsharded rerun sees every shard's work


def test_zero_strength_renders_the_unsteered_audio(tmp_path, mg, library):
    steered = make_job(prompts=["calm"], seeds=[0], terms=[{"probe": "notes", "target": "C", "strength": 0.0}])
    plain = make_job(prompts=["calm"], seeds=[0], terms=[])
    render_job(steered, mg, tmp_path / "a", library=library)
    render_job(plain, mg, tmp_path / "b", library=library)
    assert list(audio_bytes(tmp_path / "a").values()) == list(audio_bytes(tmp_path / "b").values())


def test_a_changed_probe_is_refused_on_resume(tmp_path, mg, library):
    job = make_job(prompts=["calm"], seeds=[0], terms=[{"probe": "minor", "strength": 0.3}])
    render_job(job, mg, tmp_path / "out", library=library)
    library.save(chord_probe(mg, target="major"), "minor")
    with pytest.raises(ValueError, match="probe 'minor' has changed since item"):
        render_job(job, mg, tmp_path / "out", library=library)


def test_probe_problems_are_refused_before_rendering(tmp_path, mg, library):
    with pytest.raises(ValueError, match=r"terms\[0\] \(notes\): target must name one of the probe's classes"):
        render_job(make_job(terms=[{"probe": "notes", "target": "D", "strength": 1}]), mg, tmp_path / "o",
                   library=library)
    with pytest.raises(ValueError, match="probe 'nothing': not a bundle folder and not in the probe library"):
        render_job(make_job(terms=[{"probe": "nothing", "strength": 1}]), mg, tmp_path / "o", library=library)
    with pytest.raises(ValueError, match="no probe bundle at"):
        render_job(make_job(terms=[{"probe": "./missing", "strength": 1}]), mg, tmp_path / "o", library=library)
    assert not list((tmp_path / "o").glob("audio/*"))


def test_plans_follow_the_job_terms(mg, library):
    job = make_job(terms=[{"probe": "notes", "strength": 0.5, "schedule": SEQUENCE},
                          {"probe": str(library.path("minor")), "strength": 0.3, "layers": [1], "gate_p": 0.25}])
    plan = build_plan(job, (0.5, 0.3), seed=7, probes=load_probes(job, library))
    names = [t.name for t in plan.terms]
    assert names == ["notes:C", "notes:G", "chords:minor"]
    c_term, _, chord = plan.terms
    assert c_term.schedule(0) == 1.0 and c_term.schedule.values([int(0.2 * 50)])[0] == 0.0
    assert (chord.strength, chord.gate_p, chord.seed, dict(chord.layers.weights)) == (0.3, 0.25, 7, {1: 1.0})


def test_probe_for_another_model_is_refused(tmp_path, mg):
    other = ProbeLibrary(tmp_path / "other")
    probe = chord_probe(mg)
    other.save(type(probe)(**{**probe.__dict__, "model": {"name": "x", "fingerprint": {**mg.fingerprint,
                                                                                          "sample_rate": 1}}}), "minor")
    with pytest.raises(ValueError, match="was made for another model"):
        render_job(make_job(terms=[{"probe": "minor", "strength": 1}]), mg, tmp_path / "o", library=other)


def test_long_form_windows_render_the_full_duration(tmp_path, mg, library):
    job = make_job(prompts=["calm"], seeds=[0], duration=0.3, long_form={"window": 0.2, "context": 0.1},
                   terms=[{"probe": "notes", "target": "E", "strength": 0.4,
                           "schedule": {"kind": "linear_ramp", "start": 0.0, "end": 0.3}}])
    render_job(job, mg, tmp_path / "o", library=library)
    (entry,) = read_manifest(tmp_path / "o")
    audio, _ = read_audio(tmp_path / "o" / entry["file"])
    assert audio.shape[1] == round(0.3 * mg.sample_rate) and np.isfinite(audio).all()


def test_builtin_probes_fill_in_names_missing_from_the_library(tmp_path, mg, library):
    """`builtin` is asked only for names neither a bundle path nor in the library; its folder then steers
    and is pinned in the manifest. A name it does not know keeps the one-line error, with how to train it."""
    elsewhere = ProbeLibrary(tmp_path / "elsewhere")
    elsewhere.save(chord_probe(mg, "major"), "tempo")
    asked = []

    def builtin(name):
        asked.append(name)
        return elsewhere.path(name) if name == "tempo" else None

    job = make_job(terms=[{"probe": "notes", "target": "C", "strength": 0.5}, {"probe": "tempo", "strength": 0.3}])
    report = render_job(job, mg, tmp_path / "out", library=library, builtin=builtin)
    assert asked == ["tempo"] and report.rendered == 4
    entry = read_manifest(tmp_path / "out")[0]
    assert entry["probes"]["tempo"]["path"] == str(elsewhere.path("tempo"))
    assert entry["probes"]["notes"]["path"] == str(library.path("notes"))
    with pytest.raises(ValueError, match=r"probe 'pace': not a bundle folder .*musicrfm probe train .*--name pace"):
        load_probes(make_job(terms=[{"probe": "pace", "strength": 1}]), library, builtin=builtin)
