"""Text tokenisation for MusicGen's T5 conditioning, with a deterministic fallback for toy models.

Released MusicGen folders ship a T5 tokenizer; tiny random-weight models have none, and transformers 5.x
quietly builds an *empty* T5 tokenizer from the config alone (every word becomes `<unk>`), which would make
all prompts identical. `HashingTokenizer` is the documented fallback for those toy models: each word is
hashed into the tiny T5 vocabulary, so different prompts give different (but meaningless) token ids.

>>> tok = HashingTokenizer(vocab_size=100)
>>> batch = tok(["warm piano", "piano"])
>>> batch["input_ids"].shape, batch["attention_mask"].tolist()
(torch.Size([2, 3]), [[1, 1, 1], [1, 1, 0]])
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

# T5 conventions: 0 = <pad>, 1 = </s>, 2 = <unk>; hashed words land in [FIRST_WORD_ID, vocab_size).
PAD_ID, EOS_ID, FIRST_WORD_ID = 0, 1, 3
_WORD = re.compile(r"[a-z0-9]+")
_PROBE_TEXTS = ("calm piano melody", "loud rock drums")


def check_texts(texts: object, *, field: str = "texts") -> list[str]:
    """Return `texts` as a list of strings, or raise a one-line error naming `field`."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"{field} must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{field} must not be empty")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{field}[{i}] must be a string, got {type(text).__name__}")
    return list(texts)


@dataclass(frozen=True)
class HashingTokenizer:
    """Deterministic word-hashing tokenizer for toy T5 vocabularies (lower-cased alphanumeric words).

    Output follows the T5 tokenizer's layout: word ids, then `</s>`, right-padded with 0 and an attention
    mask, as int64 tensors. The same text always gives the same ids, across processes and machines
    (blake2b, not Python's salted `hash`).
    """

    vocab_size: int
    max_words: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.vocab_size, int) or self.vocab_size <= FIRST_WORD_ID:
            raise ValueError(f"vocab_size must be an integer above {FIRST_WORD_ID}, got {self.vocab_size!r}")
        if not isinstance(self.max_words, int) or self.max_words < 1:
            raise ValueError(f"max_words must be a positive integer, got {self.max_words!r}")

    def word_id(self, word: str) -> int:
        """The id of one word: a stable hash folded into the non-special part of the vocabulary."""
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        return FIRST_WORD_ID + digest % (self.vocab_size - FIRST_WORD_ID)

    def __call__(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        texts = check_texts(texts)
        rows = [[self.word_id(w) for w in _WORD.findall(t.lower())][: self.max_words] + [EOS_ID] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask}


def tokenizer_is_empty(tokenizer) -> bool:
    """True when a transformers tokenizer has no real vocabulary: two unrelated texts encode alike."""
    first, second = (tokenizer(t, add_special_tokens=False)["input_ids"] for t in _PROBE_TEXTS)
    return first == second


@dataclass(frozen=True)
class PretrainedTokenizer:
    """A transformers tokenizer called like `HashingTokenizer`: padded int64 ids and attention mask."""

    tokenizer: Any

    def __call__(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(check_texts(texts), padding=True, return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
