"""The engine without HTTP: Stop interrupts a running generation cleanly and releases the lock; training
runs on a twin of the model beside generation, neither seeing the other's hooks, one training at a time."""

import dataclasses
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrfm.app import CancelToken, Cancelled, training_twin
from musicrfm.app.generation import render_clip
from musicrfm.app.terms import GenerationSettings
from musicrfm.app.training import TrainRequest, train_and_save
from tests.app_support import hooks_left, paused_forward, recorded_forwards, steering, tiny_engine, tiny_model

TERMS = [{"probe": "notes", "target": "C", "strength": 1.0}]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return tiny_engine(tmp_path_factory.mktemp("engine"))


REQUEST = TrainRequest("toy", "notes", name="d", classes="C, D, E", target="D", n_per_class=5, duration_s=0.5)


def test_stop_interrupts_generation_and_leaves_the_model_clean(engine):
    settings = GenerationSettings("toy", "calm", 0.6, seed=1)
    token, seen = CancelToken(), []

    def progress(fraction, _):
        seen.append(fraction)
        if len(seen) == 5:
            token.cancel()  # as the Stop button does, mid-decoding

    with pytest.raises(Cancelled):
        render_clip(engine, settings, TERMS, token, progress)
    assert len(seen) == 5 and hooks_left(engine.model("toy")) == 0
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


def test_the_training_twin_shares_weights_but_not_hooks():
    model = tiny_model()
    twin = training_twin(model)
    pairs = list(zip(model.model.parameters(), twin.model.parameters(), strict=True))
    assert all(a is b for a, b in pairs) and twin.model.decoder is not model.model.decoder
    assert twin.name == model.name and twin.fingerprint == model.fingerprint
    fired = []
    twin.layers[0].register_forward_hook(lambda *args: fired.append(1))
    model.model.generate(max_new_tokens=6, do_sample=False)
    assert fired == []
    with pytest.raises(ValueError, match=r"cannot twin a model with hooks on \['decoder.model.decoder.layers.0'\]"):
        training_twin(twin)
    with pytest.raises(TypeError, match="model must be a MusicGen"):
        training_twin(model.model)


def audio(path):
    return sf.read(path, dtype="float32")[0]


def test_training_beside_a_paused_steered_generation_is_unchanged_and_so_is_the_generation(engine):
    """The generation is held inside its first steered decoder forward, so its steering and checkpoint hooks are on
    the model the whole time the training extracts: neither run may notice the other."""
    settings = GenerationSettings("toy", "calm", 0.3, seed=4)
    alone_clip = render_clip(engine, settings, TERMS, CancelToken())
    alone_probe = train_and_save(engine, REQUEST, CancelToken())
    shutil.rmtree(engine.cache_dir)  # so the second training extracts again rather than reading the cache
    model = engine.model("toy")
    with ThreadPoolExecutor(1) as pool, paused_forward(model, when=lambda: steering(model)) as paused:
        generation = pool.submit(render_clip, engine, settings, TERMS, CancelToken())
        assert paused.wait(60)
        beside = train_and_save(engine, dataclasses.replace(REQUEST, name="d_beside"), CancelToken())
        assert not generation.done()
    clip = generation.result(timeout=60)
    assert torch.equal(beside.vectors, alone_probe.vectors) and beside.val_scores == alone_probe.val_scores
    np.testing.assert_array_equal(audio(clip.steered), audio(alone_clip.steered))
    assert hooks_left(engine.model("toy")) == hooks_left(engine.twin("toy")) == 0


def test_two_trainings_take_turns(engine):
    """The first forward of whichever training starts first lingers; the other must still not interleave."""
    requests = [dataclasses.replace(REQUEST, name=f"turn{seed}", seed=seed) for seed in (11, 12)]
    with recorded_forwards(engine.twin("toy"), first_delay_s=1.0) as calls, ThreadPoolExecutor(2) as pool:
        probes = list(pool.map(lambda request: train_and_save(engine, request, CancelToken()), requests))
    runs = [thread for i, thread in enumerate(calls) if i == 0 or calls[i - 1] != thread]
    assert len(set(calls)) == 2 and len(runs) == 2, f"interleaved forwards: {calls}"
    assert [p.dataset["split_seed"] for p in probes] == [11, 12]
    assert {"turn11", "turn12"} <= set(engine.library.list())


def test_a_cancelled_training_stops_between_forwards_and_saves_nothing(engine):
    token = CancelToken()
    request = dataclasses.replace(REQUEST, name="stopped", seed=21, n_per_class=20)
    cached = sorted(engine.cache_dir.glob("*"))
    with recorded_forwards(engine.twin("toy")) as calls:
        def cancel_at_second(module, args):
            if len(calls) == 2:
                token.cancel()

        handle = engine.twin("toy").model.decoder.model.decoder.register_forward_pre_hook(cancel_at_second)
        try:
            with pytest.raises(Cancelled):
                train_and_save(engine, request, token)
        finally:
            handle.remove()
    # The engine's checkpoint runs after the test's hooks, so the forward that asked to stop never ran.
    assert len(calls) == 2 and "stopped" not in engine.library.list()
    assert hooks_left(engine.twin("toy")) == 0
    assert sorted(engine.cache_dir.glob("*")) == cached  # no new entry, no half-written .part file
