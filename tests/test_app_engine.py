"""The engine without HTTP: Stop interrupts a running generation cleanly, and the task lock is released."""

import threading

import pytest
import torch

from musicrfm.app import CancelToken, Cancelled
from musicrfm.app.generation import render_clip
from musicrfm.app.terms import GenerationSettings
from tests.app_support import tiny_engine

TERMS = [{"probe": "notes", "target": "C", "strength": 1.0}]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return tiny_engine(tmp_path_factory.mktemp("engine"))


def hooks_left(engine):
    model = engine.model("toy").model
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_stop_interrupts_generation_and_leaves_the_model_clean(engine):
    settings = GenerationSettings("toy", "calm", 0.6, seed=1)
    token, seen = CancelToken(), []

    def progress(fraction, _):
        seen.append(fraction)
        if len(seen) == 5:
            token.cancel()  # as the Stop button does, mid-decoding

    with pytest.raises(Cancelled):
        render_clip(engine, settings, TERMS, token, progress)
    assert len(seen) == 5 and hooks_left(engine) == 0
    # The lock was released: another request runs at once and completes.
    finished = threading.Event()
    worker = threading.Thread(target=lambda: (render_clip(engine, settings, TERMS, CancelToken()), finished.set()))
    worker.start()
    worker.join(timeout=60)
    assert finished.is_set()


def test_a_stopped_token_refuses_before_loading_the_lock(engine):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        render_clip(engine, GenerationSettings("toy", "x", 0.2), [], token)
    assert render_clip(engine, GenerationSettings("toy", "x", 0.2), [], CancelToken()).steered.is_file()


def test_engine_refuses_bad_configuration(tmp_path):
    from musicrfm.app import AppEngine

    with pytest.raises(TypeError, match="loader must be callable"):
        AppEngine(loader="toy")
    with pytest.raises(ValueError, match="dataset_backend"):
        AppEngine(dataset_backend="midi")
    engine = AppEngine(loader=lambda name: torch.nn.Linear(1, 1))
    with pytest.raises(TypeError, match="not a MusicGen"):
        engine.model("toy")
