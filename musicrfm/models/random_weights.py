"""Random-weight MusicGen models of the real classes, built offline from configs alone (nothing trained).

Tiny ones, for tests and offline experiments, follow the full-size models' structure (T5 text encoder,
EnCodec codec, MusicGen decoder with four codebooks and the delay pattern) at a size that builds and
generates in milliseconds on a CPU. Full-size ones (`random_musicgen`) write out the released checkpoints'
shapes (T5-base text encoder, 32 kHz EnCodec, the decoder widths below), so speed and memory measured on
them are those of the real models. The trained toy model is another thing: `musicrfm.models.toy`.

>>> model = tiny_musicgen(seed=0)
>>> model.decoder.config.num_codebooks
4
>>> musicgen_config("small").decoder.hidden_size
1024
"""

from __future__ import annotations

import math

import torch
from transformers import (
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    MusicgenMelodyConfig,
    MusicgenMelodyDecoderConfig,
    MusicgenMelodyForConditionalGeneration,
    T5Config,
)

TINY_TEXT_VOCAB = 100


def _tiny_parts(hidden_size: int, num_layers: int, codebook_size: int, frame_rate_32k: bool):
    """Text and codec configs plus the decoder settings shared by the plain and melody tiny models."""
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
        # The first bandwidth gives exactly the decoder's 4 codebooks (cheap to encode); the last one sets
        # the number of quantizer layers, kept as it was so seeded weights do not change.
        target_bandwidths=[4 * math.log2(codebook_size) * (50 if frame_rate_32k else 1000) / 1000, 40.0],
        num_lstm_layers=1,
    )
    decoder = dict(
        vocab_size=codebook_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        ffn_dim=2 * hidden_size,
        max_position_embeddings=2048,
        pad_token_id=codebook_size,
        bos_token_id=codebook_size,
        decoder_start_token_id=codebook_size,
    )
    return text, codec, decoder

def tiny_musicgen_config(
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    codebook_size: int = 64,
    frame_rate_32k: bool = True,
    audio_channels: int = 1,
) -> MusicgenConfig:
    """A MusicgenConfig with a 1-layer T5, a small EnCodec and a `num_layers`-layer decoder.

    With `frame_rate_32k` the codec runs at 32 kHz with a 640-sample hop (50 frames per second), like the
    released models; otherwise at 16 kHz with a 16-sample hop (fast, for unit tests that ignore audio).
    `audio_channels=2` gives a stereo model: 8 codebooks, left/right interleaved, like musicgen-stereo.
    """
    text, codec, decoder = _tiny_parts(hidden_size, num_layers, codebook_size, frame_rate_32k)
    decoder = MusicgenDecoderConfig(num_codebooks=4 * audio_channels, audio_channels=audio_channels, **decoder)
    return MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder)


def tiny_musicgen_melody_config(
    *, hidden_size: int = 32, num_layers: int = 2, codebook_size: int = 64, frame_rate_32k: bool = True
) -> MusicgenMelodyConfig:
    """The melody variant's config: chroma and text are prepended to the decoder input (8 chroma frames)."""
    text, codec, decoder = _tiny_parts(hidden_size, num_layers, codebook_size, frame_rate_32k)
    decoder = MusicgenMelodyDecoderConfig(num_codebooks=4, **decoder)
    return MusicgenMelodyConfig(text_encoder=text, audio_encoder=codec, decoder=decoder, chroma_length=8)


def seeded_model(model_class, config, seed: int):
    """`model_class(config)` with weights drawn from `seed`, in eval mode, generation ids set from the config.

    transformers initialises EnCodec's codebooks to zero, which encodes every clip to code 0; here they are
    drawn from the codec's own encoder frames (`_codebooks_from_tones`), so that different audio gets
    different codes, as with a trained codec.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    _codebooks_from_tones(model.audio_encoder, seed)
    model.generation_config.pad_token_id = config.decoder.pad_token_id
    model.generation_config.decoder_start_token_id = config.decoder.decoder_start_token_id
    model.generation_config.bos_token_id = config.decoder.bos_token_id
    return model.eval()


@torch.no_grad()
def _codebooks_from_tones(codec, seed: int, seconds: float = 0.2) -> None:
    """Fill each residual codebook with encoder frames of sine tones over four octaves (one k-means seeding
    step, as EnCodec's training starts), level by level on the residual left by the previous levels. Its own
    generator keeps the codebooks a function of the codec and `seed` alone: a stereo model gets its mono
    twin's codebooks."""
    generator = torch.Generator().manual_seed(seed)
    rate = codec.config.sampling_rate
    time = torch.arange(int(seconds * rate)) / rate
    pitches = 55.0 * 2.0 ** (torch.arange(48) / 12)
    tones = torch.sin(2 * math.pi * pitches[:, None] * time) * (0.1 + 0.9 * torch.rand(48, 1, generator=generator))
    frames = codec.encoder(tones[:, None, :].expand(-1, codec.config.audio_channels, -1))
    residual = frames.transpose(1, 2).reshape(-1, frames.shape[1])
    for level in codec.quantizer.layers:
        picks = torch.randint(len(residual), (level.codebook.codebook_size,), generator=generator)
        level.codebook.embed.copy_(residual[picks])
        residual = residual - level.codebook.decode(level.codebook.encode(residual))


def tiny_musicgen(*, seed: int = 0, **config_kwargs) -> MusicgenForConditionalGeneration:
    """A randomly initialised tiny MusicGen in eval mode, deterministic for a given seed."""
    return seeded_model(MusicgenForConditionalGeneration, tiny_musicgen_config(**config_kwargs), seed)


def tiny_musicgen_melody(*, seed: int = 0, **config_kwargs) -> MusicgenMelodyForConditionalGeneration:
    """A randomly initialised tiny MusicGen-melody in eval mode, deterministic for a given seed."""
    return seeded_model(MusicgenMelodyForConditionalGeneration, tiny_musicgen_melody_config(**config_kwargs), seed)


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
