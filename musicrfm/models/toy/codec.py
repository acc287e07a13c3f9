"""The toy codec as a transformers model, so it can sit in MusicGen's `audio_encoder` slot.

`ToyCodec` has no weights: `decode` is additive synthesis and `encode` a frame analysis (see
`musicrfm.models.toy.tokens` for what the tokens mean). It follows EnCodec's calling conventions - codes shaped
`(1, batch, codebooks, frames)`, outputs with `audio_codes` / `audio_values` - so MusicGen's own
`generate` returns toy-codec audio, and every part of musicrfm that encodes or decodes through
`model.audio_encoder` works unchanged. Importing this module registers the config and model with
transformers' Auto classes, which `from_pretrained` needs to rebuild a saved toy MusicGen.

>>> codec = ToyCodec(ToyCodecConfig())
>>> codec.sample_rate, codec.frame_rate
(16000, 25)
>>> codes = torch.tensor([[[0] * 5, [1] * 5, [9] * 5, [12] * 5]])  # C5 held for 0.2 s
>>> audio = codec.decode(codes[None]).audio_values
>>> audio.shape, bool((codec.encode(audio).audio_codes[0] == codes).all())
(torch.Size([1, 1, 3200]), True)
"""

from __future__ import annotations

import math

import torch
from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.models.encodec.modeling_encodec import EncodecDecoderOutput, EncodecEncoderOutput

from musicrfm.models.toy.analysis import analyse
from musicrfm.models.toy.synthesis import synthesize
from musicrfm.models.toy.tokens import CODEBOOK_SIZE, NUM_CODEBOOKS

MODEL_TYPE = "musicrfm_toy_codec"


@strict
class ToyCodecConfig(PreTrainedConfig):
    """Sample rate and hop of the toy codec; the token layout itself is fixed by `musicrfm.models.toy.tokens`."""

    model_type = MODEL_TYPE
    sampling_rate: int = 16000
    hop_length: int = 640
    audio_channels: int = 1
    num_codebooks: int = NUM_CODEBOOKS
    codebook_size: int = CODEBOOK_SIZE

    def __post_init__(self, **kwargs) -> None:
        super().__post_init__(**kwargs)
        # Checked here rather than in a strict validator, which would wrap the ValueError in its own type.
        if self.num_codebooks != NUM_CODEBOOKS or self.codebook_size != CODEBOOK_SIZE:
            raise ValueError(f"num_codebooks and codebook_size must be {NUM_CODEBOOKS} and {CODEBOOK_SIZE}")
        if self.audio_channels != 1:
            raise ValueError(f"audio_channels must be 1 (the toy codec is mono), got {self.audio_channels}")
        if self.sampling_rate < 16000:
            raise ValueError(f"sampling_rate must be at least 16000 (partials reach 7 kHz), got {self.sampling_rate}")
        if self.hop_length < 160:
            raise ValueError(f"hop_length must be at least 160 samples, got {self.hop_length}")

    @property
    def frame_rate(self) -> int:
        return math.ceil(self.sampling_rate / self.hop_length)


class ToyCodec(PreTrainedModel):
    """Weightless codec: `decode` synthesises tokens, `encode` analyses mono audio back into them."""

    config_class = ToyCodecConfig
    main_input_name = "input_values"
    base_model_prefix = "toy_codec"

    def __init__(self, config: ToyCodecConfig) -> None:
        super().__init__(config)
        self.post_init()

    @property
    def sample_rate(self) -> int:
        return self.config.sampling_rate

    @property
    def frame_rate(self) -> int:
        return self.config.frame_rate

    def encode(self, input_values: torch.Tensor, padding_mask: torch.Tensor | None = None,
               bandwidth: float | None = None, return_dict: bool | None = None) -> EncodecEncoderOutput:
        """Codes `(1, B, 4, ceil(samples / hop))` for audio `(B, 1, samples)`; mask and bandwidth are unused."""
        if not isinstance(input_values, torch.Tensor) or input_values.ndim != 3 or input_values.shape[1] != 1:
            raise ValueError("input_values must be a (batch, 1, samples) tensor of mono audio")
        codes = analyse(input_values, sample_rate=self.config.sampling_rate, hop_length=self.config.hop_length)
        return EncodecEncoderOutput(audio_codes=codes[None], audio_scales=[None] * input_values.shape[0])

    def decode(self, audio_codes: torch.Tensor, audio_scales: list | None = None,
               padding_mask: torch.Tensor | None = None, return_dict: bool | None = None,
               **unused) -> EncodecDecoderOutput:
        """Audio `(B, 1, frames * hop)` for codes `(1, B, 4, frames)`; scales and mask are unused."""
        if not isinstance(audio_codes, torch.Tensor) or audio_codes.ndim != 4 or audio_codes.shape[0] != 1 \
                or audio_codes.shape[2] != NUM_CODEBOOKS:
            raise ValueError(f"audio_codes must be a (1, batch, {NUM_CODEBOOKS}, frames) tensor")
        if audio_codes.is_floating_point() or audio_codes.min() < 0 or audio_codes.max() >= CODEBOOK_SIZE:
            raise ValueError(f"audio_codes must hold integer ids in [0, {CODEBOOK_SIZE})")
        audio = synthesize(audio_codes[0], sample_rate=self.config.sampling_rate, hop_length=self.config.hop_length)
        return EncodecDecoderOutput(audio_values=audio)

    def forward(self, input_values: torch.Tensor, padding_mask: torch.Tensor | None = None,
                **unused) -> EncodecEncoderOutput:
        """Encode, as MusicGen's forward does when given audio instead of decoder ids."""
        return self.encode(input_values, padding_mask)

    def _init_weights(self, module: torch.nn.Module) -> None:
        """Nothing to initialise: the codec has no parameters."""


AutoConfig.register(MODEL_TYPE, ToyCodecConfig, exist_ok=True)
AutoModel.register(ToyCodecConfig, ToyCodec, exist_ok=True)
