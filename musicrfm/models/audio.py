"""Audio in and out: WAV/FLAC files, resampling, channel layout, and EnCodec codes through MusicGen's codec.

Clips are float32 arrays shaped (channels, samples); a 1-D array is one mono clip. Codes are int64 tensors
shaped (num_codebooks, frames); stereo MusicGen models interleave left/right codebooks (L0, R0, L1, ...),
as transformers does.

>>> import numpy as np
>>> from musicrfm.models.backend import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> mg = MusicGen.from_model(tiny_musicgen(seed=0))
>>> codes = encode_audio(mg, [np.zeros(8000, dtype=np.float32)], sample_rate=16000)
>>> tuple(codes[0].shape)  # 0.5 s at 50 frames per second
(4, 25)
>>> decode_codes(mg, codes)[0].shape
(1, 16000)
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from musicrfm.checks import check_positive_int
from musicrfm.files import atomic_file
from musicrfm.models.backend import MusicGen

FORMATS = {".wav": "WAV", ".flac": "FLAC"}




def as_clip(audio: object, field: str = "audio") -> np.ndarray:
    """Validate one clip and return it as float32 (channels, samples) with 1 or 2 channels."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().float().numpy()
    if not isinstance(audio, np.ndarray):
        raise TypeError(f"{field} must be a numpy array or torch tensor, got {type(audio).__name__}")
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise ValueError(f"{field} must be shaped (samples,) or (channels<=2, samples), got {audio.shape}")
    if audio.shape[1] == 0:
        raise ValueError(f"{field} is empty")
    if not np.issubdtype(audio.dtype, np.floating) or not np.isfinite(audio).all():
        raise ValueError(f"{field} must hold finite floating-point samples")
    return np.ascontiguousarray(audio, dtype=np.float32)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a (channels, samples) clip with soxr's high-quality filter; a no-op at equal rates."""
    clip = as_clip(audio)
    orig_sr, target_sr = check_positive_int(orig_sr, "orig_sr"), check_positive_int(target_sr, "target_sr")
    if orig_sr == target_sr:
        return clip
    return np.ascontiguousarray(soxr.resample(clip.T, orig_sr, target_sr, quality="HQ").T, dtype=np.float32)


def convert_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Down-mix to mono by averaging, or up-mix mono to stereo by duplication."""
    clip = as_clip(audio)
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, got {channels!r}")
    if clip.shape[0] == channels:
        return clip
    return clip.mean(axis=0, keepdims=True) if channels == 1 else np.repeat(clip, 2, axis=0)


def read_audio(
    path: str | os.PathLike, *, sample_rate: int | None = None, channels: int | None = None
) -> tuple[np.ndarray, int]:
    """Read a WAV/FLAC file as float32 (channels, samples), optionally resampled and re-channelled.

    Files with more than two channels are down-mixed to mono.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"audio file '{path}' does not exist")
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        raise ValueError(f"audio file '{path}' cannot be read: {exc}") from exc
    clip = data.T
    if clip.shape[0] > 2:
        clip = clip.mean(axis=0, keepdims=True)
    if sample_rate is not None:
        clip, file_sr = resample(clip, file_sr, sample_rate), sample_rate
    if channels is not None:
        clip = convert_channels(clip, channels)
    return as_clip(clip, field=str(path)), int(file_sr)


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, *, subtype: str = "PCM_16") -> None:
    """Write a clip to .wav or .flac atomically (a temporary file in the same folder, then a rename)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"path must end in one of {sorted(FORMATS)}, got '{path.name}'")
    if not path.parent.is_dir():
        raise ValueError(f"folder '{path.parent}' for the audio file does not exist")
    clip = as_clip(audio)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if not sf.check_format(fmt, subtype):
        raise ValueError(f"subtype {subtype!r} is not valid for {fmt}")
    if subtype.startswith("PCM"):
        # Integer formats wrap around outside [-1, 1]; clipping is the lesser distortion.
        clip = np.clip(clip, -1.0, 1.0)
    with atomic_file(path) as tmp:
        sf.write(tmp, clip.T, sample_rate, format=fmt, subtype=subtype)


def _batches_by_length(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped by equal length, at most `batch_size` per group, so nothing needs padding."""
    check_positive_int(batch_size, "batch_size")
    groups: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(lengths):
        groups[n].append(i)
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            yield members[start : start + batch_size]


def _as_clip_list(audio: object) -> list:
    if isinstance(audio, (np.ndarray, torch.Tensor)) and audio.ndim == 3:
        return list(audio)
    if isinstance(audio, (np.ndarray, torch.Tensor)) or not isinstance(audio, Sequence) or len(audio) == 0:
        raise TypeError("audio must be a non-empty list of clips or a (batch, channels, samples) array")
    return list(audio)


def _encode_mono(mg: MusicGen, wave: torch.Tensor) -> torch.Tensor:
    """(B, 1, N) audio -> (B, K per channel, T) codes of the codec's first quantizers.

    Residual VQ quantizes one level after another, so the first K levels of a higher-bandwidth encoding are
    exactly the codes of the K-level encoding the decoder was trained on.
    """
    needed = mg.num_codebooks // mg.audio_channels
    codec = mg.model.audio_encoder
    # The lowest bandwidth that still yields `needed` levels spares the quantizers nobody reads; a codec
    # without bandwidth settings (the toy codec) always yields all of its codebooks.
    bandwidths = getattr(codec.config, "target_bandwidths", None) or []
    enough = [b for b in bandwidths if codec.quantizer.get_num_quantizers_for_bandwidth(b) >= needed]
    codes = codec.encode(wave, bandwidth=min(enough, default=None)).audio_codes[0]
    if codes.shape[1] < needed:
        raise ValueError(f"the codec yields {codes.shape[1]} codebooks but the decoder needs {needed}")
    return codes[:, :needed]


@torch.inference_mode()
def encode_audio(mg: MusicGen, audio: object, sample_rate: int, *, batch_size: int = 8) -> list[torch.Tensor]:
    """Encode clips to EnCodec codes, one (num_codebooks, frames) int64 CPU tensor per clip.

    Clips are resampled to the model's rate and converted to its channel count; clips of equal length are
    encoded together (EnCodec's convolutions are not causal, so zero-padding would change the codes).
    """
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    clips = [convert_channels(resample(as_clip(c, f"audio[{i}]"), sample_rate, mg.sample_rate), mg.audio_channels)
             for i, c in enumerate(_as_clip_list(audio))]
    out: list[torch.Tensor | None] = [None] * len(clips)
    for batch in _batches_by_length([c.shape[1] for c in clips], batch_size):
        wave = torch.from_numpy(np.stack([clips[i] for i in batch])).to(mg.device, mg.dtype)
        # Stereo models encode each channel as a mono clip and interleave the codebooks.
        per_channel = [_encode_mono(mg, wave[:, ch : ch + 1]) for ch in range(wave.shape[1])]
        codes = torch.stack(per_channel, dim=2).flatten(1, 2)
        for row, i in enumerate(batch):
            out[i] = codes[row].cpu()
    return out


def check_codes(mg: MusicGen, codes: object, field: str = "codes") -> torch.Tensor:
    """Validate one clip's codes: int tensor/array (num_codebooks, frames) with ids in the codebook."""
    if isinstance(codes, np.ndarray):
        codes = torch.from_numpy(codes)
    if not isinstance(codes, torch.Tensor):
        raise TypeError(f"{field} must be a tensor or array, got {type(codes).__name__}")
    if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
        raise TypeError(f"{field} must hold integer codes, got {codes.dtype}")
    if codes.ndim != 2 or codes.shape[0] != mg.num_codebooks or codes.shape[1] == 0:
        raise ValueError(f"{field} must be shaped ({mg.num_codebooks}, frames>0), got {tuple(codes.shape)}")
    size = mg.fingerprint["codebook_size"]
    if codes.min() < 0 or codes.max() >= size:
        raise ValueError(f"{field} holds ids outside the codebook [0, {size})")
    return codes.long()


def as_code_list(mg: MusicGen, codes: object) -> list[torch.Tensor]:
    """Accept a (batch, K, T) tensor/array or a sequence of (K, T_i) clips; validate each clip."""
    if isinstance(codes, (np.ndarray, torch.Tensor)) and codes.ndim == 3:
        codes = list(codes)
    if isinstance(codes, (np.ndarray, torch.Tensor)) or not isinstance(codes, Sequence) or len(codes) == 0:
        raise TypeError("codes must be a non-empty list of (num_codebooks, frames) clips or a 3-D tensor")
    return [check_codes(mg, c, f"codes[{i}]") for i, c in enumerate(codes)]


@torch.inference_mode()
def decode_codes(mg: MusicGen, codes: object, *, batch_size: int = 8) -> list[np.ndarray]:
    """Decode codes to float32 (channels, samples) clips at `mg.sample_rate`."""
    clips = as_code_list(mg, codes)
    codec = mg.model.audio_encoder
    out: list[np.ndarray | None] = [None] * len(clips)
    for batch in _batches_by_length([c.shape[1] for c in clips], batch_size):
        stacked = torch.stack([clips[i] for i in batch]).to(mg.device)
        channels = [stacked[:, ch :: mg.audio_channels] for ch in range(mg.audio_channels)]
        waves = torch.cat([codec.decode(c[None], [None]).audio_values for c in channels], dim=1)
        for row, i in enumerate(batch):
            out[i] = waves[row].float().cpu().numpy()
    return out
