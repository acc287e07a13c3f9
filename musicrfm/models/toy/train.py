"""Train the toy MusicGen from scratch on the synthetic corpus, deterministically from a seed.

Every step draws a fresh batch of clips from a generator seeded by the config, so the same config gives
the same weights on the same machine and torch build (and thread count). Prompts are dropped (zero text
states and mask, exactly what `generate` feeds the unconditional half under classifier-free guidance)
with probability `text_dropout`.

Run `python -m musicrfm.models.toy --help` to train the default model into the cache from the command line.

>>> config = ToyTrainConfig(steps=2, batch_size=2, clip_frames=20, architecture=ToyArchitecture(32, 1))
>>> model, losses = train_toy(config)
>>> len(losses), losses[0] > losses[-1] * 0.5
(2, True)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from transformers import MusicgenForConditionalGeneration

from musicrfm.checks import check_int
from musicrfm.models.text import HashingTokenizer
from musicrfm.models.toy.corpus import sample_clip
from musicrfm.models.toy.model import PAD_ID, ToyArchitecture, build_toy_model, toy_tokenizer
from musicrfm.models.toy.tokens import CODEBOOK_SIZE

CODE_VERSION = 1
"""Part of the cache key: bump it whenever the codec, corpus or training loop changes what a config yields."""

Progress = Callable[[int, int, float], None]
"""Called after each step with (step, total steps, loss)."""


@dataclass(frozen=True)
class ToyTrainConfig:
    """Everything that determines the trained toy weights (with CODE_VERSION and the torch build)."""

    seed: int = 0
    steps: int = 600
    batch_size: int = 16
    clip_frames: int = 150
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    text_dropout: float = 0.15
    architecture: ToyArchitecture = field(default_factory=ToyArchitecture)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "clip_frames"):
            check_int(getattr(self, name), name, low=1)
        for name in ("seed", "warmup_steps"):
            check_int(getattr(self, name), name, low=0)
        if not isinstance(self.learning_rate, (int, float)) or not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if not isinstance(self.text_dropout, (int, float)) or not 0 <= self.text_dropout < 1:
            raise ValueError(f"text_dropout must be in [0, 1), got {self.text_dropout!r}")
        if not isinstance(self.architecture, ToyArchitecture):
            raise TypeError(f"architecture must be a ToyArchitecture, got {type(self.architecture).__name__}")

    def key(self) -> str:
        """Short stable hash of this config and CODE_VERSION, used to name the cache folder."""
        text = json.dumps({"code_version": CODE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def delayed(codes: torch.Tensor) -> torch.Tensor:
    """MusicGen's decoder sequence for codes (B, K, T): a BOS column, codebook k shifted right by k, pad elsewhere.

    Shape (B, K, T + K + 1); the model reads `[..., :-1]` and predicts `[..., 1:]`.
    """
    batch, books, frames = codes.shape
    sequence = torch.full((batch, books, frames + books + 1), PAD_ID, dtype=torch.long)
    for k in range(books):
        sequence[:, k, 1 + k : 1 + k + frames] = codes[:, k]
    return sequence


def sample_batch(rng: np.random.Generator, config: ToyTrainConfig, tokenizer: HashingTokenizer) -> dict:
    """Text ids and mask (dropped prompts fully masked) and the delayed code sequences of fresh clips."""
    clips = [sample_clip(rng, config.clip_frames) for _ in range(config.batch_size)]
    text = tokenizer([clip.prompt for clip in clips])
    keep = torch.from_numpy(rng.random(config.batch_size) >= config.text_dropout)
    sequence = delayed(torch.from_numpy(np.stack([clip.codes for clip in clips])))
    return {"input_ids": text["input_ids"], "attention_mask": text["attention_mask"] * keep[:, None],
            "sequence": sequence}


def batch_loss(model: MusicgenForConditionalGeneration, batch: dict) -> torch.Tensor:
    """Mean cross-entropy of the next token over every real (non-pad) target of every codebook."""
    sequence = batch["sequence"]
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
        decoder_input_ids=sequence[..., :-1].reshape(-1, sequence.shape[-1] - 1),
    ).logits
    targets = sequence[..., 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, CODEBOOK_SIZE), targets, ignore_index=PAD_ID)


def _learning_rate(config: ToyTrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


def train_toy(config: ToyTrainConfig = ToyTrainConfig(), *,
              progress: Progress | None = None) -> tuple[MusicgenForConditionalGeneration, list[float]]:
    """Train a toy MusicGen from scratch; returns the model (eval mode) and the loss of every step.

    The caller's global torch random state is left untouched.
    """
    tokenizer = toy_tokenizer()
    rng = np.random.default_rng(config.seed)
    model = build_toy_model(config.architecture, seed=config.seed).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), weight_decay=0.01)
    losses = []
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step)
        loss = batch_loss(model, sample_batch(rng, config, tokenizer))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if progress is not None:
            progress(step + 1, config.steps, losses[-1])
    return model.eval(), losses
