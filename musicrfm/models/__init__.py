"""MusicGen backend: loading, audio and codec I/O, and residual-stream capture.

>>> from musicrfm.models import MusicGen, capture_hidden_states
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> import torch
>>> mg = MusicGen.from_model(tiny_musicgen(seed=0))
>>> capture_hidden_states(mg, [torch.randint(0, 64, (4, 10))], layers=[-1]).shape
(1, 1, 32)
"""

from musicrfm.models.audio import (
    convert_channels,
    decode_codes,
    encode_audio,
    read_audio,
    resample,
    write_audio,
)
from musicrfm.models.backend import MusicGen, load_musicgen, resolve_device, resolve_dtype
from musicrfm.models.capture import POOLINGS, capture_hidden_states, delay_codes, resolve_layers
from musicrfm.models.store import load_array
from musicrfm.models.text import HashingTokenizer

__all__ = [
    "POOLINGS",
    "HashingTokenizer",
    "MusicGen",
    "capture_hidden_states",
    "convert_channels",
    "decode_codes",
    "delay_codes",
    "encode_audio",
    "load_array",
    "load_musicgen",
    "read_audio",
    "resample",
    "resolve_device",
    "resolve_dtype",
    "resolve_layers",
    "write_audio",
]
