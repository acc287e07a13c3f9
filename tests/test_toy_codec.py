"""The toy codec: exact round trip of its own synthesis, sound that matches the tokens, EnCodec-style I/O."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

from musicrfm.models.toy.codec import MODEL_TYPE, ToyCodec, ToyCodecConfig
from musicrfm.models.toy.tokens import BASS, DYNAMICS, NO_BASS, OCTAVE, PITCH, REST, canonical

SR, HOP = 16000, 640


@pytest.fixture(scope="module")
def codec() -> ToyCodec:
    return ToyCodec(ToyCodecConfig())


def _held(pitch: int, octave: int, dynamics: int, bass: int, frames: int = 5) -> torch.Tensor:
    return torch.tensor([[pitch] * frames, [octave] * frames, [dynamics] * frames, [bass] * frames])[None]


def test_every_token_combination_round_trips_even_when_each_frame_changes(codec):
    # All 13 * 3 * 16 * 13 combinations in shuffled order: every frame differs from its neighbour, the
    # hardest case for frame-wise analysis (ramps and previous partials sit in each window).
    combos = torch.tensor(list(itertools.product(range(13), range(3), range(16), range(13))))
    order = torch.randperm(len(combos), generator=torch.Generator().manual_seed(0))
    codes = canonical(combos[order].T[None])
    audio = codec.decode(codes[None]).audio_values
    assert audio.shape == (1, 1, codes.shape[-1] * HOP) and audio.dtype == torch.float32
    assert torch.equal(codec.encode(audio).audio_codes[0], codes)


def test_out_of_range_tokens_decode_as_silence_or_clamp_and_come_back_canonical(codec):
    codes = torch.tensor([[[14, 3, 12], [2, 7, 2], [5, 4, 9], [15, 12, 0]]])
    back = codec.encode(codec.decode(codes[None]).audio_values).audio_codes[0]
    assert torch.equal(back, canonical(codes))
    assert back[0, :, 0].tolist() == [REST, 0, 0, NO_BASS]  # pitch 14 is a rest, bass 15 is no bass
    assert back[0, OCTAVE, 1] == 2  # octave 7 clamps to the top octave


def test_a4_sounds_at_440_hz_and_bass_a2_at_110_hz(codec):
    for codes, expected in ((_held(9, 0, 0, NO_BASS, 25), 440.0), (_held(REST, 0, 0, 9, 25), 110.0)):
        audio = codec.decode(codes[None]).audio_values[0, 0].numpy()
        spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
        peak_hz = np.argmax(spectrum) * SR / audio.size
        assert abs(peak_hz - expected) < 2.0


def test_loudness_and_brightness_tokens_change_level_and_spectral_centroid(codec):
    def measure(dynamics: int) -> tuple[float, float]:
        audio = codec.decode(_held(0, 1, dynamics, NO_BASS, 10)[None]).audio_values[0, 0].numpy()
        spectrum = np.abs(np.fft.rfft(audio))
        centroid = float((np.fft.rfftfreq(audio.size, 1 / SR) * spectrum).sum() / spectrum.sum())
        return float(np.sqrt(np.mean(audio**2))), centroid

    rms = [measure(4 * level + 1)[0] for level in range(4)]
    centroids = [measure(8 + brightness)[1] for brightness in range(4)]
    assert rms == sorted(rms) and rms[-1] > 3 * rms[0]
    assert centroids == sorted(centroids) and centroids[-1] > 1.5 * centroids[0]


def test_encoding_other_audio_reads_the_pitch_class_of_a_plain_tone(codec):
    t = np.arange(SR) / SR
    for midi in (50, 64, 79):  # below, inside and high in the melody range
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6) if k * f0 < 7000) * np.exp(-t)
        codes = codec.encode(torch.tensor(0.3 * tone, dtype=torch.float32)[None, None]).audio_codes[0, 0]
        sounding = codes[PITCH] < REST
        assert sounding.float().mean() > 0.8
        assert (codes[PITCH][sounding] == midi % 12).all()
        assert ((codes[BASS] == NO_BASS) | (codes[BASS] == midi % 12)).all()


def test_encode_pads_a_partial_last_frame_like_encodec(codec):
    codes = codec.encode(torch.zeros(2, 1, 3 * HOP + 1)).audio_codes
    assert codes.shape == (1, 2, 4, 4)
    assert (codes[0, :, PITCH] == REST).all() and (codes[0, :, DYNAMICS] == 0).all()


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(1, 4, 5, dtype=torch.long), "audio_codes must be a \\(1, batch, 4, frames\\)"),
        (torch.zeros(1, 1, 3, 5, dtype=torch.long), "audio_codes must be a \\(1, batch, 4, frames\\)"),
        (torch.full((1, 1, 4, 5), 16), "integer ids in \\[0, 16\\)"),
        (torch.zeros(1, 1, 4, 5), "integer ids"),
    ],
)
def test_decode_refuses_malformed_codes(codec, bad, message):
    with pytest.raises(ValueError, match=message):
        codec.decode(bad)


def test_encode_refuses_stereo_or_unbatched_audio(codec):
    for bad in (torch.zeros(1, 2, 640), torch.zeros(640)):
        with pytest.raises(ValueError, match="input_values must be a \\(batch, 1, samples\\)"):
            codec.encode(bad)


@pytest.mark.parametrize(
    "kwargs, field",
    [({"hop_length": 100}, "hop_length"), ({"sampling_rate": 8000}, "sampling_rate"),
     ({"num_codebooks": 8}, "num_codebooks"), ({"audio_channels": 2}, "audio_channels")],
)
def test_config_refuses_settings_the_layout_cannot_honour(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ToyCodecConfig(**kwargs)


def test_codec_is_registered_with_transformers_auto_classes(tmp_path):
    config = AutoConfig.for_model(MODEL_TYPE, hop_length=320)
    assert isinstance(config, ToyCodecConfig) and config.frame_rate == 50
    assert isinstance(AutoModel.from_config(config), ToyCodec)
    assert sum(p.numel() for p in AutoModel.from_config(config).parameters()) == 0
