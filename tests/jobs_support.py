"""Shared pieces for the jobs and CLI tests: a tiny MusicGen saved to disk and tiny probe bundles for it."""

from pathlib import Path

import torch

from musicrfm.models import MusicGen
from musicrfm.models.random_weights import tiny_musicgen
from musicrfm.probes import ConceptProbe, ProbeLibrary

NOTE_CLASSES = ("C", "E", "G")


def tiny_model() -> MusicGen:
    """The tiny 32 kHz / 50 Hz MusicGen (seed 0), wrapped as the renderer expects."""
    return MusicGen.from_model(tiny_musicgen(seed=0), name="tiny")


def save_tiny_model(folder: Path) -> Path:
    """Write the tiny model with save_pretrained, so tests load it through the real loader."""
    tiny_musicgen(seed=0).save_pretrained(folder)
    return folder


def note_probe(mg: MusicGen, seed: int = 0) -> ConceptProbe:
    """A multiclass notes probe over C, E and G with random unit directions on every layer."""
    gen = torch.Generator().manual_seed(seed)
    vectors = torch.nn.functional.normalize(torch.randn(3, mg.num_layers, 1, mg.hidden_size, generator=gen), dim=-1)
    return ConceptProbe(
        concept="notes", task="multiclass", classes=NOTE_CLASSES, target=None, layers=tuple(range(mg.num_layers)),
        vectors=vectors, eigenvalues=torch.ones(3, mg.num_layers, 1), val_scores=(0.6, 0.9)[: mg.num_layers],
        test_scores=(0.5, 0.8)[: mg.num_layers], metric="accuracy",
        model={"name": mg.name, "fingerprint": dict(mg.fingerprint)},
    )


def chord_probe(mg: MusicGen, target: str = "minor") -> ConceptProbe:
    """A binary chord-quality probe (target vs the rest)."""
    gen = torch.Generator().manual_seed(1)
    vectors = torch.nn.functional.normalize(torch.randn(1, mg.num_layers, 1, mg.hidden_size, generator=gen), dim=-1)
    return ConceptProbe(
        concept="chords", task="binary", classes=(f"not_{target}", target), target=target,
        layers=tuple(range(mg.num_layers)), vectors=vectors, eigenvalues=torch.ones(1, mg.num_layers, 1),
        val_scores=(0.7, 0.8)[: mg.num_layers], test_scores=(0.7, 0.8)[: mg.num_layers], metric="auc",
        model={"name": mg.name, "fingerprint": dict(mg.fingerprint)},
    )


def probe_library(root: Path, mg: MusicGen) -> ProbeLibrary:
    """A library holding `notes` (multiclass C/E/G) and `minor` (binary chord quality)."""
    library = ProbeLibrary(root)
    library.save(note_probe(mg), "notes")
    library.save(chord_probe(mg), "minor")
    return library
