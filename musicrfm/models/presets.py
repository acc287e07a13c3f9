"""Full-size MusicGen architectures built from configs alone, with random weights.

Nothing is downloaded: the configs write out the released checkpoints' shapes (T5-base text encoder,
32 kHz EnCodec, decoder widths below), so speed and memory measured on them are those of the real models.

>>> musicgen_config("small").decoder.hidden_size
1024
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

from musicrfm.models.tiny import seeded_model

# (hidden size, layers, attention heads) of the released decoders; the FFN is 4x the width.
DECODER_SIZES: dict[str, tuple[int, int, int]] = {
    "small": (1024, 24, 16),
    "medium": (1536, 48, 24),
    "large": (2048, 48, 32),
}
_CODEBOOK_SIZE = 2048


def musicgen_config(size: str = "small") -> MusicgenConfig:
    """The config of the released MusicGen `size` ("small", "medium" or "large")."""
    if size not in DECODER_SIZES:
        raise ValueError(f"size must be one of {sorted(DECODER_SIZES)}, got {size!r}")
    width, layers, heads = DECODER_SIZES[size]
    text = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
                    decoder_start_token_id=0, pad_token_id=0)
    codec = EncodecConfig(sampling_rate=32000, audio_channels=1, hidden_size=128, num_filters=64,
                          num_residual_layers=1, upsampling_ratios=[8, 5, 4, 4], codebook_size=_CODEBOOK_SIZE,
                          num_lstm_layers=2, target_bandwidths=[2.2], use_causal_conv=False, normalize=False)
    decoder = MusicgenDecoderConfig(vocab_size=_CODEBOOK_SIZE, hidden_size=width, num_hidden_layers=layers,
                                    num_attention_heads=heads, ffn_dim=4 * width, num_codebooks=4,
                                    max_position_embeddings=2048, pad_token_id=_CODEBOOK_SIZE,
                                    bos_token_id=_CODEBOOK_SIZE, decoder_start_token_id=_CODEBOOK_SIZE)
    return MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder)


def random_musicgen(
    size: str = "small", *, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> MusicgenForConditionalGeneration:
    """A randomly initialised MusicGen of the released `size`, in eval mode, deterministic for `seed`."""
    model = seeded_model(MusicgenForConditionalGeneration, musicgen_config(size), seed)
    return model.to(device, dtype).eval()
