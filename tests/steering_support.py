"""Shared fixture for the steering tests: a tiny MusicGen."""

import pytest

from musicrfm.models.random_weights import tiny_musicgen


@pytest.fixture(scope="module")
def model():
    """Tiny 32 kHz / 50 Hz MusicGen (seed 0)."""
    return tiny_musicgen(seed=0)
