"""Probe bundles: exact round trips, refusal of corrupted or inconsistent bundles, atomic saves, the library."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import musicrfm.probes.bundle as bundle
from musicrfm.probes.library import ProbeLibrary, default_library_root
from musicrfm.probes.probe import ConceptProbe
from musicrfm.steering import LayerWeights

FINGERPRINT = {"model_type": "musicgen", "num_layers": 4, "hidden_size": 8, "num_codebooks": 4,
               "codebook_size": 64, "audio_channels": 1, "sample_rate": 32000, "frame_rate": 50}


def make_probe(task: str = "multiclass", k: int = 2, seed: int = 0) -> ConceptProbe:
    gen = torch.Generator().manual_seed(seed)
    classes = {"binary": ("not_C", "C"), "multiclass": ("C", "D", "E"), "regression": ()}[task]
    n_sets = 3 if task == "multiclass" else 1
    vectors = torch.nn.functional.normalize(torch.randn(n_sets, 3, k, 8, generator=gen), dim=-1)
    return ConceptProbe(
        concept="notes" if classes else "tempo", task=task, classes=classes, target="C" if task == "binary" else None,
        layers=(0, 2, 3), vectors=vectors, eigenvalues=torch.rand(n_sets, 3, k, generator=gen).sort(-1, True)[0],
        val_scores=(0.6, 0.9, 0.75), test_scores=(0.55, 0.85, 0.7),
        metric={"binary": "auc", "multiclass": "accuracy", "regression": "r2"}[task],
        model={"name": "toy", "fingerprint": FINGERPRINT}, pooling="mean",
        search={"settings": {"n_configs": 4}, "best_params": [{"reg": 0.1}] * 3},
        dataset={"n_clips": 36, "class_counts": {"C": 12, "D": 12, "E": 12}},
    )


def _same(a: ConceptProbe, b: ConceptProbe) -> None:
    assert torch.equal(a.vectors, b.vectors) and torch.equal(a.eigenvalues, b.eigenvalues)
    for name in ("concept", "task", "classes", "target", "layers", "val_scores", "test_scores", "metric",
                 "pooling", "delay_pattern", "version"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("model", "search", "dataset"):
        assert json.loads(json.dumps(getattr(a, name), default=dict)) == json.loads(json.dumps(getattr(b, name), default=dict))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_round_trip_is_exact(tmp_path, task):
    probe = make_probe(task)
    path = probe.save(tmp_path / "probe")
    assert sorted(p.name for p in path.iterdir()) == ["directions.safetensors", "probe.json"]
    _same(probe, ConceptProbe.load(path))


def test_directions_and_weights_follow_the_stored_tensors_and_scores():
    probe = make_probe("multiclass")
    assert repr(probe) == ("ConceptProbe(concept='notes', task='multiclass', classes=3, layers=3, k=2, d=8, "
                           "model='toy', best layer 2 (accuracy val 0.900, test 0.850))")
    d = probe.direction("D", component=1)
    assert d.layers == (0, 2, 3) and torch.equal(d.vectors[2], probe.vectors[1, 1, 1])
    assert probe.layer_weights("top_k", top_k=1).resolve(probe.layers) == {2: 1.0}
    weights = probe.layer_weights("exponential").resolve(probe.layers)
    assert set(weights) == {2, 3} and weights[2] == 1.0  # the worst layer gets weight 0 and is dropped
    term = probe.term(0.4, target="E", layers="exponential")
    assert term.layers.kind == "exponential" and term.fingerprint["hidden_size"] == 8 and term.name == "notes:E"
    assert probe.term(0.4, target="C", layers=LayerWeights.explicit([3])).layers.kind == "explicit"
    with pytest.raises(ValueError, match="target must name one of"):
        probe.direction()
    with pytest.raises(ValueError, match="component"):
        probe.direction("C", component=2)
    with pytest.raises(ValueError, match="top_k must be given"):
        probe.term(0.4, target="C", layers="top_k")
    with pytest.raises(ValueError, match="single direction set"):
        make_probe("binary").direction("D")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"metric": "auc"}, "metric must be"),
        ({"classes": ("C", "D")}, "do not fit"),
        ({"target": "C"}, "target must be"),
        ({"layers": (0, 0, 1)}, "unique non-negative"),
        ({"layers": (0, 2, 7)}, "do not fit the model fingerprint"),
        ({"val_scores": (0.5, 0.6)}, "one score per layer"),
        ({"test_scores": (0.5, float("nan"), 0.6)}, "finite"),
        ({"vectors": torch.zeros(3, 3, 2, 8)}, "unit-norm"),
        ({"vectors": torch.ones(3, 3, 2, 8, dtype=torch.float64)}, "float32"),
        ({"eigenvalues": torch.ones(3, 3, 1)}, "eigenvalues must be shaped"),
        ({"model": {"name": "toy"}}, "fingerprint"),
    ],
)
def test_inconsistent_probes_are_refused(change, message):
    fields = {name: getattr(make_probe(), name) for name in ConceptProbe.__dataclass_fields__}
    with pytest.raises((ValueError, TypeError), match=message):
        ConceptProbe(**{**fields, **change})


def _rewrite_json(path: Path, edit) -> None:
    meta = json.loads((path / "probe.json").read_text())
    edit(meta)
    (path / "probe.json").write_text(json.dumps(meta))


def _rewrite_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Replace the tensor file and record its checksum, as a careless or malicious editor could."""
    save_file(tensors, str(path / "directions.safetensors"))
    digest = hashlib.sha256((path / "directions.safetensors").read_bytes()).hexdigest()
    _rewrite_json(path, lambda meta: meta["tensors"].update(sha256=digest))


def test_corrupted_bundles_are_refused_with_one_line_errors(tmp_path):
    probe = make_probe()
    cases = {
        "truncated": lambda p: (p / "directions.safetensors").write_bytes((p / "directions.safetensors").read_bytes()[:100]),
        "edited_shape": lambda p: _rewrite_json(p, lambda m: m["tensors"]["vectors"].update(shape=[3, 3, 2, 9])),
        "schema": lambda p: _rewrite_json(p, lambda m: m.update(schema_version=99)),
        "json": lambda p: (p / "probe.json").write_text("{not json"),
        "missing_field": lambda p: _rewrite_json(p, lambda m: m.pop("layers")),
        "nan": lambda p: _rewrite_tensors(p, {"vectors": probe.vectors.clone().fill_(float("nan")),
                                              "eigenvalues": probe.eigenvalues}),
        "extra_tensor": lambda p: _rewrite_tensors(p, {"vectors": probe.vectors, "eigenvalues": probe.eigenvalues,
                                                       "code": torch.zeros(1)}),
        "garbage_with_checksum": lambda p: _rewrite_tensors_raw(p, b"\xff" * 64),
        "wrong_count": lambda p: _rewrite_json(p, lambda m: m.update(classes=["C", "D", "E", "F"])),
    }
    expected = {"truncated": "checksum", "edited_shape": "records", "schema": "unsupported schema_version",
                "json": "cannot be read as JSON", "missing_field": "lacks the fields", "nan": "finite",
                "extra_tensor": "exactly the tensors", "garbage_with_checksum": "not a valid safetensors",
                "wrong_count": "vectors must be shaped"}
    for name, corrupt in cases.items():
        path = probe.save(tmp_path / name)
        corrupt(path)
        with pytest.raises(ValueError, match=expected[name]) as info:
            ConceptProbe.load(path)
        assert "\n" not in str(info.value), name


def _rewrite_tensors_raw(path: Path, raw: bytes) -> None:
    (path / "directions.safetensors").write_bytes(raw)
    _rewrite_json(path, lambda meta: meta["tensors"].update(sha256=hashlib.sha256(raw).hexdigest()))


def test_a_failed_save_leaves_no_partial_bundle_and_keeps_the_old_one(tmp_path, monkeypatch):
    first, second = make_probe(seed=0), make_probe(seed=1)
    target = tmp_path / "probe"
    real_write = bundle._write

    def failing_write(path, data):
        real_write(path, data)
        if path.name == "probe.json":
            raise OSError("disk full")

    monkeypatch.setattr(bundle, "_write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        first.save(target)
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor a temporary folder is left behind
    monkeypatch.setattr(bundle, "_write", real_write)
    first.save(target)
    monkeypatch.setattr(bundle, "_write", failing_write)
    with pytest.raises(OSError):
        second.save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["probe"]
    _same(first, ConceptProbe.load(target))
    monkeypatch.setattr(bundle, "_write", real_write)
    second.save(target)  # replacing a complete bundle works
    _same(second, ConceptProbe.load(target))
    assert [p.name for p in tmp_path.iterdir()] == ["probe"]


def test_save_never_replaces_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "song.wav").write_bytes(b"RIFF")
    with pytest.raises(ValueError, match="not a probe bundle"):
        make_probe().save(tmp_path / "music")
    assert (tmp_path / "music" / "song.wav").exists()
    with pytest.raises(ValueError, match="does not exist"):
        ConceptProbe.load(tmp_path / "missing")
    with pytest.raises(TypeError, match="ConceptProbe"):
        ProbeLibrary(tmp_path / "lib").save("probe", "x")


def test_library_lists_shows_saves_and_loads(tmp_path, monkeypatch):
    library = ProbeLibrary(tmp_path / "lib")
    assert library.list() == []
    library.save(make_probe("binary"), "c_vs_rest")
    library.save(make_probe("regression"), "tempo")
    (tmp_path / "lib" / "notes.txt").write_text("not a probe")
    assert library.list() == ["c_vs_rest", "tempo"]
    shown = library.show("c_vs_rest")
    assert shown["target"] == "C" and shown["val_scores"] == [0.6, 0.9, 0.75] and shown["model"]["name"] == "toy"
    _same(make_probe("regression"), library.load("tempo"))
    with pytest.raises(ValueError, match="no probe named 'chords'"):
        library.load("chords")
    for bad in ("../escape", "", ".hidden", "a/b"):
        with pytest.raises(ValueError, match="name must be"):
            library.save(make_probe(), bad)
    monkeypatch.setenv("MUSICRFM_PROBES", str(tmp_path / "env"))
    assert ProbeLibrary().root == tmp_path / "env" == default_library_root()
    monkeypatch.delenv("MUSICRFM_PROBES")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_library_root() == tmp_path / "xdg" / "musicrfm" / "probes"
