"""Shared pieces of the app tests: a tiny engine (tiny MusicGen, a probe library) and
the real app launched on 127.0.0.1 at a free port."""

import os
import socket
from contextlib import contextmanager
from pathlib import Path

from musicrfm.app import AppEngine, build_app
from musicrfm.models import MusicGen
from musicrfm.models.tiny import tiny_musicgen
from musicrfm.probes import ProbeLibrary

from jobs_support import note_probe

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def tiny_model() -> MusicGen:
    """The tiny 32 kHz / 50 Hz MusicGen."""
    return MusicGen.from_model(tiny_musicgen(seed=0), name="toy")


def tiny_engine(root: Path) -> AppEngine:
    """An engine whose every model name loads one shared tiny model, with a library holding `notes`."""
    model = tiny_model()
    library = ProbeLibrary(root / "probes")
    library.save(note_probe(model), "notes")

    def load(name: str) -> MusicGen:
        if name != "toy":
            raise ValueError(f"model: only 'toy' exists in this test engine, got {name!r}")
        return model

    return AppEngine(loader=load, library=library, work_dir=root / "work", cache_dir=root / "cache",
                     dataset_backend="numpy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(engine: AppEngine):
    """The real app for `engine`, served on 127.0.0.1; yields its URL and closes it afterwards."""
    demo = build_app(engine, model="toy")
    demo.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                        allowed_paths=[str(engine.work_dir)])
    try:
        yield demo.local_url
    finally:
        demo.close()
