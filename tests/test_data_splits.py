"""Stratified splits, dataset views (subset, one-vs-rest, split), the audio estimators the dataset checks
rely on, and the theory tables."""

from collections import Counter

import numpy as np
import pytest

from musicrfm.data import (
    ClipMeta,
    ConceptDataset,
    estimate_tempo,
    make_dataset,
    onset_times,
    pitch_class_profile,
    pitch_salience,
    quantile_bins,
    stratified_split,
)
from musicrfm.data.concepts import tempo_bin
from musicrfm.data.theory import SCALES, progression_chords, resolve_instruments, roman_chord

SR = 16000


@pytest.mark.parametrize("sizes", [[10] * 12, [7, 7, 7], [20, 5, 40], [3] * 5])
def test_split_is_a_stratified_seeded_partition(sizes):
    labels = np.repeat(np.arange(len(sizes)), sizes)
    split = stratified_split(labels, seed=7)
    parts = [split.train, split.val, split.test]
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(labels.size))
    total = labels.size
    assert [p.size for p in parts] == pytest.approx([0.7 * total, 0.15 * total, 0.15 * total], abs=1.0)
    for part, frac in zip(parts, (0.7, 0.15, 0.15)):
        counts = np.bincount(labels[part], minlength=len(sizes))
        assert np.all(np.abs(counts - frac * np.array(sizes)) < 1.0 + 1e-9)
    again = stratified_split(labels, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(parts, (again.train, again.val, again.test)))
    other = stratified_split(labels, seed=8)
    assert not np.array_equal(split.val, other.val)


def test_split_options_and_errors():
    split = stratified_split(["a"] * 5 + ["b"] * 5, fractions=(0.8, 0.2, 0.0))
    assert (split.train.size, split.val.size, split.test.size) == (8, 2, 0)
    with pytest.raises(ValueError, match="fractions must be three non-negative numbers summing to 1"):
        stratified_split(["a", "b"], fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="with train > 0"):
        stratified_split(["a", "b"], fractions=(0.0, 0.5, 0.5))
    with pytest.raises(ValueError, match=r"too few clips \(2\) for a non-empty val part"):
        stratified_split(["a", "b"])
    with pytest.raises(ValueError, match="strata must not be empty"):
        stratified_split([])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        stratified_split(["a"] * 10, seed=-1)


def test_quantile_bins_balance_a_regression_target():
    bins = quantile_bins(np.random.default_rng(0).uniform(60, 180, 100), n_bins=4)
    assert np.bincount(bins).tolist() == [25, 25, 25, 25]
    with pytest.raises(ValueError, match="targets must be a non-empty 1-D sequence of finite numbers"):
        quantile_bins([1.0, np.inf])
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        quantile_bins([1.0, 2.0], n_bins=0)


def test_dataset_split_subset_and_one_vs_rest():
    ds = make_dataset("chords", 10, classes=["major", "minor", "augmented"], sample_rate=8000, duration_s=0.5,
                      backend="numpy")
    train, val, test = ds.split(seed=1)
    assert (len(train), len(val), len(test)) == (22, 4, 4)  # 4.5 clips round to even
    assert sorted(Counter(train.labels).values()) == [7, 7, 8]
    assert all(set(Counter(part.labels).values()) <= {1, 2} for part in (val, test))
    assert not {m.clip_id for m in train.metadata} & {m.clip_id for m in val.metadata + test.metadata}
    assert ds.audio_fingerprint() == ds.binary("major").audio_fingerprint() == ds.subset(range(30)).audio_fingerprint()
    assert ds.subset([1, 0]).audio_fingerprint() != ds.subset([0, 1]).audio_fingerprint()
    picked = ds.subset([5, 0])
    assert [m.clip_id for m in picked.metadata] == [ds.metadata[5].clip_id, ds.metadata[0].clip_id]
    assert picked.classes == ds.classes and np.array_equal(picked[0].audio, ds[5].audio)
    binary = ds.binary("minor")
    assert binary.classes == ("not_minor", "minor")
    assert binary.targets.tolist() == [float(label == "minor") for label in ds.labels]
    assert binary.labels.tolist() == ["minor" if lab == "minor" else "not_minor" for lab in ds.labels]
    with pytest.raises(ValueError, match=r"target must be one of \['major', 'minor', 'augmented'\]"):
        ds.binary("sus2")
    with pytest.raises(ValueError, match="indices must be a non-empty list within 0..29"):
        ds.subset([30])
    with pytest.raises(TypeError, match="use subset"):
        ds[0:2]


def test_regression_dataset_splits_on_target_quantiles_and_has_no_binary_view():
    ds = make_dataset("tempo", 5, sample_rate=8000, duration_s=1.0, backend="numpy")
    train, val, test = ds.split(seed=0)
    assert len(train) + len(val) + len(test) == len(ds) == 30
    for part in (val, test):
        assert part.targets.min() < 120 < part.targets.max()  # both ends of the BPM range are represented
    with pytest.raises(ValueError, match="binary\\(\\) needs a classification dataset"):
        ds.binary("60-80")
    assert tempo_bin(60) == "60-80" and tempo_bin(180) == "160-180" and tempo_bin(119.99) == "100-120"
    with pytest.raises(ValueError, match=r"bpm must lie in \[60, 180\]"):
        tempo_bin(200)


def test_dataset_constructor_validates_its_inputs():
    meta = [ClipMeta("a", "c", "x", 0.0), ClipMeta("b", "c", "y", 1.0)]
    audio = [np.zeros(10, np.float32), np.ones(10, np.float32)]
    ds = ConceptDataset(audio, meta, sample_rate=8000, concept="c", classes=["x", "y"])
    assert ds.summary()["class_counts"] == {"x": 1, "y": 1} and len(list(ds)) == 2
    cases = [
        (dict(metadata=meta[:1]), "equally long and non-empty"),
        (dict(sample_rate=0), "sample_rate must be a positive integer"),
        (dict(task="ranking"), "task must be one of"),
        (dict(classes=["x"]), r"metadata labels \['y'\] are not among classes"),
        (dict(classes=["x", "x"]), "classes must be non-empty and unique"),
        (dict(audio=[np.zeros(10), np.zeros((2, 5))]), r"audio\[1\] must be a non-empty 1-D numpy array"),
        (dict(audio=[np.zeros(10), np.full(10, np.nan)]), r"audio\[1\] holds non-finite samples"),
    ]
    for change, message in cases:
        args = dict(audio=audio, metadata=meta, sample_rate=8000, concept="c", classes=["x", "y"]) | change
        with pytest.raises(ValueError, match=message):
            ConceptDataset(args.pop("audio"), args.pop("metadata"), **args)
    with pytest.raises(ValueError, match="metadata column 'octave' must be int, got 'high'"):
        ClipMeta.from_row({"clip_id": "a", "concept": "c", "label": "x", "target": "0", "octave": "high"})


def _harmonic_tone(midi, seconds=1.0, partials=(1.0, 0.6, 0.5, 0.3, 0.2)):
    t = np.arange(round(seconds * SR)) / SR
    freq = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(a * np.sin(2 * np.pi * k * freq * t) for k, a in enumerate(partials, start=1))


def test_pitch_estimators_find_fundamentals_not_harmonics():
    for midi in (40, 57, 64, 83):
        salience = pitch_salience(_harmonic_tone(midi), SR)
        assert int(np.argmax(salience)) == midi
        assert int(np.argmax(pitch_class_profile(_harmonic_tone(midi), SR))) == midi % 12
    triad = _harmonic_tone(60) + _harmonic_tone(63) + _harmonic_tone(67)
    assert set(np.argsort(pitch_class_profile(triad, SR))[-3:]) == {0, 3, 7}
    assert pitch_class_profile(triad, SR).sum() == pytest.approx(1.0)
    assert not pitch_class_profile(np.zeros(SR), SR).any()
    with pytest.raises(ValueError, match="audio must be a non-empty 1-D array"):
        pitch_class_profile(np.zeros((2, 10)), SR)
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        pitch_salience(np.zeros(10), 0)
    with pytest.raises(ValueError, match="lowest and highest must satisfy"):
        pitch_class_profile(triad, SR, lowest=90, highest=30)
    with pytest.raises(ValueError, match="hop_s must be > 0"):
        onset_times(triad, SR, hop_s=0.0)


def test_onsets_and_tempo_of_a_synthetic_click_track():
    audio = np.zeros(3 * SR)
    starts = 0.1 + 0.4 * np.arange(7)  # 150 BPM
    for s in starts:
        i = round(s * SR)
        audio[i : i + 400] += np.exp(-np.arange(400) / 80.0) * np.sin(np.arange(400) * 0.3)
    np.testing.assert_allclose(onset_times(audio, SR), starts, atol=0.006)
    assert estimate_tempo(audio, SR) == pytest.approx(150.0, rel=0.02)
    with pytest.raises(ValueError, match="needs at least two onsets"):
        estimate_tempo(audio[: round(0.3 * SR)], SR)


def test_theory_tables():
    assert SCALES["dorian"] == (0, 2, 3, 5, 7, 9, 10) and SCALES["locrian"] == (0, 1, 3, 5, 6, 8, 10)
    assert roman_chord("vii°", "major") == (11, "diminished") and roman_chord("III+", "minor") == (3, "augmented")
    assert progression_chords("I-V-vi-IV") == ((0, "major"), (7, "major"), (9, "minor"), (5, "major"))
    with pytest.raises(ValueError, match="numeral must be one of I..VII"):
        roman_chord("VIII", "major")
    with pytest.raises(ValueError, match="progression must be one of"):
        progression_chords("I-II")
    assert resolve_instruments(["flute", 0, "flute"]) == (73, 0)
    with pytest.raises(ValueError, match="instruments: unknown instrument True"):
        resolve_instruments([True])
