"""Shared pieces of the app tests: a tiny engine (tiny MusicGen, a probe library), the real app launched
on 127.0.0.1 at a free port, and probes on a model's decoder forwards (pause one, record them)."""

import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from musicrfm.app import AppEngine, build_app
from musicrfm.models import MusicGen
from musicrfm.models.random_weights import tiny_musicgen
from musicrfm.probes import ProbeLibrary

from jobs_support import note_probe

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def tiny_model() -> MusicGen:
    """The tiny 32 kHz / 50 Hz MusicGen."""
    return MusicGen.from_model(tiny_musicgen(seed=0), name="toy")


def single_model_engine(model: MusicGen, root: Path) -> AppEngine:
    """An engine whose one model, "toy", is `model`, with its library, outputs and cache under `root`."""

    def load(name: str) -> MusicGen:
        if name != "toy":
            raise ValueError(f"model: only 'toy' exists in this test engine, got {name!r}")
        return model

    return AppEngine(loader=load, library=ProbeLibrary(root / "probes"), work_dir=root / "work",
                     cache_dir=root / "cache", dataset_backend="numpy")


def tiny_engine(root: Path) -> AppEngine:
    """The tiny model as "toy", with a library holding `notes`."""
    engine = single_model_engine(tiny_model(), root)
    engine.library.save(note_probe(engine.model("toy")), "notes")
    return engine


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


def hooks_left(mg: MusicGen) -> int:
    """Forward hooks and pre-hooks still registered anywhere in the model."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in mg.model.modules())


def _decoder(mg: MusicGen):
    return mg.model.decoder.model.decoder


def steering(mg: MusicGen) -> bool:
    """Whether a steering plan is applied to `mg` (its hooks sit on the decoder blocks)."""
    return any(layer._forward_hooks for layer in mg.layers)


@contextmanager
def paused_forward(mg: MusicGen, when=lambda: True, timeout_s: float = 60.0):
    """Hold the first decoder forward of `mg` for which `when()` holds inside the block (every hook of that
    run is registered then); yields an Event set once that forward is waiting. Leaving the block lets it go."""
    paused, release = threading.Event(), threading.Event()

    def hold(module, args) -> None:
        if not paused.is_set() and when():
            paused.set()
            release.wait(timeout_s)

    handle = _decoder(mg).register_forward_pre_hook(hold)
    try:
        yield paused
    finally:
        release.set()
        handle.remove()


@contextmanager
def recorded_forwards(mg: MusicGen, delay_s: float = 0.0, first_delay_s: float = 0.0):
    """Yields a list that gains the calling thread's id at every decoder forward of `mg`; each forward is
    slowed by `delay_s` (the first by `first_delay_s`), so tests can act between steps."""
    calls: list[int] = []

    def record(module, args) -> None:
        calls.append(threading.get_ident())
        time.sleep(first_delay_s if len(calls) == 1 else delay_s)

    handle = _decoder(mg).register_forward_pre_hook(record)
    try:
        yield calls
    finally:
        handle.remove()


def wait_for(condition, timeout_s: float = 60.0) -> None:
    """Poll `condition()` until it holds; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.01)
