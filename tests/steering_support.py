"""Shared fixture for the steering tests: a tiny MusicGen run on one thread."""

import pytest
import torch

from musicrfm.models.tiny import tiny_musicgen


@pytest.fixture(scope="module")
def model():
    """Tiny 32 kHz / 50 Hz MusicGen (seed 0) with torch pinned to one thread for the module.

    Tiny matrices: one thread avoids OpenMP oversubscription on shared CPUs (20x slower there).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_musicgen(seed=0)
    torch.set_num_threads(threads)
