"""Audio files, resampling, channels and EnCodec encode/decode through tiny MusicGen codecs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrfm.models import MusicGen, convert_channels, decode_codes, encode_audio, read_audio, resample, write_audio
from musicrfm.models.random_weights import tiny_musicgen

HOP = 640  # the tiny 32 kHz codec: upsampling ratios 8 * 5 * 4 * 4


@pytest.fixture(scope="module")
def mono():
    return MusicGen.from_model(tiny_musicgen(seed=0))


@pytest.fixture(scope="module")
def stereo():
    return MusicGen.from_model(tiny_musicgen(seed=0, audio_channels=2))


def _sine(freq: float, seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave * (c + 1) / channels for c in range(channels)])


def _peak_hz(clip: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(clip[0]))
    return float(np.fft.rfftfreq(clip.shape[1], 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_write_read_round_trip(tmp_path, suffix):
    clip = _sine(440, 0.25, 16000, channels=2)
    path = tmp_path / f"a{suffix}"
    write_audio(path, clip, 16000)
    back, sr = read_audio(path)
    assert sr == 16000 and back.shape == clip.shape and back.dtype == np.float32
    np.testing.assert_allclose(back, clip, atol=1 / 32768 + 1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_float_wav_is_exact_and_pcm_is_clipped(tmp_path):
    loud = np.array([[0.1, -2.0, 3.0, 0.25]], dtype=np.float32)
    write_audio(tmp_path / "f.wav", loud, 8000, subtype="FLOAT")
    np.testing.assert_array_equal(read_audio(tmp_path / "f.wav")[0], loud)
    write_audio(tmp_path / "p.wav", loud, 8000)
    np.testing.assert_allclose(read_audio(tmp_path / "p.wav")[0], [[0.1, -1.0, 1.0, 0.25]], atol=1e-4)


def test_read_with_resample_and_channels(tmp_path):
    write_audio(tmp_path / "s.wav", _sine(440, 0.5, 16000, channels=2), 16000, subtype="FLOAT")
    clip, sr = read_audio(tmp_path / "s.wav", sample_rate=32000, channels=1)
    assert sr == 32000 and clip.shape == (1, 16000)
    assert abs(_peak_hz(clip, sr) - 440) <= 2
    # Mono is the mean of the channels (amplitudes 0.25 and 0.5 -> 0.375).
    assert abs(np.abs(clip[0, 2000:-2000]).max() - 0.375) < 0.01


def test_resample_keeps_pitch_and_length():
    clip = _sine(1000, 1.0, 44100)
    out = resample(clip, 44100, 32000)
    assert out.shape == (1, 32000)
    assert abs(_peak_hz(out, 32000) - 1000) <= 1
    assert np.array_equal(resample(clip, 44100, 44100), clip)


def test_channel_conversion():
    stereo_clip = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(convert_channels(stereo_clip, 1), [[0.5, 0.5]])
    np.testing.assert_array_equal(convert_channels(np.array([0.25, 0.5], dtype=np.float32), 2), [[0.25, 0.5]] * 2)
    with pytest.raises(ValueError, match="channels must be 1 or 2"):
        convert_channels(stereo_clip, 3)


def test_bad_audio_inputs(tmp_path):
    with pytest.raises(ValueError, match="finite floating-point"):
        resample(np.array([0.0, np.nan], dtype=np.float32), 16000, 32000)
    with pytest.raises(ValueError, match="finite floating-point"):
        resample(np.array([1, 2], dtype=np.int16), 16000, 32000)
    with pytest.raises(ValueError, match=r"shaped \(samples,\) or \(channels<=2, samples\)"):
        resample(np.zeros((3, 10), dtype=np.float32), 16000, 32000)
    with pytest.raises(ValueError, match="target_sr must be a positive integer"):
        resample(np.zeros(10, dtype=np.float32), 16000, 0)
    with pytest.raises(TypeError, match="audio must be a numpy array"):
        resample([0.0, 1.0], 16000, 32000)
    with pytest.raises(ValueError, match="must end in one of"):
        write_audio(tmp_path / "a.mp3", np.zeros(10, dtype=np.float32), 16000)
    with pytest.raises(ValueError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="for the audio file does not exist"):
        write_audio(tmp_path / "no" / "a.wav", np.zeros(10, dtype=np.float32), 16000)
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(ValueError, match="cannot be read"):
        read_audio(tmp_path / "junk.wav")


def test_encode_shapes_lengths_and_decode_round_trip(mono):
    clips = [_sine(220, 0.2, 32000), _sine(330, 0.5, 32000)[0], _sine(440, 0.2, 32000)]
    codes = encode_audio(mono, clips, 32000, batch_size=2)
    assert [tuple(c.shape) for c in codes] == [(4, 10), (4, 25), (4, 10)]
    assert all(c.dtype == torch.int64 and int(c.max()) < 64 for c in codes)
    audio = decode_codes(mono, codes)
    assert [a.shape for a in audio] == [(1, 10 * HOP), (1, 25 * HOP), (1, 10 * HOP)]
    assert all(a.dtype == np.float32 and np.isfinite(a).all() for a in audio)
    # A length that is not a whole number of hops rounds up to the next frame.
    assert encode_audio(mono, [np.zeros(HOP * 3 + 1, dtype=np.float32)], 32000)[0].shape == (4, 4)


def test_batched_encode_equals_one_by_one(mono):
    clips = [_sine(f, 0.2, 32000) for f in (110, 220, 440)]
    together = encode_audio(mono, np.stack(clips), 32000, batch_size=3)
    alone = [encode_audio(mono, [c], 32000)[0] for c in clips]
    assert all(torch.equal(a, b) for a, b in zip(together, alone))
    # The first K codes are those of the codec's own residual-VQ encoding.
    wave = torch.from_numpy(clips[0])[None]
    direct = mono.model.audio_encoder.encode(wave).audio_codes[0, 0, :4]
    assert torch.equal(together[0], direct)


def test_encode_resamples_input(mono):
    at_16k = encode_audio(mono, [_sine(440, 0.2, 16000)], 16000)[0]
    at_32k = encode_audio(mono, [resample(_sine(440, 0.2, 16000), 16000, 32000)], 32000)[0]
    assert at_16k.shape == (4, 10) and torch.equal(at_16k, at_32k)


def test_stereo_codebooks_interleave_left_and_right(mono, stereo):
    clip = _sine(440, 0.2, 32000, channels=2)
    codes = encode_audio(stereo, [clip], 32000)[0]
    assert codes.shape == (8, 10)
    # The stereo model shares the mono model's codec weights (same seed, same codec config).
    left, right = (encode_audio(mono, [clip[c]], 32000)[0] for c in (0, 1))
    assert torch.equal(codes[0::2], left) and torch.equal(codes[1::2], right)
    audio = decode_codes(stereo, [codes])[0]
    assert audio.shape == (2, 10 * HOP)
    np.testing.assert_allclose(audio[0], decode_codes(mono, [left])[0][0], atol=1e-6)
    # A mono clip is duplicated for a stereo model.
    dup = encode_audio(stereo, [clip[:1]], 32000)[0]
    assert torch.equal(dup[0::2], dup[1::2])


def test_bad_codes_and_audio_lists(mono):
    with pytest.raises(ValueError, match=r"codes\[0\] must be shaped \(4, frames>0\)"):
        decode_codes(mono, [torch.zeros(3, 5, dtype=torch.long)])
    with pytest.raises(ValueError, match=r"outside the codebook \[0, 64\)"):
        decode_codes(mono, [torch.full((4, 5), 64)])
    with pytest.raises(TypeError, match="integer codes"):
        decode_codes(mono, [torch.zeros(4, 5)])
    with pytest.raises(TypeError, match="non-empty list"):
        decode_codes(mono, [])
    with pytest.raises(TypeError, match="non-empty list of clips"):
        encode_audio(mono, np.zeros(100, dtype=np.float32), 32000)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        encode_audio(mono, [np.zeros(HOP, dtype=np.float32)], 32000, batch_size=0)
    with pytest.raises(ValueError, match=r"audio\[1\] must hold finite"):
        encode_audio(mono, [np.zeros(HOP, dtype=np.float32), np.full(HOP, np.inf, dtype=np.float32)], 32000)
    assert math.isclose(mono.frame_rate * HOP, mono.sample_rate)


def test_soundfile_reads_what_we_write(tmp_path):
    write_audio(tmp_path / "x.flac", _sine(440, 0.1, 32000), 32000)
    info = sf.info(str(tmp_path / "x.flac"))
    assert (info.samplerate, info.channels, info.format) == (32000, 1, "FLAC")
