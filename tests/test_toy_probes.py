"""The toy model's built-in probes: trained once with the real pipeline, cached by everything that shapes
them, offered to jobs only for the toy model. Uses the toy model from the default cache (trained on first
use, as in tests/test_toy_steering.py) and small search settings in a temporary probe cache."""

from __future__ import annotations


import pytest
import torch

from musicrfm.data.theory import CHORD_QUALITIES
from musicrfm.models import MusicGen, load_musicgen
from musicrfm.models.random_weights import tiny_musicgen
from musicrfm.probes import ConceptProbe
from musicrfm.models.toy import load_toy
from musicrfm.toy.demo import DemoConfig, note_probe
from musicrfm.toy.probes import (
    TOY_CONCEPTS,
    ToyProbeSettings,
    as_toy,
    broken_chords,
    builtin_probes,
    resolve_settings,
    toy_probe,
    toy_probe_folder,
    toy_probe_path,
)
from musicrfm.models.toy.tokens import BASS, PITCH, REST

SMALL = ToyProbeSettings(n_per_class=6, n_configs=2, max_iters=2)


@pytest.fixture(scope="module")
def toy():
    return load_toy(progress=False)


@pytest.mark.parametrize("concept, task, classes, target", [
    ("notes", "multiclass", 12, None), ("chords", "multiclass", len(CHORD_QUALITIES), None),
    ("tempo", "binary", 2, "fast")])
def test_each_builtin_probe_trains_once_then_comes_from_the_cache(toy, tmp_path, concept, task, classes, target):
    notes: list[str] = []
    stages: set[str] = set()
    folder = toy_probe_folder(toy, concept, SMALL, cache_dir=tmp_path, notice=notes.append,
                              progress=lambda stage, done, total: stages.add(stage))
    probe = ConceptProbe.load(folder)
    assert (probe.concept, probe.task, len(probe.classes), probe.target) == (concept, task, classes, target)
    assert probe.model["name"] == "toy" and probe.layers == tuple(range(toy.model.decoder.config.num_hidden_layers))
    assert stages == {"extract", "fit"} and "training it once" in notes[0] and str(folder) in notes[0]
    stamp = (folder / "probe.json").stat().st_mtime_ns
    again = toy_probe(toy, concept, SMALL, cache_dir=tmp_path, notice=notes.append)
    assert "cached at" in notes[1] and (folder / "probe.json").stat().st_mtime_ns == stamp
    assert torch.equal(again.vectors, probe.vectors)


def test_a_probe_another_process_cached_meanwhile_is_kept(toy, tmp_path):
    folder = toy_probe_path(toy, "tempo", SMALL, cache_dir=tmp_path)
    other = toy_probe(toy, "notes", SMALL, cache_dir=tmp_path)

    def finish_elsewhere(stage, done, total):
        if stage == "fit" and not folder.exists():
            other.save(folder)

    assert toy_probe_folder(toy, "tempo", SMALL, cache_dir=tmp_path, progress=finish_elsewhere) == folder
    assert ConceptProbe.load(folder).concept == "notes"


def test_the_cache_key_covers_concept_settings_and_model(toy, tmp_path):
    base = toy_probe_path(toy, "notes", SMALL, cache_dir=tmp_path)
    variants = [toy_probe_path(toy, "chords", SMALL, cache_dir=tmp_path),
                toy_probe_path(toy, "notes", ToyProbeSettings(6, 2, 2, seed=1), cache_dir=tmp_path),
                toy_probe_path(toy, "notes", ToyProbeSettings(7, 2, 2), cache_dir=tmp_path),
                toy_probe_path(toy, "notes", ToyProbeSettings(6, 3, 2), cache_dir=tmp_path),
                toy_probe_path(type(toy)(toy.model, toy.tokenizer, tmp_path / "toy-other"), "notes", SMALL,
                               cache_dir=tmp_path)]
    assert base.parent == tmp_path / "toy-probes" and base.name.startswith("notes-")
    assert len({base, *variants}) == 6
    assert toy_probe_path(toy, "notes", SMALL, cache_dir=tmp_path) == base


def test_broken_chords_sound_their_quality_over_the_root(toy):
    """Encoding each clip back with the toy codec gives melody pitch classes inside the chord and its root
    in the bass, with every tone of a triad heard."""
    dataset = broken_chords(toy, 2, seed=3)
    assert dataset.classes == tuple(CHORD_QUALITIES) and len(dataset) == 2 * len(CHORD_QUALITIES)
    for audio, label in zip(dataset.audio, dataset.labels):
        codes = toy.codec.encode(torch.as_tensor(audio)[None, None]).audio_codes[0, 0]
        (root,) = set(codes[BASS].tolist())
        heard = {(p - root) % 12 for p in codes[PITCH].tolist() if p != REST}
        assert heard == set(CHORD_QUALITIES[label]), label


def test_the_demo_note_probe_is_the_builtin_notes_probe(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICRFM_CACHE", str(tmp_path))
    config = DemoConfig(n_per_class=6, n_configs=2, max_iters=2, probe_seed=0)
    probe = note_probe(toy, config)
    folder = toy_probe_path(toy, "notes", SMALL)
    assert folder.parent == tmp_path / "toy-probes" and torch.equal(ConceptProbe.load(folder).vectors, probe.vectors)


def test_builtin_probes_are_offered_for_the_toy_model_only(tmp_path):
    assert builtin_probes(MusicGen.from_model(tiny_musicgen(seed=0), name="toy-like")) is None
    toy_mg = load_musicgen("toy", device="cpu", progress=False)
    assert as_toy(toy_mg).folder == load_toy(progress=False).folder
    notes: list[str] = []
    source = builtin_probes(toy_mg, cache_dir=tmp_path, notice=notes.append)
    assert source("intervals") is None and source("my_notes") is None and notes == []
    # The defaults train the real (bigger) probes; one cheap concept is enough to see the path come back.
    expected = toy_probe_path(as_toy(toy_mg), "tempo", cache_dir=tmp_path)
    assert source("tempo") == expected and source("tempo") == expected and len(notes) == 1


def test_bad_requests_are_refused_with_the_field_named(toy):
    with pytest.raises(ValueError, match="concept must be one of .*'notes', 'chords', 'tempo'.*'intervals'"):
        toy_probe(toy, "intervals")
    with pytest.raises(TypeError, match="settings must be a ToyProbeSettings"):
        resolve_settings("notes", {"n_per_class": 3})
    for field, value in (("n_per_class", 0), ("n_configs", 1.5), ("max_iters", True), ("seed", -1)):
        with pytest.raises(ValueError, match=field):
            ToyProbeSettings(**{field: value})
    with pytest.raises(TypeError, match="model must be a musicrfm MusicGen"):
        as_toy(toy.model)
    assert TOY_CONCEPTS == ("notes", "chords", "tempo")
    assert resolve_settings("notes") == ToyProbeSettings()
