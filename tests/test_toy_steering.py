"""End-to-end effectiveness of steering on the embedded toy model, measured on decoded audio.

The toy model trains once into the default cache (~3 min the first time, then loaded in < 1 s); the note
probe is the demo's quick one (real pipeline), also cached. Every assertion reads pitch from the audio
with the evaluation package's chroma estimator, never from tokens.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from musicrfm.probes import train_probe
from musicrfm.models.toy import load_toy
from musicrfm.toy.demo import QUICK, clip_accuracies, note_probe, sequence_render, steered
from musicrfm.toy.probes import style_dataset

PROMPTS = ["happy piano", "sad flute energetic"]
TARGETS = ("C", "D", "E", "G", "A")
SEEDS = range(8)


@pytest.fixture(scope="session")
def toy():
    return load_toy(progress=False)


@pytest.fixture(scope="session")
def notes(toy):
    return note_probe(toy, QUICK)


def mean_accuracy(toy, terms, target: str) -> float:
    """Target accuracy over two prompts x eight seeds of 1 s clips."""
    scores = [clip_accuracies(steered(toy, terms, prompts=PROMPTS, duration_s=1.0, seed=seed), target)
              for seed in SEEDS]
    return float(np.mean(scores))


@pytest.fixture(scope="session")
def unsteered(toy):
    """The unsteered clips of every seed, shared by all targets."""
    return [steered(toy, (), prompts=PROMPTS, duration_s=1.0, seed=seed) for seed in SEEDS]


@pytest.mark.parametrize("target", TARGETS)
def test_steering_toward_a_pitch_class_reaches_it(toy, notes, unsteered, target):
    baseline = float(np.mean([clip_accuracies(generation, target) for generation in unsteered]))
    best = 0.0
    for strength in (1.0, 2.0):
        best = max(best, mean_accuracy(toy, (notes.term(strength, target=target),), target))
        if best >= 0.8:
            break
    assert baseline < 0.4, f"{target} already dominates unsteered music ({baseline:.2f})"
    assert best >= 0.8, f"steering toward {target} reached {best:.2f} (unsteered {baseline:.2f})"


def test_sequence_schedule_is_followed_segment_by_segment(toy, notes):
    _, _, scores = sequence_render(toy, notes, strength=QUICK.sequence_strength, prompt="happy piano", seed=0)
    assert [s.concept for s in scores] == ["C", "E", "G"]
    assert min(s.accuracy for s in scores) >= 0.7, [(s.concept, s.accuracy) for s in scores]


def test_zero_strength_leaves_the_output_unchanged(toy, notes):
    plain = steered(toy, (), prompts=PROMPTS, duration_s=1.0, seed=5)
    zero = steered(toy, (notes.term(0.0, target="E"),), prompts=PROMPTS, duration_s=1.0, seed=5)
    moved = steered(toy, (notes.term(1.0, target="E"),), prompts=PROMPTS, duration_s=1.0, seed=5)
    assert torch.equal(plain.codes, zero.codes) and torch.equal(plain.audio, zero.audio)
    assert not torch.equal(plain.codes, moved.codes)


def test_a_note_and_loudness_at_once_both_move(toy, notes):
    """The note probe and an energy probe (calm vs energetic toy music, the real pipeline) steered together:
    the target note gains frames and the audio gets louder than with the note alone and than unsteered."""
    energy = train_probe(toy.model, style_dataset(toy, "energy", 30), target="energetic",
                         search={"n_configs": 4, "max_iters": 3}, cache=False)

    def measure(*terms):
        generation = steered(toy, terms, prompts=["piano"] * 8, duration_s=2.0, seed=3)
        rms = generation.audio[:, 0].pow(2).mean(-1).sqrt().mean().item()
        return float(np.mean(clip_accuracies(generation, "E"))), rms

    note = notes.term(0.5, target="E")
    none, note_only, both = measure(), measure(note), measure(note, energy.term(0.5))
    assert both[0] > none[0] + 0.2, f"note accuracy with both {both[0]:.2f}, unsteered {none[0]:.2f}"
    assert both[1] > 1.2 * note_only[1] and both[1] > none[1], \
        f"RMS with both {both[1]:.3f}, note only {note_only[1]:.3f}, unsteered {none[1]:.3f}"


def test_style_dataset_refuses_an_unknown_attribute(toy):
    with pytest.raises(ValueError, match="attribute"):
        style_dataset(toy, "colour", 2)
