"""Teacher-forced hidden-state capture: per-clip pooled residual-stream states of chosen decoder layers.

One no-cache decoder forward per batch reads every selected layer through forward hooks on the decoder
blocks (`MusicGen.layers`), i.e. exactly the block outputs that steering later modifies, never the final
LayerNorm's output. Each hook pools its layer at once, so memory holds one batch's activations, and the
forward stops after the deepest selected layer (no LM heads).

Inputs per clip are codes (num_codebooks, frames). By default they are laid out as MusicGen decodes them:
a BOS column, then codebook k delayed by k frames (k // 2 for stereo), padded with the pad id. Pooling then
covers positions 1 .. frames + delays, every position whose input holds at least one real code.
`delay_pattern=False` feeds the raw codes (no BOS, no delay), as the MusicRFM research code did.
Clips of different lengths are right-padded; the decoder is causal, so padding never reaches a clip's own
positions, and pooling ignores it.

>>> import torch
>>> from musicrfm.models.backend import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> mg = MusicGen.from_model(tiny_musicgen(seed=0))
>>> codes = [torch.randint(0, 64, (4, 30)), torch.randint(0, 64, (4, 12))]
>>> capture_hidden_states(mg, codes, pooling="mean_std").shape
(2, 2, 64)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from musicrfm.checks import check_positive_int, is_int
from musicrfm.models.audio import check_codes
from musicrfm.models.backend import MusicGen
from musicrfm.models.store import ArrayWriter, load_array
from musicrfm.models.text import check_texts

POOLINGS = ("mean", "last", "max", "mean_std")
STORAGE_DTYPES = ("float32", "float16")


class _StopForward(Exception):
    """Raised by the deepest selected layer's hook: nothing after it is needed."""


def resolve_layers(layers: Sequence[int] | None, num_layers: int) -> tuple[int, ...]:
    """Normalise layer indices (negative ones count from the end) and check range and uniqueness."""
    if layers is None:
        return tuple(range(num_layers))
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError("layers must be a non-empty list of layer indices or None")
    out = []
    for layer in layers:
        if not is_int(layer):
            raise TypeError(f"layers must hold integers, got {layer!r}")
        if not -num_layers <= layer < num_layers:
            raise ValueError(f"layer {layer} is out of range for a {num_layers}-layer decoder")
        out.append(int(layer) % num_layers)
    if len(set(out)) != len(out):
        raise ValueError(f"layers contains duplicates: {list(layers)}")
    return tuple(out)


def delay_codes(codes: torch.Tensor, pad_id: int, audio_channels: int = 1) -> torch.Tensor:
    """MusicGen's decoder input for codes (B, K, T): BOS column, codebook k delayed, pad elsewhere.

    Returns (B, K, T + K // audio_channels), equal to transformers' `build_delay_pattern_mask` pattern
    for the codes behind a BOS column.
    """
    batch, num_codebooks, frames = codes.shape
    groups = num_codebooks // audio_channels
    out = codes.new_full((batch, num_codebooks, frames + groups), pad_id)
    for k in range(num_codebooks):
        start = k // audio_channels + 1
        out[:, k, start : start + frames] = codes[:, k]
    return out


def _pool(states: torch.Tensor, mask: torch.Tensor, last: torch.Tensor, how: str) -> torch.Tensor:
    """Pool (B, S, d) over the True positions of mask (B, S); `last` holds each row's last valid index."""
    if how == "last":
        return states[torch.arange(states.shape[0], device=states.device), last]
    if how == "max":
        return states.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
    weights = mask[..., None].to(states.dtype)
    count = weights.sum(dim=1)
    mean = (states * weights).sum(dim=1) / count
    if how == "mean":
        return mean
    var = (((states - mean[:, None]) ** 2) * weights).sum(dim=1) / count
    return torch.cat([mean, var.sqrt()], dim=-1)


def _batch_inputs(mg: MusicGen, clips: list[torch.Tensor], delay_pattern: bool):
    """Padded decoder input (B, K, S), pooling mask (B, S) and last valid index per clip."""
    lengths = torch.tensor([c.shape[1] for c in clips])
    width = int(lengths.max())
    stacked = torch.stack([torch.nn.functional.pad(c, (0, width - c.shape[1]), value=mg.pad_token_id)
                           for c in clips])
    if delay_pattern:
        # Padding with the pad id before delaying gives each clip the layout it would have alone.
        stacked = delay_codes(stacked, mg.pad_token_id, mg.audio_channels)
        first, lengths = 1, lengths + (stacked.shape[2] - width)
    else:
        first = 0
    positions = torch.arange(stacked.shape[2])
    mask = (positions[None] >= first) & (positions[None] < lengths[:, None])
    return stacked.to(mg.device), mask.to(mg.device), (lengths - 1).to(mg.device)


class _Recorder:
    """Forward hooks that pool selected layers into `self.pooled` and stop after the deepest one."""

    def __init__(self, mg: MusicGen, layers: tuple[int, ...], pooling: str):
        self.pooling, self.deepest, self.pooled = pooling, max(layers), {}
        self.mask = self.last = None
        self.handles = [mg.layers[i].register_forward_hook(self._hook(i)) for i in layers]

    def _hook(self, index: int):
        def hook(module, args, output):
            states = output[0] if isinstance(output, tuple) else output
            # Melody prepends its conditioning to the sequence; the codes are the trailing positions.
            states = states[:, -self.mask.shape[1] :].float()
            self.pooled[index] = _pool(states, self.mask, self.last, self.pooling)
            if index == self.deepest:
                raise _StopForward

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _forward(mg: MusicGen, inputs: torch.Tensor, texts: list[str] | None) -> None:
    flat = inputs.reshape(-1, inputs.shape[-1])
    try:
        if texts is None:
            mg.model.decoder(input_ids=flat, use_cache=False)
        else:
            tokens = mg.tokenize(texts)
            mg.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                     decoder_input_ids=flat, use_cache=False)
    except _StopForward:
        return
    raise RuntimeError("the decoder finished without reaching the deepest selected layer")


def _check_options(pooling: str, storage_dtype: str, batch_size: int) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if storage_dtype not in STORAGE_DTYPES:
        raise ValueError(f"storage_dtype must be one of {STORAGE_DTYPES}, got {storage_dtype!r}")
    check_positive_int(batch_size, "batch_size")


def _check_texts(texts: Sequence[str] | None, n_clips: int) -> list[str] | None:
    if texts is None:
        return None
    texts = check_texts(texts)
    if len(texts) != n_clips:
        raise ValueError(f"texts has {len(texts)} entries for {n_clips} clips")
    return texts


@torch.inference_mode()
def capture_hidden_states(
    mg: MusicGen,
    codes: Sequence[torch.Tensor | np.ndarray] | torch.Tensor,
    *,
    layers: Sequence[int] | None = None,
    pooling: str = "mean",
    delay_pattern: bool = True,
    texts: Sequence[str] | None = None,
    batch_size: int = 8,
    storage_dtype: str = "float32",
    out: str | os.PathLike | None = None,
) -> np.ndarray:
    """Pooled block outputs, shaped (n_clips, n_layers, d) (2d for "mean_std"), in the order of `layers`.

    `codes` is a (B, K, T) tensor or any indexable sequence of (K, T_i) clips (a lazy dataset works: clips
    are read per batch). `texts` (one per clip) conditions the decoder as the conditional half of
    generation does; without it no text is attended to. With `out` (a .safetensors path) rows stream to
    disk and a read-only memory map of the finished file is returned; `store.load_array` reads it back with
    its metadata (layers, pooling, delay pattern, model fingerprint).
    """
    _check_options(pooling, storage_dtype, batch_size)
    if isinstance(codes, (torch.Tensor, np.ndarray)) and codes.ndim != 3:
        raise ValueError(f"codes must be (batch, codebooks, frames) or a list of clips, got {tuple(codes.shape)}")
    if isinstance(codes, (str, bytes)) or not isinstance(codes, (Sequence, torch.Tensor, np.ndarray)):
        raise TypeError(f"codes must be a sequence of clips or a 3-D tensor, got {type(codes).__name__}")
    if len(codes) == 0:
        raise ValueError("codes must not be empty")
    if mg.model.training:
        raise ValueError("model is in training mode (dropout active); call model.eval() before capture")
    chosen = resolve_layers(layers, mg.num_layers)
    texts = _check_texts(texts, len(codes))
    lengths = [check_codes(mg, codes[i], f"codes[{i}]").shape[1] for i in range(len(codes))]
    options = {"layers": chosen, "pooling": pooling, "delay_pattern": delay_pattern, "batch_size": batch_size}
    width = mg.hidden_size * (2 if pooling == "mean_std" else 1)
    shape = (len(codes), len(chosen), width)
    if out is None:
        result = np.empty(shape, dtype=storage_dtype)
        _fill(mg, codes, lengths, texts, result, **options)
        return result
    metadata = {"layers": list(chosen), "pooling": pooling, "delay_pattern": delay_pattern,
                "text_conditioned": texts is not None, "model": mg.name, "fingerprint": mg.fingerprint}
    with ArrayWriter(out, shape, storage_dtype, metadata) as writer:
        _fill(mg, codes, lengths, texts, writer.array, **options)
    return load_array(out)[0]


def _fill(mg, codes, lengths, texts, sink, *, layers, pooling, delay_pattern, batch_size) -> None:
    """Run batches of similar length (longest first, so the peak shows early) and write rows to sink."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    recorder = _Recorder(mg, layers, pooling)
    try:
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            clips = [check_codes(mg, codes[i], f"codes[{i}]") for i in rows]
            inputs, recorder.mask, recorder.last = _batch_inputs(mg, clips, delay_pattern)
            _forward(mg, inputs, None if texts is None else [texts[i] for i in rows])
            pooled = torch.stack([recorder.pooled[i] for i in layers], dim=1)
            sink[rows] = pooled.cpu().numpy().astype(sink.dtype)
    finally:
        recorder.remove()
