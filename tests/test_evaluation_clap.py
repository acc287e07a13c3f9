"""CLAP text adherence with a tiny random CLAP saved to disk and loaded back through the real loader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musicrfm.evaluation.clap import load_clap, save_tiny_clap


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    return load_clap(save_tiny_clap(tmp_path_factory.mktemp("clap") / "tiny"))


def _noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate))


def test_embeddings_have_unit_norm_and_the_projection_width(scorer):
    audio = scorer.audio_embedding(_noise(1.0, 48000), 48000)
    text = scorer.text_embedding(["warm piano", "fast drums"])
    assert audio.shape == (8,) and text.shape == (2, 8)
    assert np.allclose(np.linalg.norm(audio), 1.0) and np.allclose(np.linalg.norm(text, axis=1), 1.0)
    assert not np.allclose(text[0], text[1])


def test_score_is_a_deterministic_cosine(scorer):
    audio = _noise(1.5, 32000)
    first = scorer.score(audio, 32000, "warm piano")
    assert first == scorer.score(audio, 32000, "warm piano")
    assert -1.0 <= first <= 1.0
    expected = scorer.text_embedding(["warm piano"])[0] @ scorer.audio_embedding(audio, 32000)
    assert first == pytest.approx(float(expected))


def test_long_clips_average_their_windows(scorer):
    rate, window = scorer.sample_rate, scorer.window_samples
    audio = _noise(2.5 * window / rate, rate, seed=1)
    parts = [scorer.audio_embedding(audio[i : i + window], rate) for i in range(0, audio.size, window)]
    mean = np.mean(parts, axis=0)
    assert len(parts) == 3
    assert np.allclose(scorer.audio_embedding(audio, rate), mean / np.linalg.norm(mean), atol=1e-6)


def test_missing_or_wrong_folders_are_refused(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_clap(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no config.json"):
        load_clap(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "musicgen"}))
    with pytest.raises(ValueError, match="not CLAP"):
        load_clap(other)
    with pytest.raises(ValueError, match="not available locally"):
        load_clap("nobody/no-such-clap-model")
    with pytest.raises(TypeError, match="folder path"):
        load_clap(42)


def test_incomplete_folder_is_named(tmp_path):
    folder = save_tiny_clap(tmp_path / "clap")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        load_clap(folder)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda s: s.score(np.zeros(0), 48000, "piano"), ValueError, "empty"),
        (lambda s: s.score(_noise(1, 48000), 48000.0, "piano"), TypeError, "sample_rate"),
        (lambda s: s.score(np.full(100, np.nan), 48000, "piano"), ValueError, "NaN"),
        (lambda s: s.score(_noise(1, 48000), 48000, ""), ValueError, "text"),
        (lambda s: s.text_embedding("piano"), ValueError, "list"),
    ],
)
def test_bad_inputs(scorer, call, error, words):
    with pytest.raises(error, match=words):
        call(scorer)
