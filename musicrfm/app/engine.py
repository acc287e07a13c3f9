"""The app's engine: models, the probe library and every model-using task, behind one injectable object.

Concurrency: steering hooks are registered on the shared model's modules and the sampler draws from
torch's process-wide random generator, so two generations running at once would see each other's hooks
and interleave each other's random streams. The engine therefore runs every task that uses a model
(generation and probe training) under one lock: requests queue, and each gets exactly the audio its own
plan and seed give when run alone. Cancelling works through a per-request `CancelToken` checked before
every decoder forward (and between training stages).

>>> from musicrfm.models import MusicGen
>>> from musicrfm.models.tiny import tiny_musicgen
>>> engine = AppEngine(loader=lambda name: MusicGen.from_model(tiny_musicgen(seed=0), name=name))
>>> engine.model("toy").num_layers, engine.frame_rate("toy")
(2, 50)
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from musicrfm.models import MusicGen, load_musicgen
from musicrfm.probes import ProbeLibrary
from musicrfm.steering.schedules import DEFAULT_FRAME_RATE

Loader = Callable[[str], MusicGen]
Progress = Callable[[float, str], None]
MODEL_CHOICES = ("toy", "facebook/musicgen-small", "facebook/musicgen-medium", "facebook/musicgen-large",
                 "facebook/musicgen-melody")


class Cancelled(Exception):
    """Raised inside a running task when its user pressed Stop."""


class CancelToken:
    """A per-session stop flag; a deep copy (Gradio copies state per session) is a fresh, unset token."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def __deepcopy__(self, memo: dict) -> CancelToken:
        return CancelToken()

    def cancel(self) -> None:
        """Ask the running task to stop at its next checkpoint."""
        self._event.set()

    def reset(self) -> None:
        """Clear the flag before a new task starts."""
        self._event.clear()

    def check(self) -> None:
        """Raise `Cancelled` if Stop was pressed."""
        if self._event.is_set():
            raise Cancelled("stopped by the user")


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for, so one user cannot stall the app or fill its disk."""

    max_duration_s: float = 30.0
    max_upload_bytes: int = 2_000_000
    max_schedule_bytes: int = 64_000
    max_csv_rows: int = 5_000
    max_clips_per_class: int = 50


def default_loader(device: str = "auto") -> Loader:
    """Model names as the CLI reads them ("toy", a hub id or a local folder), so job files render alike."""

    def load(name: str) -> MusicGen:
        return load_musicgen(name, device=device, progress=False)

    return load


class AppEngine:
    """What the app's handlers call: cached model loading, the probe library and the task lock.

    Args:
        loader: model name -> MusicGen (default: the CLI's loader; tests pass a tiny model).
        library: the probe library (default: `ProbeLibrary()`, i.e. $MUSICRFM_PROBES or the user folder).
        work_dir: where per-request outputs (audio, job files) are written.
        cache_dir: activation cache for probe training (None: the probes package default).
        dataset_backend: "auto", "fluidsynth" or "numpy" for rendering probe datasets.
        model_choices: names offered in the model picker (any other name or folder may be typed).
    """

    def __init__(self, loader: Loader | None = None, library: ProbeLibrary | None = None, *,
                 work_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                 dataset_backend: str = "auto", limits: Limits = Limits(),
                 model_choices: tuple[str, ...] = MODEL_CHOICES) -> None:
        if loader is not None and not callable(loader):
            raise TypeError(f"loader must be callable as loader(name) -> MusicGen, got {type(loader).__name__}")
        if library is not None and not isinstance(library, ProbeLibrary):
            raise TypeError(f"library must be a ProbeLibrary, got {type(library).__name__}")
        if dataset_backend not in ("auto", "fluidsynth", "numpy"):
            raise ValueError(f"dataset_backend must be 'auto', 'fluidsynth' or 'numpy', got {dataset_backend!r}")
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
        self.loader = loader or default_loader()
        self.library = library or ProbeLibrary()
        self.work_dir = Path(work_dir) if work_dir is not None else Path(tempfile.gettempdir()) / "musicrfm-app"
        self.cache_dir = cache_dir
        self.dataset_backend = dataset_backend
        self.limits = limits
        self.model_choices = tuple(model_choices)
        self._models: dict[str, MusicGen] = {}
        self._load_lock = threading.Lock()
        self._task_lock = threading.Lock()

    def model(self, name: str) -> MusicGen:
        """The model called `name`, loaded on first use and kept."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("model: choose a model or type a local folder")
        name = name.strip()
        with self._load_lock:
            if name not in self._models:
                model = self.loader(name)
                if not isinstance(model, MusicGen):
                    raise TypeError(f"loader returned {type(model).__name__} for {name!r}, not a MusicGen")
                self._models[name] = model
            return self._models[name]

    def frame_rate(self, name: str) -> float:
        """The frame rate of model `name` if it is loaded, else MusicGen's 50 Hz (only plots use this)."""
        model = self._models.get(name)
        return DEFAULT_FRAME_RATE if model is None else model.frame_rate

    def request_dir(self) -> Path:
        """A fresh folder for one request's files."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="request-", dir=self.work_dir))

    @contextmanager
    def exclusive(self, model: MusicGen, token: CancelToken, progress: Progress | None = None,
                  steps: int | None = None) -> Iterator[None]:
        """Hold the task lock while using `model`; every decoder forward first checks `token` and reports
        `progress(fraction, "decoding")` over `steps` forwards."""
        token.check()
        decoder = model.model.decoder.model.decoder
        count = [0]

        def checkpoint(module, args) -> None:
            token.check()
            count[0] += 1
            if progress is not None and steps:
                progress(min(count[0] / steps, 1.0), "decoding")

        with self._task_lock:
            token.check()
            handle = decoder.register_forward_pre_hook(checkpoint)
            try:
                yield
            finally:
                handle.remove()
