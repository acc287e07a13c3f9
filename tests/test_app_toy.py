"""The app on the embedded toy model (trained once into the default cache, see tests/test_toy_steering.py),
through gradio_client: a probe trained in the app on the toy steers a generation, and a generation made
while a training is underway is the one made alone."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
from gradio_client import Client

from musicrfm.models import MusicGen
from musicrfm.models.toy import load_toy
from tests.app_support import hooks_left, paused_forward, running_app, single_model_engine

SECONDS = 1.2
SEED = 4


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    toy = load_toy(progress=False)
    model = MusicGen.from_model(toy.model, tokenizer=toy.tokenizer, name="toy")
    return single_model_engine(model, tmp_path_factory.mktemp("toy-app"))


@pytest.fixture(scope="module")
def client(engine):
    with running_app(engine) as url:
        yield Client(url, verbose=False)


def train(client, name, seed=0):
    """A binary E-vs-rest note probe on the toy, trained by the app's own endpoint."""
    return client.predict("toy", "notes", "C, E, G", "E", 8, 1.0, "all", "quick", seed, name, api_name="/train_probe")


@pytest.fixture(scope="module")
def terms(client):
    _, info, _ = train(client, "toy_e")
    assert info["task"] == "binary" and info["layers"] == [0, 1, 2, 3] and info["model"]["name"] == "toy"
    return client.predict([], "toy_e", "E", 2.0, "all", "constant", "value: 1.0", None, api_name="/add_term")


def generate(client, terms):
    """(unsteered, steered) audio of one request, with the sample rate."""
    plain, steered, _, metrics, _ = client.predict("toy", "happy piano", SECONDS, SEED, 250, 1.0, 3.0, terms,
                                                   api_name="/generate")
    (a, rate), (b, _) = sf.read(plain, dtype="float32"), sf.read(steered, dtype="float32")
    return a, b, rate, metrics


def test_a_probe_trained_on_the_toy_steers_its_generation(client, engine, terms):
    plain, steered, rate, metrics = generate(client, terms)
    model = engine.model("toy")
    assert rate == model.sample_rate
    assert plain.shape == steered.shape == (round(SECONDS * model.frame_rate) * rate // model.frame_rate,)
    assert np.isfinite(steered).all() and np.abs(steered).max() > 0
    assert not np.array_equal(plain, steered)
    assert metrics["data"][0][0] == "notes:E.note_accuracy"
    assert all(0.0 <= value <= 1.0 for value in metrics["data"][0][1:])


def test_a_generation_during_a_training_is_the_one_made_alone(client, engine, terms):
    """The training is held inside its first decoder forward on the twin (capture hooks in place) while the
    generation runs; both then finish."""
    alone = generate(client, terms)
    with ThreadPoolExecutor(1) as pool:
        with paused_forward(engine.twin("toy")) as paused:
            training = pool.submit(train, client, "toy_e_seed1", 1)  # another seed: extracts, no cache hit
            assert paused.wait(60)
            during = generate(client, terms)
            assert not training.done()
        _, info, _ = training.result(timeout=60)
    for made_alone, made_during in zip(alone[:2], during[:2]):
        np.testing.assert_array_equal(made_during, made_alone)
    assert info["dataset"]["split_seed"] == 1 and "toy_e_seed1" in engine.library.list()
    assert hooks_left(engine.model("toy")) == hooks_left(engine.twin("toy")) == 0
