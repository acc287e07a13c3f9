"""Text adherence: cosine similarity between CLAP's audio and text embeddings (transformers' ClapModel
and ClapProcessor, loaded from a local folder or an already cached hub id; nothing is downloaded).

A clip longer than the processor's window is cut into consecutive windows (the last one shorter) whose
unit embeddings are averaged: every second of audio counts, and the same clip always gives the same
score (CLAP's own cropping of long input is random).

>>> import numpy as np, tempfile
>>> folder = save_tiny_clap(tempfile.mkdtemp())
>>> scorer = load_clap(folder)
>>> score = scorer.score(np.sin(np.arange(48000) / 10.0), 48000, "calm piano")
>>> -1.0 <= score <= 1.0
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr
import torch
from transformers import (
    ClapAudioConfig,
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    ClapProcessor,
    ClapTextConfig,
    RobertaTokenizer,
)

from musicrfm.evaluation.inputs import check_audio
from musicrfm.files import atomic_directory


@dataclass(frozen=True, eq=False)
class ClapScorer:
    """A CLAP model with its processor on one device, in eval mode."""

    model: object = field(repr=False)
    processor: object = field(repr=False)
    device: str = "cpu"
    name: str = "in-memory"

    @property
    def sample_rate(self) -> int:
        return int(self.processor.feature_extractor.sampling_rate)

    @property
    def window_samples(self) -> int:
        """Samples (at `sample_rate`) in one window of CLAP input."""
        return int(self.processor.feature_extractor.nb_max_samples)

    def audio_embedding(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Unit-norm embedding (projection_dim,) of a clip: the mean of its windows' unit embeddings."""
        samples = check_audio(audio, sample_rate)
        if sample_rate != self.sample_rate:
            samples = soxr.resample(samples, sample_rate, self.sample_rate, quality="HQ")
        windows = [samples[i : i + self.window_samples] for i in range(0, samples.size, self.window_samples)]
        inputs = self.processor(audio=[w.astype(np.float32) for w in windows], sampling_rate=self.sample_rate,
                                return_tensors="pt")
        with torch.no_grad():
            embedded = _pooled(self.model.get_audio_features(input_features=inputs["input_features"].to(self.device)))
        return _unit(_unit(embedded).mean(axis=0))

    def text_embedding(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings (len(texts), projection_dim) of some prompts."""
        if isinstance(texts, str) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError("texts must be a non-empty list of non-empty strings")
        inputs = self.processor(text=list(texts), return_tensors="pt", padding=True)
        with torch.no_grad():
            embedded = _pooled(self.model.get_text_features(**{k: v.to(self.device) for k, v in inputs.items()}))
        return _unit(embedded)

    def score(self, audio: np.ndarray, sample_rate: int, text: str) -> float:
        """Cosine similarity in [-1, 1] between the clip and one text prompt."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text must be a non-empty string, got {text!r}")
        return float(np.clip(self.text_embedding([text])[0] @ self.audio_embedding(audio, sample_rate), -1.0, 1.0))


def _pooled(output) -> np.ndarray:
    # transformers 5 returns a model output whose pooler_output is the projected embedding; 4.x a tensor.
    tensor = output if hasattr(output, "detach") else output.pooler_output
    return tensor.detach().float().cpu().numpy()


def _unit(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, 1e-12)


def load_clap(name_or_path: str | os.PathLike, *, device: str = "cpu") -> ClapScorer:
    """Load a CLAP model and processor from a local folder (or a hub id already in the local cache)."""

    source = _clap_source(name_or_path)
    try:
        model = ClapModel.from_pretrained(source, local_files_only=True)
        processor = ClapProcessor.from_pretrained(source, local_files_only=True)
    except OSError as error:
        where = f"folder '{source}' is incomplete" if Path(source).is_dir() else f"'{source}' is not available locally"
        raise ValueError(f"CLAP model {where}: {str(error).splitlines()[0]}") from error
    return ClapScorer(model.to(device).eval(), processor, device=device, name=source)


def _clap_source(name_or_path: str | os.PathLike) -> str:
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"CLAP model must be a folder path or hub id, got {type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        config = path / "config.json"
        if not config.is_file():
            raise ValueError(f"CLAP folder '{text}' has no config.json")
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        if model_type != "clap":
            raise ValueError(f"'{text}' holds a '{model_type}' model, not CLAP")
        return str(path)
    if path.exists() or text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ValueError(f"CLAP folder '{text}' does not exist")
    return text


def save_tiny_clap(folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Write a tiny random-weight CLAP (a few thousand parameters, with a letter-level tokenizer) to
    `folder` (new or empty; written atomically), for tests and offline plumbing checks; its scores mean
    nothing."""

    audio = ClapAudioConfig(hidden_size=16, patch_embeds_hidden_size=8, depths=[1, 1], num_attention_heads=[1, 2],
                            window_size=4, projection_dim=8, num_hidden_layers=2)
    text = ClapTextConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=32, projection_dim=8, max_position_embeddings=66)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=8))
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *letters, *("Ġ" + c for c in letters)]
    with atomic_directory(folder) as tmp:
        (tmp / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
        (tmp / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        tokenizer = RobertaTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"))
        # "rand_trunc" keeps one input channel (fusion needs four); ClapScorer never hands it a long window.
        extractor = ClapFeatureExtractor(max_length_s=2, truncation="rand_trunc")
        model.save_pretrained(tmp)
        ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(tmp)
    return Path(folder)
