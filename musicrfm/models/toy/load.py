"""Get the toy model: from the cache when it has been trained before, else train it (with progress) first.

Weights live in `<cache>/toy-<config key>/` as a `save_pretrained` folder (safetensors and JSON only),
where `<cache>` is `$MUSICRFM_CACHE`, else `$XDG_CACHE_HOME/musicrfm`, else `~/.cache/musicrfm`. The key
hashes the training config and the code version, so a change to either trains a new model rather than
reusing stale weights. They are not committed to the repository: bitwise-identical training is only
promised on the same machine and torch build, and the default config trains in about three minutes.

>>> import tempfile
>>> small = ToyTrainConfig(steps=1, batch_size=1, clip_frames=10, architecture=ToyArchitecture(32, 1))
>>> toy = load_toy(small, cache_dir=tempfile.mkdtemp(), progress=False)
>>> toy.codec.sample_rate, toy.codec.frame_rate, toy.model.decoder.config.num_codebooks
(16000, 25, 4)
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm
from transformers import MusicgenForConditionalGeneration

from musicrfm.files import temporary_folder
from musicrfm.models.text import HashingTokenizer
from musicrfm.models.toy.codec import ToyCodec
from musicrfm.models.toy.model import ToyArchitecture, toy_tokenizer
from musicrfm.models.toy.train import ToyTrainConfig, train_toy

__all__ = ["ToyArchitecture", "ToyModel", "ToyTrainConfig", "cache_root", "load_toy", "toy_folder"]


@dataclass(frozen=True, eq=False)
class ToyModel:
    """A loaded toy MusicGen, its codec (the model's `audio_encoder`), its tokenizer and its folder."""

    model: MusicgenForConditionalGeneration
    tokenizer: HashingTokenizer
    folder: Path

    @property
    def codec(self) -> ToyCodec:
        return self.model.audio_encoder


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The musicrfm cache folder: `cache_dir` if given, else $MUSICRFM_CACHE, $XDG_CACHE_HOME/musicrfm or ~/.cache/musicrfm."""
    if cache_dir is not None:
        if not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"cache_dir must be a path, got {type(cache_dir).__name__}")
        return Path(cache_dir)
    if os.environ.get("MUSICRFM_CACHE"):
        return Path(os.environ["MUSICRFM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "musicrfm"


def toy_folder(config: ToyTrainConfig = ToyTrainConfig(), *, cache_dir: str | os.PathLike | None = None,
               progress: bool = True) -> Path:
    """The cached `save_pretrained` folder of the toy model for `config`, training it first if missing."""
    if not isinstance(config, ToyTrainConfig):
        raise TypeError(f"config must be a ToyTrainConfig, got {type(config).__name__}")
    folder = cache_root(cache_dir) / f"toy-{config.key()}"
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _progress_bar(config, progress) as report:
        model, _ = train_toy(config, progress=report)
    # Save beside the destination and rename into place, so no reader ever sees a half-written folder.
    staging = temporary_folder(folder)
    try:
        model.save_pretrained(staging)
        os.replace(staging, folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (folder / "config.json").is_file():  # a concurrent trainer may have won the race
            raise
    return folder


def load_toy(config: ToyTrainConfig = ToyTrainConfig(), *, cache_dir: str | os.PathLike | None = None,
             device: str = "cpu", progress: bool = True) -> ToyModel:
    """Load the toy model through `from_pretrained` (training and caching it first if needed), in eval mode."""
    folder = toy_folder(config, cache_dir=cache_dir, progress=progress)
    model = MusicgenForConditionalGeneration.from_pretrained(folder).to(device).eval()
    return ToyModel(model=model, tokenizer=toy_tokenizer(), folder=folder)


class _progress_bar:
    """Context manager yielding a step callback that drives a tqdm bar on stderr (or nothing when off)."""

    def __init__(self, config: ToyTrainConfig, enabled: bool) -> None:
        self.bar = None
        if enabled:
            self.bar = tqdm(total=config.steps, desc="training toy MusicGen", unit="step", file=sys.stderr)

    def __enter__(self):
        return None if self.bar is None else self._update

    def _update(self, step: int, total: int, loss: float) -> None:
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
