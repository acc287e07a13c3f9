"""Load MusicGen (plain or melody) with its tokenizer, device and dtype, behind one small value object.

>>> from musicrfm.models.random_weights import tiny_musicgen
>>> mg = MusicGen.from_model(tiny_musicgen(seed=0))
>>> mg.num_layers, mg.hidden_size, mg.frame_rate, mg.sample_rate
(2, 32, 50, 32000)
>>> mg.fingerprint["model_type"]
'musicgen'
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoTokenizer,
    MusicgenForConditionalGeneration,
    MusicgenMelodyForConditionalGeneration,
)

from musicrfm.models.hub import cache_only
from musicrfm.models.text import (
    HashingTokenizer,
    PretrainedTokenizer,
    tokenizer_is_empty,
)

# Importing the toy package also registers its codec with transformers, so saved toy folders load.
from musicrfm.models.toy import toy_folder

MODEL_CLASSES = {
    "musicgen": MusicgenForConditionalGeneration,
    "musicgen_melody": MusicgenMelodyForConditionalGeneration,
}
TOY_MODEL = "toy"
# Real T5 vocabularies have ~32k entries; only toy models may fall back to hashed words.
TOY_VOCAB_LIMIT = 1000
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_TOKENIZER_MODES = ("auto", "pretrained", "hashing")

TextEncoder = Callable[[Sequence[str]], dict[str, torch.Tensor]]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`"auto"` picks CUDA, then MPS, then CPU; explicit devices must be available on this machine."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string or torch.device, got {type(device).__name__}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device {device!r} is not a valid torch device") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} requested but MPS is not available")
    return resolved


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """`"auto"` is float16 on CUDA and float32 elsewhere; names and torch dtypes pass through."""
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(f"dtype must be 'auto' or one of {sorted(_DTYPES)}, got {dtype!r}")


@dataclass(frozen=True, eq=False)
class MusicGen:
    """A loaded MusicGen model with its text encoder, device and dtype, plus architecture facts.

    `layers` are the decoder blocks whose outputs form the residual stream: hidden-state capture reads
    them and steering writes to them.
    """

    model: MusicgenForConditionalGeneration | MusicgenMelodyForConditionalGeneration = field(repr=False)
    tokenizer: TextEncoder = field(repr=False)
    device: torch.device
    dtype: torch.dtype
    name: str = "in-memory"
    fingerprint: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, tuple(MODEL_CLASSES.values())):
            raise TypeError(f"model must be a MusicGen model, got {type(self.model).__name__}")
        if not callable(self.tokenizer):
            raise TypeError(f"tokenizer must be callable, got {type(self.tokenizer).__name__}")
        object.__setattr__(self, "fingerprint", _fingerprint(self.model))

    @classmethod
    def from_model(cls, model, *, tokenizer: TextEncoder | None = None, name: str = "in-memory") -> MusicGen:
        """Wrap an in-memory model where it already lives; without a tokenizer, hash words (toy models)."""
        param = next(model.parameters())
        if tokenizer is None:
            tokenizer = HashingTokenizer(vocab_size=model.config.text_encoder.vocab_size)
        return cls(model=model, tokenizer=tokenizer, device=param.device, dtype=param.dtype, name=name)

    @property
    def is_melody(self) -> bool:
        return isinstance(self.model, MusicgenMelodyForConditionalGeneration)

    @property
    def layers(self) -> torch.nn.ModuleList:
        return self.model.decoder.model.decoder.layers

    num_layers = property(lambda self: self.fingerprint["num_layers"], doc="Decoder blocks.")
    hidden_size = property(lambda self: self.fingerprint["hidden_size"], doc="Residual-stream width d.")
    num_codebooks = property(lambda self: self.fingerprint["num_codebooks"], doc="Codebooks K (both channels).")
    audio_channels = property(lambda self: self.fingerprint["audio_channels"], doc="1 mono, 2 stereo.")
    sample_rate = property(lambda self: self.fingerprint["sample_rate"], doc="Codec sample rate in Hz.")
    frame_rate = property(lambda self: self.fingerprint["frame_rate"], doc="Codec frames per second.")

    @property
    def pad_token_id(self) -> int:
        return self.model.config.decoder.pad_token_id

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids and attention mask for `texts`, on the model's device."""
        return {k: v.to(self.device) for k, v in self.tokenizer(texts).items()}

    def check_fingerprint(self, expected: Mapping[str, Any], *, what: str = "probe") -> None:
        """Raise if `expected` (e.g. stored with a probe) disagrees with this model's architecture."""
        diffs = [f"{k} {expected[k]!r} != {v!r}" for k, v in self.fingerprint.items()
                 if k in expected and expected[k] != v]
        if diffs:
            raise ValueError(f"{what} was made for another model: {'; '.join(diffs)}")


def _fingerprint(model) -> dict[str, Any]:
    dec, codec = model.config.decoder, model.config.audio_encoder
    return {
        "model_type": model.config.model_type,
        "num_layers": dec.num_hidden_layers,
        "hidden_size": dec.hidden_size,
        "num_codebooks": dec.num_codebooks,
        "codebook_size": dec.vocab_size,
        "audio_channels": dec.audio_channels,
        "sample_rate": codec.sampling_rate,
        "frame_rate": codec.frame_rate,
    }


def load_musicgen(
    name_or_path: str | os.PathLike,
    *,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "auto",
    tokenizer: str = "auto",
    local_files_only: bool = False,
    progress: bool = True,
) -> MusicGen:
    """Load a MusicGen model by hub id or local folder, in eval mode, on `device` in `dtype`.

    `"toy"` names the embedded toy model (`musicrfm.models.toy`), trained into the cache on first use (with a
    progress bar unless `progress` is False) and then loaded from its folder like any other.

    `tokenizer`: "pretrained" needs the folder's T5 tokenizer, "hashing" uses `HashingTokenizer`, and
    "auto" takes the pretrained one when it has a vocabulary, else hashing for toy models only.

    >>> import tempfile
    >>> from musicrfm.models.random_weights import tiny_musicgen
    >>> folder = tempfile.mkdtemp()
    >>> tiny_musicgen(seed=0).save_pretrained(folder)
    >>> load_musicgen(folder, device="cpu").num_layers
    2
    """
    if tokenizer not in _TOKENIZER_MODES:
        raise ValueError(f"tokenizer must be one of {_TOKENIZER_MODES}, got {tokenizer!r}")
    name = None
    if isinstance(name_or_path, str) and name_or_path == TOY_MODEL:
        name, name_or_path = TOY_MODEL, toy_folder(progress=progress)
        # So small a model decodes faster on the CPU than it can launch GPU kernels.
        device = "cpu" if device == "auto" else device
    source = _resolve_source(name_or_path)
    if not Path(source).is_dir():
        local_files_only = cache_only(source, local_files_only=local_files_only)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    config = _load_config(source, local_files_only)
    # The tokenizer comes first so that a missing one fails before a multi-gigabyte weight load.
    text = _load_tokenizer(source, config.text_encoder.vocab_size, tokenizer, local_files_only)
    try:
        model = MODEL_CLASSES[config.model_type].from_pretrained(
            source, dtype=torch_dtype, local_files_only=local_files_only
        )
    except OSError as exc:
        raise _unavailable(source, exc) from exc
    model = model.to(torch_device).eval()
    return MusicGen(model=model, tokenizer=text, device=torch_device, dtype=torch_dtype, name=name or source)


def _resolve_source(name_or_path: str | os.PathLike) -> str:
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a string or path, got {type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists():
        raise ValueError(f"model path '{text}' is a file; pass the model's folder")
    looks_local = isinstance(name_or_path, os.PathLike) or text.startswith((".", "/", "~")) or "\\" in text
    if looks_local or not _HUB_ID.match(text):
        raise ValueError(f"model folder '{text}' does not exist")
    return text


def _unavailable(source: str, exc: OSError) -> Exception:
    if Path(source).is_dir():
        return ValueError(f"model folder '{source}' is incomplete: {str(exc).splitlines()[0]}")
    return OSError(f"model '{source}' is not available offline; pass a local folder")


def _load_config(source: str, local_files_only: bool):
    if Path(source).is_dir() and not (Path(source) / "config.json").is_file():
        raise ValueError(f"model folder '{source}' has no config.json")
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local_files_only)
    except OSError as exc:
        raise _unavailable(source, exc) from exc
    if config.model_type not in MODEL_CLASSES:
        raise ValueError(f"'{source}' holds a '{config.model_type}' model, not MusicGen")
    return config


def _load_tokenizer(source: str, vocab: int, mode: str, local_files_only: bool) -> TextEncoder:
    if mode == "hashing":
        return HashingTokenizer(vocab_size=vocab)
    try:
        pretrained = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
    except (OSError, ValueError):
        pretrained = None
    if pretrained is not None and not tokenizer_is_empty(pretrained):
        return PretrainedTokenizer(pretrained)
    if mode == "auto" and vocab <= TOY_VOCAB_LIMIT:
        return HashingTokenizer(vocab_size=vocab)
    raise ValueError(f"'{source}' has no usable T5 tokenizer; copy the tokenizer files into the folder")
