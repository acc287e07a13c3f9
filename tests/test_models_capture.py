"""Hidden-state capture checked against transformers' own forward, delay pattern and hidden states."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

from musicrfm.models.backend import MusicGen
from musicrfm.models.capture import capture_hidden_states, delay_codes, resolve_layers
from musicrfm.models.store import load_array
from musicrfm.models.random_weights import tiny_musicgen, tiny_musicgen_melody

PAD = 64


@pytest.fixture(scope="module")
def mg():
    return MusicGen.from_model(tiny_musicgen(seed=0, num_layers=3, frame_rate_32k=False))


@pytest.fixture(scope="module")
def clips():
    gen = torch.Generator().manual_seed(0)
    return [torch.randint(0, 64, (4, n), generator=gen) for n in (20, 7, 13)]


def _manual_states(mg: MusicGen, clip: torch.Tensor, *, delay: bool = True, text: str | None = None):
    """All decoder hidden states of one clip from transformers' output_hidden_states, plus the pooled span."""
    inputs = delay_codes(clip[None], PAD) if delay else clip[None]
    flat = inputs.reshape(4, -1)
    with torch.no_grad():
        if text is None:
            out = mg.model.decoder(input_ids=flat, output_hidden_states=True, use_cache=False)
            states = out.hidden_states
        else:
            tok = mg.tokenize([text])
            out = mg.model(**tok, decoder_input_ids=flat, output_hidden_states=True, use_cache=False)
            states = out.hidden_states if mg.is_melody else out.decoder_hidden_states
    span = slice(1, None) if delay else slice(0, None)
    return [h[0, -flat.shape[1]:][span] for h in states], out


def test_delay_pattern_matches_transformers():
    for channels in (1, 2):
        config = MusicgenDecoderConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       ffn_dim=16, num_codebooks=4 * channels, audio_channels=channels,
                                       pad_token_id=PAD, bos_token_id=PAD)
        decoder = MusicgenForCausalLM(config)
        codes = torch.randint(0, 64, (2, 4 * channels, 9))
        with_bos = torch.cat([torch.full((2, 4 * channels, 1), PAD), codes], dim=2)
        _, pattern = decoder.build_delay_pattern_mask(with_bos.reshape(-1, 10), PAD, max_length=9 + 4)
        expected = pattern.reshape(2, 4 * channels, 13)
        assert torch.equal(delay_codes(codes, PAD, channels), expected)


def test_pooled_states_equal_transformers_hidden_states(mg, clips):
    layers = (0, 1)  # hidden_states[-1] is after the final LayerNorm; layer 2 is checked separately
    for pooling in ("mean", "max", "last", "mean_std"):
        got = capture_hidden_states(mg, clips, pooling=pooling, layers=layers, batch_size=2)
        for row, clip in enumerate(clips):
            states, _ = _manual_states(mg, clip)
            for col, layer in enumerate(layers):
                h = states[layer + 1]
                want = {"mean": h.mean(0), "max": h.amax(0), "last": h[-1],
                        "mean_std": torch.cat([h.mean(0), h.std(0, unbiased=False)])}[pooling]
                np.testing.assert_allclose(got[row, col], want.numpy(), rtol=1e-4, atol=1e-5)


def test_last_layer_is_read_before_the_final_layer_norm(mg, clips):
    got = capture_hidden_states(mg, clips[:1], layers=[-1], pooling="last")[0, 0]
    states, _ = _manual_states(mg, clips[0])
    final_norm = mg.model.decoder.model.decoder.layer_norm
    with torch.no_grad():
        normed = final_norm(torch.from_numpy(got)).numpy()
    np.testing.assert_allclose(normed, states[-1][-1].numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, states[-1][-1].numpy(), atol=1e-3)


def test_ragged_batches_equal_clips_alone(mg, clips):
    together = capture_hidden_states(mg, clips, batch_size=3, pooling="mean_std")
    alone = np.concatenate([capture_hidden_states(mg, [c], pooling="mean_std") for c in clips])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)
    assert together.shape == (3, 3, 64)


def test_research_input_has_no_delay_no_bos(mg, clips):
    got = capture_hidden_states(mg, clips, delay_pattern=False, layers=[0], batch_size=3)
    for row, clip in enumerate(clips):
        states, _ = _manual_states(mg, clip, delay=False)
        np.testing.assert_allclose(got[row, 0], states[1].mean(0).numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, capture_hidden_states(mg, clips, layers=[0]), atol=1e-3)


def test_text_conditioning_matches_the_conditional_forward(mg, clips):
    texts = ["warm piano", "fast drums", "warm piano"]
    got = capture_hidden_states(mg, clips, texts=texts, layers=[1], batch_size=2)
    for row, clip in enumerate(clips):
        states, _ = _manual_states(mg, clip, text=texts[row])
        np.testing.assert_allclose(got[row, 0], states[2].mean(0).numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, capture_hidden_states(mg, clips, layers=[1]), atol=1e-4)


def test_layer_selection_order_and_negative_indices(mg, clips):
    full = capture_hidden_states(mg, clips)
    picked = capture_hidden_states(mg, clips, layers=[-1, 0])
    np.testing.assert_array_equal(picked, full[:, [2, 0]])
    assert resolve_layers(None, 3) == (0, 1, 2)


def test_stream_to_disk_equals_in_memory(mg, clips, tmp_path):
    path = tmp_path / "states.safetensors"
    memory = capture_hidden_states(mg, clips, batch_size=2)
    streamed = capture_hidden_states(mg, clips, batch_size=2, out=path)
    np.testing.assert_array_equal(streamed, memory)
    assert isinstance(streamed, np.memmap) and not streamed.flags.writeable
    np.testing.assert_array_equal(load_file(str(path))["hidden_states"], memory)
    array, meta = load_array(path, mmap=False)
    np.testing.assert_array_equal(array, memory)
    assert meta == {"layers": [0, 1, 2], "pooling": "mean", "delay_pattern": True, "text_conditioned": False,
                    "model": "in-memory", "fingerprint": mg.fingerprint}
    assert [p.name for p in tmp_path.iterdir()] == ["states.safetensors"]


def test_float16_storage(mg, clips, tmp_path):
    half = capture_hidden_states(mg, clips, storage_dtype="float16", out=tmp_path / "h.safetensors")
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, capture_hidden_states(mg, clips), rtol=2e-3, atol=2e-3)


class _LazyClips(Sequence):
    """Clips produced on access, failing at a chosen index to simulate a broken dataset mid-stream."""

    def __init__(self, clips, fail_after: int | None = None):
        self.clips, self.fail_after, self.reads = clips, fail_after, 0

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise OSError("disk vanished")
        return self.clips[i].numpy()


def test_lazy_sequences_and_no_partial_file_on_error(mg, clips, tmp_path):
    lazy = _LazyClips(clips)
    np.testing.assert_allclose(capture_hidden_states(mg, lazy, batch_size=1), capture_hidden_states(mg, clips),
                               rtol=1e-4, atol=1e-5)
    path = tmp_path / "broken.safetensors"
    with pytest.raises(OSError, match="disk vanished"):
        capture_hidden_states(mg, _LazyClips(clips, fail_after=len(clips) + 1), batch_size=1, out=path)
    assert list(tmp_path.iterdir()) == []


def test_hooks_are_removed_even_on_error(mg, clips):
    # transformers 5.x keeps its own output-recording hooks on the layers; ours must not stay beside them.
    before = [list(layer._forward_hooks) for layer in mg.layers]
    with pytest.raises(OSError):
        capture_hidden_states(mg, _LazyClips(clips, fail_after=len(clips)), batch_size=1)
    assert [list(layer._forward_hooks) for layer in mg.layers] == before


def test_melody_capture_matches_its_forward():
    melody = MusicGen.from_model(tiny_musicgen_melody(seed=0, frame_rate_32k=False))
    clip = torch.randint(0, 64, (4, 11))
    plain = capture_hidden_states(melody, [clip], layers=[0])
    conditioned = capture_hidden_states(melody, [clip], layers=[0], texts=["slow strings"])
    for got, text in ((plain, None), (conditioned, "slow strings")):
        states, out = _manual_states(melody, clip, text=text)
        np.testing.assert_allclose(got[0, 0], states[1].mean(0).numpy(), rtol=1e-4, atol=1e-5)
    # The conditioning prefix (chroma + text) is in the sequence but not in the pooled span.
    assert out.hidden_states[1].shape[1] > clip.shape[1] + 4
    assert not np.allclose(plain, conditioned, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"pooling": "median"}, ValueError, "pooling must be one of"),
        ({"layers": [3]}, ValueError, "layer 3 is out of range for a 3-layer decoder"),
        ({"layers": [0, -3]}, ValueError, "layers contains duplicates"),
        ({"layers": [0.5]}, TypeError, "layers must hold integers"),
        ({"layers": []}, ValueError, "layers must be a non-empty list"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"storage_dtype": "float64"}, ValueError, "storage_dtype must be one of"),
        ({"texts": ["a", "b"]}, ValueError, "texts has 2 entries for 3 clips"),
        ({"texts": "a b c"}, TypeError, "texts must be a list of strings"),
        ({"out": "states.npy"}, ValueError, "out must end in .safetensors"),
        ({"out": "/no/such/folder/x.safetensors"}, ValueError, "folder '/no/such/folder' for out does not exist"),
    ],
)
def test_bad_options_are_refused(mg, clips, kwargs, error, message):
    with pytest.raises(error, match=message):
        capture_hidden_states(mg, clips, **kwargs)


def test_bad_codes_are_refused(mg, clips):
    with pytest.raises(ValueError, match=r"codes\[1\] must be shaped \(4, frames>0\)"):
        capture_hidden_states(mg, [clips[0], clips[1][:3]])
    with pytest.raises(ValueError, match=r"codes\[0\] holds ids outside the codebook"):
        capture_hidden_states(mg, [torch.full((4, 5), PAD)])
    with pytest.raises(ValueError, match="codes must not be empty"):
        capture_hidden_states(mg, [])
    with pytest.raises(ValueError, match=r"codes must be \(batch, codebooks, frames\)"):
        capture_hidden_states(mg, clips[0])
    with pytest.raises(TypeError, match="codes must be a sequence of clips"):
        capture_hidden_states(mg, "codes")


def test_training_mode_is_refused(clips):
    model = tiny_musicgen(seed=0, frame_rate_32k=False).train()
    with pytest.raises(ValueError, match="training mode"):
        capture_hidden_states(MusicGen.from_model(model), clips)


def test_stereo_capture_uses_the_paired_delay():
    stereo = MusicGen.from_model(tiny_musicgen(seed=0, audio_channels=2, frame_rate_32k=False))
    clip = torch.randint(0, 64, (8, 9))
    got = capture_hidden_states(stereo, [clip], layers=[0])
    inputs = delay_codes(clip[None], PAD, audio_channels=2)
    assert inputs.shape == (1, 8, 13)
    with torch.no_grad():
        out = stereo.model.decoder(input_ids=inputs.reshape(8, -1), output_hidden_states=True, use_cache=False)
    np.testing.assert_allclose(got[0, 0], out.hidden_states[1][0, 1:].mean(0).numpy(), rtol=1e-4, atol=1e-5)
