"""train_probe end to end on a tiny random MusicGen loaded through the real loader: the three modes, the
activation cache, bundles of trained probes, the probe -> steering path and architecture checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import musicrfm.probes.activations as activations
from musicrfm.data import ConceptDataset, make_dataset
from musicrfm.models import MusicGen, load_musicgen
from musicrfm.models.random_weights import tiny_musicgen
from musicrfm.probes import ConceptProbe, default_cache_dir, extract_activations, train_probe
from musicrfm.steering import SteeringPlan, generate

SEARCH = {"n_configs": 3, "max_iters": 1}


@pytest.fixture(scope="module")
def mg(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_model")
    tiny_musicgen(seed=0).save_pretrained(folder)
    return load_musicgen(folder, device="cpu")


@pytest.fixture(scope="module")
def notes():
    return make_dataset("notes", n_per_class=6, classes=["C", "D", "E"], duration_s=0.5, backend="numpy")


@pytest.fixture(scope="module")
def trained(mg, notes, tmp_path_factory):
    """A binary probe trained with a cache folder, plus what its progress callback saw."""
    cache, calls = tmp_path_factory.mktemp("cache"), []
    probe = train_probe(mg, notes, target="D", search=SEARCH, k=2, cache_dir=cache,
                        progress=lambda *args: calls.append(args))
    return probe, cache, calls


def _no_extraction(*args, **kwargs):
    raise AssertionError("the model was run although the activations are cached")


def test_binary_probe_end_to_end(mg, trained):
    probe, cache, calls = trained
    assert (probe.task, probe.classes, probe.target, probe.metric) == ("binary", ("not_D", "D"), "D", "auc")
    assert probe.layers == (0, 1) and probe.vectors.shape == (1, 2, 2, 32)
    assert all(0.0 <= s <= 1.0 for s in probe.val_scores + probe.test_scores)
    assert probe.model["name"] == mg.name and dict(probe.fingerprint) == mg.fingerprint
    assert probe.dataset["n_clips"] == 18 and sum(probe.dataset["split_sizes"]) == 18
    assert len(probe.search["best_params"]) == 2 and probe.search["settings"]["n_configs"] == 3
    assert calls[-1] == ("fit", 2, 2) and ("extract", 18, 18) in calls
    assert len(list(cache.glob("*.safetensors"))) == 1
    assert torch.allclose(probe.vectors.norm(dim=-1), torch.ones(1, 2, 2))


def test_second_probe_on_the_same_clips_skips_extraction(mg, notes, trained, monkeypatch):
    _, cache, _ = trained
    fresh = extract_activations(mg, notes, layers=(0, 1), cache=False)
    monkeypatch.setattr(activations, "capture_hidden_states", _no_extraction)
    cached = extract_activations(mg, notes, layers=(0, 1), cache_dir=cache)
    np.testing.assert_array_equal(cached, fresh)
    multi = train_probe(mg, notes, search=SEARCH, k=1, cache_dir=cache)
    assert (multi.task, multi.classes, multi.target, multi.metric) == ("multiclass", ("C", "D", "E"), None, "accuracy")
    assert multi.vectors.shape == (3, 2, 1, 32) and multi.direction("E").layers == (0, 1)
    assert all(0.0 <= s <= 1.0 for s in multi.val_scores)
    with pytest.raises(AssertionError, match="cached"):
        train_probe(mg, notes, target="C", search=SEARCH, cache=False)  # proves the patch is in effect
    with pytest.raises(AssertionError, match="cached"):  # other weights of the same architecture: no false hit
        train_probe(tiny_musicgen(seed=1), notes, target="C", search=SEARCH, cache_dir=cache)
    with pytest.raises(AssertionError, match="cached"):  # other layers are another entry
        train_probe(mg, notes, target="C", layers=[-1], search=SEARCH, cache_dir=cache)


def test_extraction_holds_at_most_one_round_of_clips(mg, notes, tmp_path, monkeypatch):
    """Memory stays bounded whatever the dataset size: the model sees batch_size x _BATCHES_PER_ROUND clips
    at a time, and the rows land in the file as each round finishes."""
    seen = []
    real_encode = activations.encode_audio

    def spy(model, audio, sample_rate, **kwargs):
        seen.append(len(audio))
        return real_encode(model, audio, sample_rate, **kwargs)

    monkeypatch.setattr(activations, "encode_audio", spy)
    streamed = extract_activations(mg, notes, layers=(0, 1), batch_size=2, cache_dir=tmp_path)
    step = 2 * activations._BATCHES_PER_ROUND
    assert max(seen) == step and sum(seen) == len(notes) and len(seen) == -(-len(notes) // step)
    np.testing.assert_allclose(streamed, extract_activations(mg, notes, layers=(0, 1), batch_size=9, cache=False),
                               rtol=1e-5, atol=1e-6)


def test_a_damaged_cache_entry_is_extracted_again(mg, notes, tmp_path):
    first = np.array(extract_activations(mg, notes, layers=(1,), cache_dir=tmp_path))  # a copy: the entry is edited below
    (entry,) = tmp_path.glob("*.safetensors")
    entry.write_bytes(entry.read_bytes()[:200])
    np.testing.assert_array_equal(extract_activations(mg, notes, layers=(1,), cache_dir=tmp_path), first)


def pitch_height(notes: ConceptDataset) -> ConceptDataset:
    """A regression dataset over the notes' audio: target = MIDI pitch. (The tiny codec maps every click
    track of the tempo concept to the same codes, so tempo cannot exercise the regression path here.)"""
    pitches = [float(m.pitches.split()[0]) for m in notes.metadata]
    middle = float(np.median(pitches))
    meta = [dataclasses.replace(m, concept="pitch", label="low" if p < middle else "high", target=p)
            for m, p in zip(notes.metadata, pitches)]
    return ConceptDataset(notes.audio, meta, sample_rate=notes.sample_rate, concept="pitch", classes=("low", "high"),
                          task="regression")


def test_regression_probe(mg, notes, tmp_path):
    probe = train_probe(mg, pitch_height(notes), layers=[-1], search=SEARCH, k=1, cache_dir=tmp_path)
    assert (probe.task, probe.classes, probe.target, probe.metric) == ("regression", (), None, "r2")
    assert probe.layers == (1,) and probe.vectors.shape == (1, 1, 1, 32)
    assert np.isfinite(probe.val_scores).all() and probe.dataset["concept"] == "pitch"


def test_trained_probe_round_trips_bitwise(trained, tmp_path):
    probe, _, _ = trained
    loaded = ConceptProbe.load(probe.save(tmp_path / "d_probe"))
    assert torch.equal(loaded.vectors, probe.vectors) and torch.equal(loaded.eigenvalues, probe.eigenvalues)
    assert loaded.val_scores == probe.val_scores and loaded.layers == probe.layers
    assert dict(loaded.fingerprint) == dict(probe.fingerprint) and loaded.dataset["split_sizes"] == [12, 3, 3]


def test_probe_steers_the_model_it_was_trained_on(mg, trained):
    probe, _, _ = trained
    best = max(probe.layer_scores, key=probe.layer_scores.get)
    plain = generate(mg.model, None, max_new_tokens=12, seed=3).codes
    with probe.steer(mg, strength=8.0, layers="top_k", top_k=1) as bound:
        assert bound.layers == (best,)
        steered = generate(mg.model, None, max_new_tokens=12, seed=3).codes
    assert not torch.equal(steered, plain)
    assert torch.equal(generate(mg.model, None, max_new_tokens=12, seed=3).codes, plain)  # hooks are gone
    term = probe.term(0.0, layers="exponential", gate_p=0.5)
    assert torch.equal(generate(mg.model, SteeringPlan((term,)), max_new_tokens=12, seed=3).codes, plain)


@pytest.mark.parametrize("options", [{"hidden_size": 48}, {"num_layers": 3}])
def test_a_model_of_another_architecture_is_refused(trained, options):
    probe, _, _ = trained
    other = tiny_musicgen(seed=0, **options)
    with pytest.raises(ValueError, match="another model"):
        probe.check_model(other)
    with pytest.raises(ValueError, match="probes were made for a model with"):
        with probe.steer(MusicGen.from_model(other), strength=1.0):
            pass


def test_bad_inputs_get_clear_errors(mg, notes, tmp_path):
    tempo = make_dataset("tempo", n_per_class=1, duration_s=1.0, backend="numpy", sample_rate=16000)
    few = make_dataset("notes", n_per_class=2, classes=["C", "D", "E"], duration_s=0.5, backend="numpy")
    cases = [
        (dict(dataset=notes, target="F#"), "target must be one of"),
        (dict(dataset=tempo, target="60-80"), "target must be None"),
        (dict(dataset=notes.subset(range(6))), "single class"),
        (dict(dataset=notes, layers="some"), "layers must be 'all'"),
        (dict(dataset=notes, layers=[5]), "out of range"),
        (dict(dataset=notes, seed=-1), "seed must be"),
        (dict(dataset=notes, concept=""), "concept must be"),
        (dict(dataset=few, target="C"), "split holds no clips of"),
        (dict(dataset=notes, pooling="median"), "pooling must be"),
        (dict(dataset=notes, pooling="mean_std"), "cannot steer"),
        (dict(dataset=notes, progress="bar"), "progress must be callable"),
        (dict(dataset=list(notes.audio)), "ConceptDataset"),
    ]
    for kwargs, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            train_probe(mg, cache_dir=tmp_path, search=SEARCH, **kwargs)


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MUSICRFM_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MUSICRFM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "musicrfm" / "activations"
