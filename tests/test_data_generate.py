"""Generated concept datasets: registry, determinism, balance, and that the audio plays what the labels say,
checked with independent estimators (pitch-class profile, onsets) on both rendering backends."""

from collections import Counter

import numpy as np
import pytest

import musicrfm.data.render as render
from musicrfm.data import (
    CONCEPTS,
    estimate_tempo,
    fluidsynth_unavailable,
    get_concept,
    make_dataset,
    onset_times,
    pitch_class_profile,
)
from musicrfm.data.specs import LEAD_S, RELEASE_S, bar_accents, plan_clips
from musicrfm.data.theory import CHORD_QUALITIES, INTERVALS, PITCH_CLASSES, SCALES, progression_chords

SR = 16000
INSTRUMENTS = [0, 19, 24, 40, 56, 71, 73, 81, 89]  # piano, organ, guitar, violin, trumpet, clarinet, flute, lead, pad
BACKENDS = [
    "numpy",
    pytest.param(
        "fluidsynth",
        marks=pytest.mark.skipif(fluidsynth_unavailable() is not None, reason=f"{fluidsynth_unavailable()}"),
    ),
]


def _pitches(clip):
    return [int(p) for p in clip.meta.pitches.split()]


def _profile(clip, start=0.0, end=None):
    audio = clip.audio[round(start * SR) : None if end is None else round(end * SR)]
    return pitch_class_profile(audio, SR)


def test_registry_lists_concepts_and_rejects_unknown_names():
    assert set(CONCEPTS) == {"notes", "intervals", "scales", "chords", "progressions", "tempo", "time_signatures"}
    assert get_concept("notes").classes == PITCH_CLASSES
    assert get_concept("chords").class_index("minor7") == list(CHORD_QUALITIES).index("minor7")
    with pytest.raises(ValueError, match=r"unknown concept 'melody'.*'chords'"):
        get_concept("melody")
    with pytest.raises(TypeError, match="concept must be a string"):
        get_concept(3)
    with pytest.raises(ValueError, match="not a class of concept 'notes'"):
        get_concept("notes").class_index("H")


@pytest.mark.parametrize("concept", sorted(CONCEPTS))
def test_every_concept_is_balanced_and_its_plans_match_the_labels(concept):
    ds = make_dataset(concept, 2, sample_rate=8000, duration_s=1.0, backend="numpy")
    info = get_concept(concept)
    assert ds.class_counts() == {c: 2 for c in info.classes}
    assert ds.task == info.task and len({m.clip_id for m in ds.metadata}) == len(ds)
    assert all(a.shape == (8000,) and np.abs(a).max() == pytest.approx(0.9) for a in ds.audio)
    for clip in ds:
        pitches = _pitches(clip)
        if concept == "notes":
            assert pitches == [12 * (clip.meta.octave + 1) + PITCH_CLASSES.index(clip.label)]
        elif concept == "chords":
            root = PITCH_CLASSES.index(clip.meta.root)
            assert sorted((p - root) % 12 for p in pitches) == sorted(CHORD_QUALITIES[clip.label])
            assert pitches[0] % 12 == (root + CHORD_QUALITIES[clip.label][clip.meta.inversion]) % 12
        elif concept == "intervals":
            assert max(pitches) - min(pitches) == INTERVALS.index(clip.label) + 1
        elif concept == "scales":
            steps = sorted(p - min(pitches) for p in pitches)
            assert steps == [*SCALES[clip.label], 12]
        elif concept == "progressions":
            bass = pitches[:: len(pitches) // 4]
            key = PITCH_CLASSES.index(clip.meta.root)
            assert [(b - key) % 12 for b in bass] == [off for off, _ in progression_chords(clip.label)]
        elif concept == "tempo":
            assert clip.meta.tempo_bpm == clip.target
            lo, hi = map(float, clip.label.split("-"))
            assert lo <= clip.target < hi


def test_nuisances_are_spread_evenly_within_each_class():
    ds = make_dataset("notes", 12, sample_rate=8000, duration_s=0.5, instruments=[0, "flute"], backend="numpy")
    for label in ds.classes:
        combos = Counter((m.octave, m.program) for m in ds.metadata if m.label == label)
        assert combos == {(o, p): 2 for o in (3, 4, 5) for p in (0, 73)}


def test_plans_for_more_clips_extend_the_plans_for_fewer():
    small = plan_clips("chords", ("major", "sus4"), n_per_class=2, seed=5, programs=(0, 40), duration_s=2.0)
    large = plan_clips("chords", ("major", "sus4"), n_per_class=4, seed=5, programs=(0, 40), duration_s=2.0)
    assert small[:2] == large[:2] and small[2:] == large[4:6]


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_bytes_and_metadata_other_seed_differs(backend):
    kwargs = dict(sample_rate=SR, duration_s=1.0, instruments=INSTRUMENTS, backend=backend)
    first, again = make_dataset("chords", 2, seed=3, **kwargs), make_dataset("chords", 2, seed=3, **kwargs)
    assert first.metadata == again.metadata
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first.audio, again.audio))
    other = make_dataset("chords", 2, seed=4, **kwargs)
    assert first.metadata != other.metadata
    assert sum(not np.array_equal(a, b) for a, b in zip(first.audio, other.audio)) > len(first) // 2
    assert {m.backend for m in first.metadata} == {backend}


@pytest.mark.parametrize("backend", BACKENDS)
def test_note_clips_peak_at_the_labelled_pitch_class(backend):
    ds = make_dataset("notes", 3, sample_rate=SR, duration_s=1.0, instruments=INSTRUMENTS, backend=backend)
    assert len({m.instrument for m in ds.metadata}) >= 6 and {m.octave for m in ds.metadata} == {3, 4, 5}
    estimated = [PITCH_CLASSES[int(np.argmax(_profile(c)))] for c in ds]
    assert estimated == ds.labels.tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_chord_tones_dominate_the_profile(backend):
    ds = make_dataset("chords", 3, sample_rate=SR, duration_s=1.0, instruments=INSTRUMENTS, backend=backend)
    for clip in ds:
        tones = {p % 12 for p in _pitches(clip)}
        profile = _profile(clip)
        assert set(np.argsort(profile)[::-1][: len(tones)]) == tones, (clip.meta, profile.round(3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_interval_clips_hold_both_notes_in_the_stated_order(backend):
    ds = make_dataset("intervals", 2, sample_rate=SR, duration_s=1.0, instruments=INSTRUMENTS, backend=backend)
    for clip in ds:
        pitches = _pitches(clip)
        if clip.meta.style == "harmonic":
            tones = {p % 12 for p in pitches}
            assert set(np.argsort(_profile(clip))[::-1][: len(tones)]) == tones
            continue
        assert (pitches[1] > pitches[0]) == (clip.meta.style == "ascending")
        half = (1.0 - LEAD_S - RELEASE_S) / 2
        for k, pitch in enumerate(pitches):
            segment = _profile(clip, LEAD_S + (k + 0.3) * half, LEAD_S + (k + 0.9) * half)
            assert int(np.argmax(segment)) == pitch % 12


@pytest.mark.parametrize("backend", BACKENDS)
def test_scale_clips_play_each_degree_in_turn(backend):
    ds = make_dataset("scales", 1, sample_rate=SR, instruments=INSTRUMENTS, backend=backend)
    for clip in ds:
        pitches = _pitches(clip)
        span = (4.0 - LEAD_S - RELEASE_S) / len(pitches)
        heard = [
            int(np.argmax(_profile(clip, LEAD_S + (k + 0.3) * span, LEAD_S + (k + 0.9) * span)))
            for k in range(len(pitches))
        ]
        assert heard == [p % 12 for p in pitches], clip.meta


@pytest.mark.parametrize("backend", BACKENDS)
def test_tempo_clicks_sound_at_the_labelled_bpm(backend):
    ds = make_dataset("tempo", 2, sample_rate=SR, backend=backend)
    for clip in ds:
        assert estimate_tempo(clip.audio, SR) == pytest.approx(clip.target, rel=0.02)
        assert onset_times(clip.audio, SR)[0] == pytest.approx(clip.meta.onset_s, abs=0.01)


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_signature_clicks_follow_the_pulse_and_accent_the_downbeat(backend):
    ds = make_dataset("time_signatures", 2, sample_rate=SR, backend=backend)
    for clip in ds:
        pulse, n = 60.0 / clip.meta.tempo_bpm, len(_pitches(clip))
        onsets = onset_times(clip.audio, SR)
        np.testing.assert_allclose(onsets, clip.meta.onset_s + pulse * np.arange(n), atol=0.012)
        peaks = np.array([np.abs(clip.audio[round(t * SR) : round((t + 0.03) * SR)]).max() for t in onsets])
        accents = np.array([bar_accents(clip.label)[k % len(bar_accents(clip.label))] for k in range(n)])
        assert peaks[accents == "strong"].min() > peaks[accents == "weak"].max(), clip.meta


def test_auto_backend_falls_back_to_numpy_with_one_warning(monkeypatch):
    monkeypatch.setattr(render, "fluidsynth_unavailable", lambda: "no libfluidsynth in this test")
    monkeypatch.setattr(render, "_fallback_warned", False)
    with pytest.warns(UserWarning, match="no libfluidsynth in this test") as caught:
        first = make_dataset("notes", 1, sample_rate=8000, duration_s=0.5, backend="auto")
        make_dataset("notes", 1, sample_rate=8000, duration_s=0.5, backend="auto")
    assert len(caught) == 1 and {m.backend for m in first.metadata} == {"numpy"}
    with pytest.raises(RuntimeError, match="backend='fluidsynth' is unavailable: no libfluidsynth"):
        make_dataset("notes", 1, sample_rate=8000, duration_s=0.5, backend="fluidsynth")


def test_class_subset_keeps_only_the_chosen_classes():
    ds = make_dataset("chords", 2, classes=["minor", "major", "minor"], sample_rate=8000, duration_s=0.5,
                      backend="numpy")
    assert ds.classes == ("minor", "major") and ds.targets.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(concept="melody"), ValueError, "unknown concept 'melody'"),
        (dict(n_per_class=0), ValueError, "n_per_class must be an integer >= 1"),
        (dict(n_per_class=True), ValueError, "n_per_class must be an integer"),
        (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
        (dict(sample_rate=100), ValueError, "sample_rate must be an integer >= 8000"),
        (dict(sample_rate=192000), ValueError, "sample_rate must be at most 96000"),
        (dict(duration_s=0.1), ValueError, r"duration_s must be a number of seconds in \[0.5, 30\]"),
        (dict(duration_s="2"), ValueError, "duration_s must be a number"),
        (dict(instruments=["kazoo"]), ValueError, "instruments: unknown instrument 'kazoo'"),
        (dict(instruments=[128]), ValueError, "instruments: unknown instrument 128"),
        (dict(instruments=[]), ValueError, "instruments must not be empty"),
        (dict(instruments="flute"), TypeError, "instruments must be a list"),
        (dict(classes=["major", "H"]), ValueError, "'H' is not a class of concept 'chords'"),
        (dict(classes=["major"]), ValueError, "classes must name at least two classes"),
        (dict(classes="major"), TypeError, "classes must be a list"),
        (dict(backend="timidity"), ValueError, "backend must be one of"),
    ],
)
def test_make_dataset_rejects_bad_arguments(kwargs, error, message):
    args = dict(concept="chords", n_per_class=1, sample_rate=8000, duration_s=0.5, backend="numpy") | kwargs
    with pytest.raises(error, match=message):
        make_dataset(**args)
