"""Test-wide settings."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tests' tensors are tiny: one thread avoids OpenMP oversubscription, which made tiny-model
    generation and the codec's convolutions up to 20x slower on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
