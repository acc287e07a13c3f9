"""The toy MusicGen: transformers' own MusicGen classes at a tiny size, with the toy codec as audio encoder.

A one-layer T5 encodes the prompt (words hashed into a 100-id vocabulary by `HashingTokenizer`, the
tokenizer musicrfm's loader picks for toy vocabularies, so training and every later use agree); the
decoder predicts the four toy-codec codebooks with MusicGen's delay pattern.

>>> model = build_toy_model(ToyArchitecture(hidden_size=32, num_layers=2), seed=0)
>>> type(model.audio_encoder).__name__, model.config.audio_encoder.frame_rate
('ToyCodec', 25)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration, T5Config

from musicrfm.checks import check_int
from musicrfm.models.text import HashingTokenizer
from musicrfm.models.toy.codec import ToyCodecConfig
from musicrfm.models.toy.corpus import VOCABULARY
from musicrfm.models.toy.tokens import CODEBOOK_SIZE, NUM_CODEBOOKS

TEXT_VOCAB_SIZE = 100
"""The smallest size tried in which the style words hash to distinct ids (checked in `toy_tokenizer`)."""
PAD_ID = CODEBOOK_SIZE




@dataclass(frozen=True)
class ToyArchitecture:
    """Sizes of the toy decoder (the feed-forward width is 4x hidden) and of its text encoder."""

    hidden_size: int = 64
    num_layers: int = 4
    num_heads: int = 4
    text_size: int = 32

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers", "num_heads", "text_size"):
            check_int(getattr(self, name), name, low=1)
        for name in ("hidden_size", "text_size"):
            if getattr(self, name) % self.num_heads:
                raise ValueError(f"{name} ({getattr(self, name)}) must be divisible by num_heads ({self.num_heads})")


def toy_tokenizer() -> HashingTokenizer:
    """The hashing tokenizer the toy model is trained with; fails loudly if two style words collide."""
    tokenizer = HashingTokenizer(vocab_size=TEXT_VOCAB_SIZE)
    ids = [tokenizer.word_id(word) for word in VOCABULARY]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"style words collide in a {TEXT_VOCAB_SIZE}-id hashed vocabulary: {dict(zip(VOCABULARY, ids))}")
    return tokenizer


def toy_musicgen_config(arch: ToyArchitecture) -> MusicgenConfig:
    """MusicgenConfig of the toy model: tiny T5, toy codec (16 kHz, 25 Hz), small 4-codebook decoder.

    Dropout is off: training sees fresh synthetic clips at every step, so it cannot overfit.
    """
    text = T5Config(
        vocab_size=TEXT_VOCAB_SIZE, d_model=arch.text_size, d_kv=arch.text_size // arch.num_heads,
        d_ff=2 * arch.text_size, num_layers=1, num_heads=arch.num_heads, decoder_start_token_id=0, pad_token_id=0,
        dropout_rate=0.0,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=CODEBOOK_SIZE, hidden_size=arch.hidden_size, num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads, ffn_dim=4 * arch.hidden_size, num_codebooks=NUM_CODEBOOKS,
        max_position_embeddings=2048, dropout=0.0, pad_token_id=PAD_ID, bos_token_id=PAD_ID, decoder_start_token_id=PAD_ID,
    )
    return MusicgenConfig(text_encoder=text, audio_encoder=ToyCodecConfig(), decoder=decoder)


def build_toy_model(arch: ToyArchitecture, *, seed: int) -> MusicgenForConditionalGeneration:
    """A freshly initialised toy MusicGen (deterministic for a seed), with sampling defaults for generation."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MusicgenForConditionalGeneration(toy_musicgen_config(arch))
    generation = model.generation_config
    generation.pad_token_id = generation.decoder_start_token_id = generation.bos_token_id = PAD_ID
    generation.do_sample, generation.guidance_scale = True, 3.0
    return model
