"""Tiny random-weight MusicGen models of the real classes, for tests and offline experiments.

The configs follow the full-size models' structure (T5 text encoder, EnCodec codec, MusicGen decoder with
four codebooks and the delay pattern) at a size that builds and generates in milliseconds on a CPU.

>>> model = tiny_musicgen(seed=0)
>>> model.decoder.config.num_codebooks
4
"""

from __future__ import annotations

import torch
from transformers import (
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    T5Config,
)

TINY_TEXT_VOCAB = 100


def tiny_musicgen_config(
    *, hidden_size: int = 32, num_layers: int = 2, codebook_size: int = 64, frame_rate_32k: bool = True
) -> MusicgenConfig:
    """A MusicgenConfig with a 1-layer T5, a small EnCodec and a `num_layers`-layer decoder.

    With `frame_rate_32k` the codec runs at 32 kHz with a 640-sample hop (50 frames per second), like the
    released models; otherwise at 16 kHz with a 16-sample hop (fast, for unit tests that ignore audio).
    """
    text = T5Config(
        vocab_size=TINY_TEXT_VOCAB, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4,
        decoder_start_token_id=0, pad_token_id=0,
    )
    codec = EncodecConfig(
        sampling_rate=32000 if frame_rate_32k else 16000,
        hidden_size=16,
        num_filters=4,
        num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 4] if frame_rate_32k else [4, 4],
        codebook_size=codebook_size,
        target_bandwidths=[40.0],
        num_lstm_layers=1,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=codebook_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        ffn_dim=2 * hidden_size,
        num_codebooks=4,
        max_position_embeddings=2048,
        pad_token_id=codebook_size,
        bos_token_id=codebook_size,
        decoder_start_token_id=codebook_size,
    )
    return MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder)


def tiny_musicgen(*, seed: int = 0, **config_kwargs) -> MusicgenForConditionalGeneration:
    """A randomly initialised tiny MusicGen in eval mode, deterministic for a given seed."""
    config = tiny_musicgen_config(**config_kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MusicgenForConditionalGeneration(config)
    model.generation_config.pad_token_id = config.decoder.pad_token_id
    model.generation_config.decoder_start_token_id = config.decoder.decoder_start_token_id
    model.generation_config.bos_token_id = config.decoder.bos_token_id
    return model.eval()
