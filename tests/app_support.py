"""Shared pieces of the app tests: a tiny engine (tiny MusicGen with a live codec, a probe library) and
the real app launched on 127.0.0.1 at a free port."""

import os
import socket
from contextlib import contextmanager
from pathlib import Path

import torch

from musicrfm.app import AppEngine, build_app
from musicrfm.models import MusicGen
from musicrfm.models.tiny import tiny_musicgen
from musicrfm.probes import ConceptProbe, ProbeLibrary

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def tiny_model() -> MusicGen:
    """The tiny 32 kHz / 50 Hz MusicGen with small random codebooks (the stock ones are all zero, which
    would encode every clip to the same codes and leave probes nothing to learn)."""
    model = tiny_musicgen(seed=0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.copy_(0.01 * torch.randn(layer.codebook.embed.shape, generator=gen))
    return MusicGen.from_model(model, name="toy")


def note_probe(mg: MusicGen, seed: int = 0) -> ConceptProbe:
    """A multiclass notes probe over C, E and G with random unit directions on every layer."""
    gen = torch.Generator().manual_seed(seed)
    vectors = torch.nn.functional.normalize(torch.randn(3, mg.num_layers, 1, mg.hidden_size, generator=gen), dim=-1)
    return ConceptProbe(
        concept="notes", task="multiclass", classes=("C", "E", "G"), target=None, layers=tuple(range(mg.num_layers)),
        vectors=vectors, eigenvalues=torch.ones(3, mg.num_layers, 1), val_scores=(0.6, 0.9), test_scores=(0.5, 0.8),
        metric="accuracy", model={"name": mg.name, "fingerprint": dict(mg.fingerprint)},
    )


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
