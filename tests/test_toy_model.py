"""The toy MusicGen: corpus, deterministic training, cache, loading through from_pretrained, generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import MusicgenForConditionalGeneration

import musicrfm.models.toy.load as toy_load
from musicrfm.models.backend import load_musicgen
from musicrfm.models.toy import ToyArchitecture, ToyCodec, ToyTrainConfig, build_toy_model, load_toy, toy_tokenizer, train_toy
from musicrfm.models.toy.corpus import STYLE_WORDS, VOCABULARY, render_style, sample_clip
from musicrfm.models.toy.describe import mode_margin, onset_rate
from musicrfm.models.toy.tokens import DYNAMICS, NUM_BRIGHTNESS, PITCH, REST
from musicrfm.models.toy.train import delayed

TINY = ToyTrainConfig(steps=3, batch_size=2, clip_frames=20, architecture=ToyArchitecture(32, 1))


@pytest.fixture(scope="module")
def tiny_toy(tmp_path_factory):
    return load_toy(TINY, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


@pytest.fixture(scope="module")
def trained_toy():
    """The default toy model from the user's cache (trained there first, a few minutes, if missing)."""
    return load_toy(progress=False)


def _style(**chosen: str) -> dict[str, str]:
    return {attribute: chosen.get(attribute, words[0]) for attribute, words in STYLE_WORDS.items()}


def test_corpus_styles_show_in_the_music():
    rng = np.random.default_rng(0)
    happy = [mode_margin(render_style(rng, _style(mode="happy"), 200)) for _ in range(40)]
    sad = [mode_margin(render_style(rng, _style(mode="sad"), 200)) for _ in range(40)]
    fast = [onset_rate(render_style(rng, _style(tempo="fast"), 200), frame_rate=25) for _ in range(20)]
    slow = [onset_rate(render_style(rng, _style(tempo="slow"), 200), frame_rate=25) for _ in range(20)]
    assert np.mean(np.array(happy) > 0) > 0.7 and np.mean(np.array(sad) < 0) > 0.7
    assert min(fast) > max(slow)


def test_corpus_uses_every_pitch_class_about_equally_and_prompts_only_style_words():
    rng = np.random.default_rng(1)
    clips = [sample_clip(rng, 100) for _ in range(300)]
    pitches = np.concatenate([clip.codes[PITCH] for clip in clips])
    share = np.bincount(pitches[pitches < REST], minlength=12) / np.sum(pitches < REST)
    assert share.min() > 0.05 and share.max() < 0.12
    assert all(word in VOCABULARY for clip in clips for word in clip.prompt.split())
    assert all(set(clip.prompt.split()) <= set(clip.style.values()) for clip in clips)


def test_corpus_refuses_unknown_styles_and_bad_lengths():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="style\\['mode'\\]"):
        render_style(rng, {**_style(), "mode": "angry"}, 10)
    with pytest.raises(ValueError, match="frames"):
        render_style(rng, _style(), 0)


def test_style_words_get_distinct_token_ids():
    ids = toy_tokenizer()([" ".join(VOCABULARY)])["input_ids"][0, :-1]
    assert len(set(ids.tolist())) == len(VOCABULARY)


def test_delay_pattern_matches_musicgen_own_builder():
    decoder = build_toy_model(ToyArchitecture(32, 1), seed=0).decoder
    codes = torch.randint(0, 16, (2, 4, 6), generator=torch.Generator().manual_seed(0))
    ours = delayed(codes)
    with_bos = torch.cat([torch.full((2, 4, 1), 16), codes], dim=-1).reshape(8, 7)
    _, theirs = decoder.build_delay_pattern_mask(with_bos, pad_token_id=16, max_length=ours.shape[-1])
    theirs = theirs.reshape(2, 4, -1)
    filled = theirs != -1  # -1 marks the slots generate() would still have to fill
    assert ours.shape == theirs.shape and filled.float().mean() > 0.8
    assert torch.equal(ours[filled], theirs[filled])


def test_training_is_deterministic_for_a_seed_and_differs_across_seeds():
    first, losses_a = train_toy(TINY)
    second, losses_b = train_toy(TINY)
    other, _ = train_toy(ToyTrainConfig(**{**TINY.__dict__, "seed": 1}))
    assert losses_a == losses_b
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(first.decoder.lm_heads[0].weight, other.decoder.lm_heads[0].weight)


def test_training_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_toy(TINY)
    assert torch.equal(torch.rand(3), expected)


def test_config_key_tracks_every_field_and_bad_fields_are_refused():
    assert TINY.key() == ToyTrainConfig(**TINY.__dict__).key()
    assert TINY.key() != ToyTrainConfig(**{**TINY.__dict__, "learning_rate": 1e-3}).key()
    assert TINY.key() != ToyTrainConfig(**{**TINY.__dict__, "architecture": ToyArchitecture(32, 2)}).key()
    for field, value in (("steps", 0), ("seed", -1), ("text_dropout", 1.0), ("learning_rate", float("nan"))):
        with pytest.raises(ValueError, match=field):
            ToyTrainConfig(**{field: value})
    with pytest.raises(ValueError, match="hidden_size"):
        ToyArchitecture(hidden_size=30, num_heads=4)


def test_load_trains_once_then_reuses_the_cache(tmp_path, monkeypatch):
    toy = load_toy(TINY, cache_dir=tmp_path, progress=False)
    assert toy.folder == tmp_path / f"toy-{TINY.key()}"
    assert sorted(p.name for p in toy.folder.iterdir()) == ["config.json", "generation_config.json",
                                                            "model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == [toy.folder.name]  # no staging folder left behind

    def refuse(*args, **kwargs):
        raise AssertionError("a cached model must not be retrained")

    monkeypatch.setattr(toy_load, "train_toy", refuse)
    again = load_toy(TINY, cache_dir=tmp_path, progress=False)
    trained, _ = train_toy(TINY)
    for (name, a), b in zip(trained.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_loaded_model_is_a_real_musicgen_with_the_toy_codec(tiny_toy):
    assert isinstance(tiny_toy.model, MusicgenForConditionalGeneration)
    assert isinstance(tiny_toy.codec, ToyCodec) and tiny_toy.codec is tiny_toy.model.audio_encoder
    mg = load_musicgen(tiny_toy.folder, device="cpu")  # musicrfm's loader picks the same hashing tokenizer
    assert mg.frame_rate == 25 and mg.sample_rate == 16000 and mg.num_codebooks == 4
    assert torch.equal(mg.tokenize(["sad organ"])["input_ids"], toy_tokenizer()(["sad organ"])["input_ids"])


def test_generation_gives_audio_of_the_requested_length(tiny_toy):
    torch.manual_seed(0)
    text = toy_tokenizer()(["happy piano", "sad flute"])
    with torch.inference_mode():
        audio = tiny_toy.model.generate(**text, max_new_tokens=25 + 3, guidance_scale=3.0)
    assert audio.shape == (2, 1, 25 * 640)
    codes = tiny_toy.codec.encode(audio).audio_codes[0]
    assert codes.shape == (2, 4, 25)


def _generated_codes(toy, prompt: str, count: int = 8, frames: int = 100) -> np.ndarray:
    torch.manual_seed(0)
    with torch.inference_mode():
        audio = toy.model.generate(**toy_tokenizer()([prompt] * count), max_new_tokens=frames + 3, guidance_scale=3.0)
    # Read the style back from the audio, as a listener would, not from the sampled tokens.
    return toy.codec.encode(audio).audio_codes[0].numpy()


@pytest.mark.slow
def test_tempo_words_set_note_rate(trained_toy):
    fast = [onset_rate(codes, frame_rate=25) for codes in _generated_codes(trained_toy, "fast")]
    slow = [onset_rate(codes, frame_rate=25) for codes in _generated_codes(trained_toy, "slow")]
    assert np.mean(fast) > 2 * np.mean(slow)


@pytest.mark.slow
def test_instrument_words_set_the_timbre(trained_toy):
    for word, expected in (("organ", 3), ("flute", 0), ("piano", 2)):
        codes = _generated_codes(trained_toy, word)
        sounding = codes[:, PITCH] < REST
        assert np.mean(codes[:, DYNAMICS][sounding] % NUM_BRIGHTNESS == expected) > 0.9, word
