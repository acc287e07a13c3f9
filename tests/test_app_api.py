"""The app through its HTTP API (gradio_client) on a tiny model: steering, the job file, concurrency,
uploads refused with messages, probe training, cancelling from the client, and the AGOP lab."""

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status

from tests.app_support import hooks_left, recorded_forwards, running_app, tiny_engine, wait_for
from musicrfm.jobs import load_job, read_manifest, render_job

DURATION = 0.4


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return tiny_engine(tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def client(engine):
    with running_app(engine) as url:
        yield Client(url, verbose=False)


def add_term(client, target="E", strength=2.0, kind="linear_ramp", params="start: 0\nend: 0.2", file=None, rows=()):
    return client.predict(list(rows), "notes", target, strength, "all", kind, params, file, api_name="/add_term")


def generate(client, terms, seed=3, duration=DURATION):
    return client.predict("toy", "calm piano", duration, seed, 250, 1.0, 3.0, terms, api_name="/generate")


def audio(path):
    return sf.read(path, dtype="float32")[0]


def test_generate_steers_and_its_job_file_renders_the_same_audio(client, engine, tmp_path):
    terms = add_term(client)
    assert terms == [{"probe": "notes", "strength": 2.0, "layers": "all", "target": "E", "schedule": {
        "kind": "linear_ramp", "unit": "seconds", "frame_rate": 50.0, "start": 0.0, "end": 0.2, "from_value": 0.0,
        "to_value": 1.0}}]
    plain, steered, chroma, metrics, files = generate(client, terms)
    assert chroma["type"] == "matplotlib" and chroma["plot"].startswith("data:image")
    assert metrics["data"][0][0] == "notes:E.note_accuracy"
    assert not np.array_equal(audio(plain), audio(steered))
    job_file = next(f for f in files if f.endswith("job.yaml"))
    job = load_job(job_file)
    assert job.model == "toy" and job.terms[0].strengths == (2.0,)
    report = render_job(job, engine.model("toy"), tmp_path / "render", library=engine.library)
    rendered = tmp_path / "render" / read_manifest(tmp_path / "render")[0]["file"]
    assert report.rendered == 1
    np.testing.assert_array_equal(audio(rendered), audio(steered))


def test_strength_plot_and_unsteered_only_request(client):
    terms = add_term(client, kind="sequence", target="", params="segments:\n  - {concept: C, start: 0, end: 0.2}\n"
                                                                 "  - {concept: G, start: 0.2}")
    assert "target" not in terms[0]
    assert client.predict("toy", DURATION, terms, api_name="/strength_plot")["type"] == "matplotlib"
    plain, steered, _, metrics, files = generate(client, [])
    assert plain == steered and len(files) == 2
    assert metrics["data"][0][0].startswith("no measurable target")


def test_simultaneous_requests_each_get_their_own_plan(client):
    plans = [add_term(client, target=t, strength=s) for t, s in (("C", 3.0), ("E", -3.0), ("G", 1.5))] + [[]]
    with ThreadPoolExecutor(len(plans)) as pool:
        together = list(pool.map(lambda terms: generate(client, terms, seed=5), plans))
    alone = [generate(client, terms, seed=5) for terms in plans]
    for both, single in zip(together, alone):
        np.testing.assert_array_equal(audio(both[1]), audio(single[1]))
        np.testing.assert_array_equal(audio(both[0]), audio(single[0]))
    steered = [audio(result[1]) for result in alone]
    assert all(not np.array_equal(steered[i], steered[j]) for i in range(4) for j in range(i + 1, 4))


@pytest.mark.parametrize("terms, message", [
    ([{"probe": "missing", "strength": 1.0}], "not in the probe library"),
    ([{"probe": "../notes", "strength": 1.0}], "not a path"),
    ([{"probe": "notes", "strength": [0.1, 0.2], "target": "C"}], "one strength per term"),
    ([{"probe": "notes", "strength": 1.0, "target": "C", "schedule": "/etc/passwd"}], "schedule mapping"),
])
def test_bad_terms_are_refused_with_a_message(client, terms, message):
    with pytest.raises(AppError, match=message):
        generate(client, terms)


def test_add_term_takes_only_library_probes(client, engine):
    with pytest.raises(AppError, match="'ghost' is not in the probe library"):
        client.predict([], "ghost", "C", 1.0, "all", "constant", "value: 1", None, api_name="/add_term")


def test_duration_over_the_limit_is_refused(client):
    with pytest.raises(AppError, match="greater than maximum value 30"):
        generate(client, [], duration=120.0)


def test_schedule_file_upload_is_validated(client, tmp_path):
    good = tmp_path / "ramp.yaml"
    good.write_text("kind: linear_ramp\nstart: 0\nend: 0.3\n")
    terms = add_term(client, kind="from file", file=handle_file(str(good)))
    assert terms[0]["schedule"]["end"] == 0.3
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: wobble\nrate: 2\n")
    with pytest.raises(AppError, match="unknown kind 'wobble'"):
        add_term(client, kind="from file", file=handle_file(str(bad)))
    text = tmp_path / "notes.txt"
    text.write_text("kind: constant\n")
    with pytest.raises(AppError, match="Invalid file type"):
        add_term(client, kind="from file", file=handle_file(str(text)))
    with pytest.raises(AppError, match="to_value"):
        add_term(client, params="start: 0\nend: 1\nto_value: nan")


def fit(client, file=None, target="target", dataset="iris"):
    upload = None if file is None else handle_file(str(file))
    return client.predict(dataset, upload, target, "laplace", 10.0, 1e-3, 2, False, False, api_name="/lab_fit")


def test_lab_fits_bundled_and_uploaded_tables(client, tmp_path):
    summary, history, importances, spectrum = fit(client, dataset="two_of_twenty")
    assert "classification" in summary and "x3" in summary.split("top features:")[1]
    assert {history["type"], importances["type"], spectrum["type"]} == {"matplotlib"}
    table = tmp_path / "table.csv"
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(60, 3))
    table.write_text("a,b,c,y\n" + "\n".join(f"{a},{b},{c},{2 * a - b}" for a, b, c in rows))
    columns = client.predict("iris", handle_file(str(table)), api_name="/lab_columns")
    assert columns["value"] == "y" and [c[0] for c in columns["choices"]] == ["a", "b", "c", "y"]
    assert "regression" in fit(client, table, target="y")[0]


@pytest.mark.parametrize("content, target, message", [
    ("a,b,label\n" + "\n".join(f"{i},x{i},{i % 2}" for i in range(30)), "label", "columns b are not numeric"),
    ("a,b\n" + "\n".join(f"{i},{i % 2}" for i in range(30)), "target", "column 'target' is not in the table"),
    ("a,target\n" + "\n".join(f"{i},{i % 2}" for i in range(30)) + "\n,1\n", "target", "empty or NaN"),
    ("a,target\n1,0\n2,1\n", "target", "has 2 rows"),
    ("a,target\n" + "123456789.123456789,0\n" * 120_000, "target", "2.6 MB is over the 2.0 MB limit"),
])
def test_bad_csv_uploads_show_a_message(client, tmp_path, content, target, message):
    path = tmp_path / "upload.csv"
    path.write_text(content)
    with pytest.raises(AppError, match=message):
        fit(client, path, target=target)


def test_modular_demo_shows_the_jump(client):
    summary, accuracy, matrix = client.predict(19, 0.75, 10, api_name="/modular")
    assert summary.startswith("test accuracy 0.00 at round 0, 1.00 at best; crosses 0.9 at round")
    assert accuracy["type"] == matrix["type"] == "matplotlib"


def test_train_probe_saves_to_the_library(client, engine):
    scores, info, picker = client.predict("toy", "notes", "C, D, E", "D", 5, 0.5, "all", "quick", 0, "d_probe",
                                          api_name="/train_probe")
    assert scores["type"] == "matplotlib" and info["task"] == "binary" and info["target"] == "D"
    assert "d_probe" in engine.library.list() and picker["value"] == "d_probe"
    _, shown = client.predict("d_probe", api_name="/probe_info")
    assert shown["layers"] == [0, 1]
    with pytest.raises(AppError, match="less than minimum value 5"):
        client.predict("toy", "notes", "", "", 2, 0.5, "all", "quick", 0, "few", api_name="/train_probe")
    with pytest.raises(AppError, match="name must be"):
        client.predict("toy", "notes", "", "", 5, 0.5, "all", "quick", 0, "../x", api_name="/train_probe")


def cancelled_midway(client, model, args, api_name, after: int) -> tuple[int, int, str]:
    """Submit a request, cancel it from the client once `model` has run `after` decoder forwards (each slowed
    to 20 ms) and the client has seen progress; returns the forwards seen when `job.cancel()` was called and
    when it returned, and the progress text."""
    with recorded_forwards(model, delay_s=0.02) as calls:
        job = client.submit(*args, api_name=api_name)
        wait_for(lambda: len(calls) >= after and bool(job.status().progress_data))
        shown = job.status().progress_data[0].desc
        asked = len(calls)
        job.cancel()
        returned = len(calls)
        time.sleep(0.3)
        assert len(calls) == returned, "the work went on after the cancel returned"
        wait_for(job.done, timeout_s=10)
        assert job.status().code == Status.CANCELLED
    return asked, returned, shown


def test_cancel_from_the_client_stops_the_generation_and_the_next_one_runs(client, engine):
    model = engine.model("toy")
    terms = add_term(client, target="G")
    # 20 s asks for ~2000 forwards over the two renders; the cancel lands within a few of them.
    asked, returned, shown = cancelled_midway(client, model, ("toy", "calm", 20.0, 3, 250, 1.0, 3.0, terms),
                                              "/generate", after=5)
    assert returned - asked <= 5 and shown == "decoding" and hooks_left(model) == 0
    plain, steered, *_ = generate(client, terms, seed=3)
    assert len(audio(steered)) == round(DURATION * 50) * 640 and not np.array_equal(audio(plain), audio(steered))


def test_cancel_from_the_client_stops_a_training_and_the_next_one_runs(client, engine):
    twin = engine.twin("toy")
    args = ("toy", "notes", "C, D, E", "", 30, 1.0, "all", "quick", 7, "cancelled_probe")
    asked, returned, shown = cancelled_midway(client, twin, args, "/train_probe", after=2)
    assert returned - asked <= 5 and shown == "extracting activations" and hooks_left(twin) == 0
    assert "cancelled_probe" not in engine.library.list()
    _, info, _ = client.predict("toy", "notes", "C, D, E", "E", 5, 0.5, "all", "quick", 8, "after_cancel",
                                api_name="/train_probe")
    assert info["target"] == "E" and "after_cancel" in engine.library.list()
