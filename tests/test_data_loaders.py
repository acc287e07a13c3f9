"""Loading labelled audio (class folders, CSV/JSONL manifests, SynTheory rows), saving and re-loading
datasets atomically, and every error a user can run into."""

import io
import json
import sys

import numpy as np
import pytest
import soundfile as sf

import musicrfm.data.dataset as dataset_module
from musicrfm.data import (
    ClipMeta,
    ConceptDataset,
    load_folder,
    load_manifest,
    load_syntheory,
    make_dataset,
    pitch_class_profile,
)
from musicrfm.data.loaders import syntheory_dataset

SR = 16000


def _tone(freq, seconds=0.5, sr=SR, channels=1):
    t = np.arange(round(seconds * sr)) / sr
    mono = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return mono if channels == 1 else np.stack([mono] * channels, axis=1)


def _write(path, audio, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr)
    return path


@pytest.fixture
def class_folder(tmp_path):
    root = tmp_path / "clips"
    _write(root / "a_note" / "one.wav", _tone(440.0))
    _write(root / "a_note" / "two.flac", _tone(440.0, channels=2, sr=44100), sr=44100)
    _write(root / "c_note" / "one.wav", _tone(261.63))
    (root / "c_note" / "notes.txt").write_text("not audio")
    _write(root / ".ipynb_checkpoints" / "one.wav", _tone(440.0))
    return root


def test_folder_classes_come_from_subfolders_and_audio_is_mono_at_the_target_rate(class_folder):
    ds = load_folder(class_folder, sample_rate=SR, concept="pitch")
    assert ds.classes == ("a_note", "c_note") and ds.labels.tolist() == ["a_note", "a_note", "c_note"]
    assert ds.targets.tolist() == [0.0, 0.0, 1.0] and ds.concept == "pitch"
    assert [m.path for m in ds.metadata] == ["a_note/one.wav", "a_note/two.flac", "c_note/one.wav"]
    assert all(a.ndim == 1 and a.size == SR // 2 for a in ds.audio)  # the 44.1 kHz stereo file too
    assert [int(np.argmax(pitch_class_profile(a, SR))) for a in ds.audio] == [9, 9, 0]


def test_folder_errors_name_the_problem(tmp_path, class_folder):
    with pytest.raises(ValueError, match="is not a folder"):
        load_folder(tmp_path / "missing")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="is empty: no .wav"):
        load_folder(tmp_path / "empty")
    _write(tmp_path / "one" / "only" / "x.wav", _tone(440.0))
    with pytest.raises(ValueError, match="found only one class 'only'"):
        load_folder(tmp_path / "one", sample_rate=SR)
    (class_folder / "c_note" / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(ValueError, match=r"cannot read audio file '.*broken\.wav'"):
        load_folder(class_folder, sample_rate=SR)
    with pytest.raises(ValueError, match="resample=False"):
        load_folder(tmp_path / "one", sample_rate=32000, resample=False)
    with pytest.raises(TypeError, match="resample must be True or False"):
        load_folder(class_folder, resample="no")
    with pytest.raises(ValueError, match="sample_rate must be an integer >= 1"):
        load_folder(class_folder, sample_rate=0)


def test_csv_manifest_with_labels_and_jsonl_manifest_with_targets(tmp_path):
    _write(tmp_path / "audio" / "slow.wav", _tone(220.0))
    _write(tmp_path / "audio" / "fast.wav", _tone(330.0, sr=22050), sr=22050)
    _write(tmp_path / "audio" / "mid.wav", _tone(275.0))
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("path,label,instrument\naudio/slow.wav,calm,cello\naudio/fast.wav,busy,\n")
    ds = load_manifest(csv_path, sample_rate=SR)
    assert ds.task == "classification" and ds.classes == ("busy", "calm")
    assert [m.instrument for m in ds.metadata] == ["cello", None] and ds.audio[1].size == SR // 2

    rows = [{"path": f"audio/{n}.wav", "target": bpm} for n, bpm in (("slow", 70), ("mid", 100), ("fast", 150))]
    jsonl_path = tmp_path / "tempo.jsonl"
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    reg = load_manifest(jsonl_path, sample_rate=SR, concept="tempo")
    assert reg.task == "regression" and reg.targets.tolist() == [70.0, 100.0, 150.0]
    assert reg.classes == ("q0", "q1", "q2") and reg.labels.tolist() == ["q0", "q1", "q2"]
    with pytest.raises(ValueError, match=r"fast\.wav' has sample rate 22050 Hz, not 16000 Hz, and resample=False"):
        load_manifest(jsonl_path, sample_rate=SR, resample=False)


@pytest.mark.parametrize(
    "text, suffix, message",
    [
        ("", ".csv", "is empty"),
        ("path,label\n,calm\n", ".csv", "row 1: missing 'path'"),
        ("path,label\na.wav,\nb.wav,x\n", ".csv", "row 1: missing 'label'"),
        ('{"path": "a.wav", "target": "fast"}\n', ".jsonl", "row 1: 'target' must be a number, got 'fast'"),
        ('{"path": "a.wav", "target": NaN}\n', ".jsonl", "row 1: 'target' must be finite"),
        ('{"path": "a.wav"\n', ".jsonl", "line 1 is not valid JSON"),
        ('["a.wav"]\n', ".jsonl", "line 1 must be a JSON object"),
        ("a.wav calm\n", ".txt", "must be a .csv or .jsonl file"),
        ("path,label\nmissing.wav,calm\nother.wav,busy\n", ".csv", r"cannot read audio file '.*missing\.wav'"),
    ],
)
def test_manifest_errors_name_the_row_or_file(tmp_path, text, suffix, message):
    path = tmp_path / f"manifest{suffix}"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_manifest(path)


def test_manifest_semantic_errors(tmp_path):
    _write(tmp_path / "a.wav", _tone(440.0))
    _write(tmp_path / "b.wav", _tone(440.0))
    one_class = tmp_path / "one.csv"
    one_class.write_text("path,label\na.wav,calm\nb.wav,calm\n")
    with pytest.raises(ValueError, match="found only one class 'calm'"):
        load_manifest(one_class, sample_rate=SR)
    flat = tmp_path / "flat.csv"
    flat.write_text("path,target\na.wav,90\nb.wav,90\n")
    with pytest.raises(ValueError, match="every target equals 90.0"):
        load_manifest(flat, sample_rate=SR)
    with pytest.raises(ValueError, match="task must be one of"):
        load_manifest(flat, task="ranking")
    with pytest.raises(ValueError, match="does not exist"):
        load_manifest(tmp_path / "nope.csv")


def _wav_bytes(freq):
    buffer = io.BytesIO()
    sf.write(buffer, _tone(freq, sr=44100, channels=2), 44100, format="WAV")
    return buffer.getvalue()


def test_syntheory_rows_are_decoded_capped_per_class_and_resampled():
    rows = [
        {"audio": {"bytes": _wav_bytes(440.0), "path": f"{label}_{i}.wav"}, "chord_type": label, "inversion": 0}
        for label in ("major", "minor")
        for i in range(3)
    ]
    ds = syntheory_dataset(rows, concept="chords", label_column="chord_type", n_per_class=2, sample_rate=SR)
    assert ds.class_counts() == {"major": 2, "minor": 2} and ds.audio[0].size == SR // 2
    assert [m.path for m in ds.metadata][:2] == ["major_0.wav", "major_1.wav"]
    tempo_rows = [{"audio": {"bytes": _wav_bytes(440.0), "path": None}, "bpm": bpm} for bpm in (60, 90, 120)]
    tempo = syntheory_dataset(tempo_rows, concept="tempo", label_column="bpm", n_per_class=5, sample_rate=SR)
    assert tempo.task == "regression" and tempo.targets.tolist() == [60.0, 90.0, 120.0]
    with pytest.raises(ValueError, match=r"lacks 'mode' or 'audio'; columns: \['audio', 'chord_type', 'inversion'\]"):
        syntheory_dataset(rows, concept="scales", label_column="mode", n_per_class=2, sample_rate=SR)


def test_load_syntheory_explains_the_missing_optional_dependency(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(ImportError, match=r"optional 'datasets' package \(pip install datasets\)"):
        load_syntheory("notes")
    with pytest.raises(ValueError, match="unknown concept 'melody'"):
        load_syntheory("melody")
    with pytest.raises(ValueError, match="max_rows must be an integer >= 1"):
        load_syntheory("notes", max_rows=0)


def test_save_then_load_round_trips_audio_and_metadata(tmp_path):
    ds = make_dataset("intervals", 1, sample_rate=SR, duration_s=0.5, backend="numpy", out_dir=tmp_path / "set")
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["audio", "dataset.json", "metadata.csv"]
    table = (tmp_path / "set" / "metadata.csv").read_text()
    assert table.splitlines()[0].startswith("clip_id,concept,label,target,path,") and str(tmp_path) not in table
    back = ConceptDataset.load(tmp_path / "set")
    assert (back.concept, back.task, back.classes, back.sample_rate) == (ds.concept, ds.task, ds.classes, SR)
    assert [m.path for m in back.metadata] == [f"audio/{i:06d}.wav" for i in range(len(ds))]
    assert [m for m in ds.metadata] == [ClipMeta(**{**vars(m), "path": None}) for m in back.metadata]
    for a, b in zip(ds.audio, back.audio):
        np.testing.assert_allclose(a, b, atol=1.0 / 32767)  # 16-bit PCM on disk
    as_manifest = load_manifest(tmp_path / "set" / "metadata.csv", sample_rate=SR, concept="intervals")
    assert sorted(as_manifest.classes) == sorted(ds.classes) and as_manifest.metadata[0].root == ds.metadata[0].root


def test_save_refuses_a_used_folder_and_leaves_nothing_when_interrupted(tmp_path, monkeypatch):
    ds = make_dataset("notes", 1, sample_rate=8000, duration_s=0.5, backend="numpy")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists and is not an empty folder"):
        ds.save(tmp_path / "used")
    calls = []

    def failing_write(path, audio, sample_rate):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        sf.write(str(path), audio, sample_rate)

    monkeypatch.setattr(dataset_module, "write_wav", failing_write)
    with pytest.raises(OSError, match="disk full"):
        ds.save(tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]
    (tmp_path / "empty").mkdir()
    monkeypatch.undo()
    ds.save(tmp_path / "empty")
    assert len(ConceptDataset.load(tmp_path / "empty")) == len(ds)


def test_load_rejects_folders_that_are_not_saved_datasets(tmp_path):
    with pytest.raises(ValueError, match="is not a saved concept dataset"):
        ConceptDataset.load(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="is not a musicrfm-concept-dataset description"):
        ConceptDataset.load(tmp_path)

