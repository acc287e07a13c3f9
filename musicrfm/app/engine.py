"""The app's engine: models, the probe library and every model-using task, behind one injectable object.

Concurrency: steering hooks are registered on the shared model's modules and the sampler draws from
torch's process-wide random generator, so generations are serialised per engine (one lock): requests
queue, and each gets exactly the audio its own plan and seed give when run alone. Probe training runs
beside them under its own lock (one training at a time) on the model's *training twin*: the same weight
tensors under separate module objects, so training's capture hooks never fire in a generation's
forwards and steering hooks never reach training's. Extraction only reads the weights, and training
draws from its own seeded generators, never from torch's global one. Cancelling works through a
per-request `CancelToken` checked before every decoder forward (and between training stages).

>>> from musicrfm.models import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> engine = AppEngine(loader=lambda name: MusicGen.from_model(tiny_musicgen(seed=0), name=name))
>>> engine.model("toy").num_layers, engine.frame_rate("toy")
(2, 50)
>>> engine.twin("toy").model is engine.model("toy").model
False
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from musicrfm.app.cancel import CancelToken
from musicrfm.models import MusicGen, load_musicgen
from musicrfm.probes import ProbeLibrary
from musicrfm.schedules import DEFAULT_FRAME_RATE

Loader = Callable[[str], MusicGen]
Progress = Callable[[float, str], None]
MODEL_CHOICES = ("toy", "facebook/musicgen-small", "facebook/musicgen-medium", "facebook/musicgen-large",
                 "facebook/musicgen-melody")


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
    """What the app's handlers call: cached model loading, the probe library, the generation lock and the
    training lock.

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
        self._twins: dict[str, MusicGen] = {}
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._train_lock = threading.Lock()

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
                # Twinned before anyone can hook the model, so the twin starts without hooks.
                self._twins[name] = training_twin(model)
                self._models[name] = model
            return self._models[name]

    def twin(self, name: str) -> MusicGen:
        """The training twin of model `name` (see `training_twin`)."""
        self.model(name)
        return self._twins[name.strip()]

    def frame_rate(self, name: str) -> float:
        """The frame rate of model `name` if it is loaded, else MusicGen's 50 Hz (only plots use this)."""
        model = self._models.get(name)
        return DEFAULT_FRAME_RATE if model is None else model.frame_rate

    def request_dir(self) -> Path:
        """A fresh folder for one request's files."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="request-", dir=self.work_dir))

    @contextmanager
    def generating(self, model: MusicGen, token: CancelToken, progress: Progress | None = None,
                   steps: int | None = None) -> Iterator[None]:
        """Hold the generation lock while `model` generates; every decoder forward first checks `token` and
        reports `progress(fraction, "decoding")` over `steps` forwards."""
        token.check()
        with self._generate_lock, _checkpoints(model, token, progress, steps):
            yield

    @contextmanager
    def training(self, name: str, token: CancelToken) -> Iterator[MusicGen]:
        """Hold the training lock and yield the training twin of model `name`; every decoder forward on it
        first checks `token`. Generations go on meanwhile on the model itself."""
        twin = self.twin(name)
        token.check()
        with self._train_lock, _checkpoints(twin, token):
            yield twin


def training_twin(model: MusicGen) -> MusicGen:
    """`model` with its own module objects over the very same weight tensors: no extra weight memory, and
    hooks registered on one never fire in the other's forwards."""
    if not isinstance(model, MusicGen):
        raise TypeError(f"model must be a MusicGen, got {type(model).__name__}")
    modules = model.model.named_modules()
    hooked = [name or "<root>" for name, module in modules if module._forward_hooks or module._forward_pre_hooks]
    if hooked:
        # A deep copy would carry these hooks (a running steering plan, say) into every training.
        raise ValueError(f"model: cannot twin a model with hooks on {hooked[:3]}; twin it before use")
    shared = {id(tensor): tensor for tensor in itertools.chain(model.model.parameters(), model.model.buffers())}
    return dataclasses.replace(model, model=copy.deepcopy(model.model, shared))


@contextmanager
def _checkpoints(model: MusicGen, token: CancelToken, progress: Progress | None = None,
                 steps: int | None = None) -> Iterator[None]:
    """A pre-hook on `model`'s decoder that checks `token` (and reports progress) before every forward."""
    token.check()
    count = [0]

    def checkpoint(module, args) -> None:
        token.check()
        count[0] += 1
        if progress is not None and steps:
            progress(min(count[0] / steps, 1.0), "decoding")

    handle = model.model.decoder.model.decoder.register_forward_pre_hook(checkpoint)
    try:
        yield
    finally:
        handle.remove()
