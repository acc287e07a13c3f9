"""Every example job in schedules/ renders end to end through `musicrfm render` on the embedded toy model,
from an empty probe library: the toy's built-in notes, chords and tempo probes are trained on demand into
the default cache (once, like the toy model itself; see tests/test_toy_probes.py), so a fresh machine goes
from nothing to a rendered, evaluated grid with the quick start's two commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicrfm.cli.main import main
from musicrfm.jobs import expand, load_job, read_manifest
from musicrfm.models import read_audio

SCHEDULES = sorted((Path(__file__).parent.parent / "schedules").glob("*.yaml"))
TOY_SAMPLE_RATE = 16000


@pytest.fixture(scope="module")
def empty_library(tmp_path_factory):
    return tmp_path_factory.mktemp("no-probes")


@pytest.mark.parametrize("path", SCHEDULES, ids=lambda p: p.stem)
def test_every_example_job_renders_on_the_toy_model(path, empty_library, tmp_path, capsys):
    job = load_job(path)
    out = tmp_path / "renders"
    argv = ["--quiet", "--json", "--probes", str(empty_library), "render", str(path), "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    items = expand(job)
    assert json.loads(capsys.readouterr().out)["rendered"] == len(items)
    entries = read_manifest(out)
    assert sorted(e["id"] for e in entries) == sorted(item.id for item in items)
    for entry in entries:
        audio, rate = read_audio(out / entry["file"])
        assert rate == TOY_SAMPLE_RATE and audio.shape == (1, round(job.duration_s * rate)), entry["file"]
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0, entry["file"]
        assert entry["model"]["name"] == "toy"
        assert all("toy-probes" in Path(info["path"]).parts for info in entry["probes"].values())
        if job.metrics:
            assert entry["metrics"] and entry["targets"], entry["id"]
    assert main(argv) == 0 and json.loads(capsys.readouterr().out)["skipped"] == len(items)


def test_render_then_evaluate_from_nothing(empty_library, tmp_path, capsys):
    """The two commands on a fresh machine: the render says it uses the built-in probe, evaluate scores
    every item of the grid."""
    out = tmp_path / "r"
    job = Path(__file__).parent.parent / "schedules" / "ramp_in.yaml"
    assert main(["--probes", str(empty_library), "render", str(job), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "toy model's built-in 'notes' probe" in captured.err and "6 rendered" in captured.out
    assert main(["--quiet", "--json", "evaluate", str(out)]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 6 and {r["strength"] for r in rows} == {0.0, 0.3, 0.6}
    assert all(0.0 <= r["notes:C.note_accuracy"] <= 1.0 for r in rows)


def test_generate_steers_with_a_builtin_probe(empty_library, tmp_path, capsys):
    out = tmp_path / "c.wav"
    argv = ["--quiet", "--json", "--probes", str(empty_library), "generate", "calm piano", "--probe", "chords",
            "--target", "minor", "--duration", "1", "--out", str(out)]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["duration_s"] == 1.0
    audio, rate = read_audio(out)
    assert rate == TOY_SAMPLE_RATE and audio.shape == (1, rate) and np.isfinite(audio).all()


def test_a_missing_probe_on_another_model_says_how_to_train_it(empty_library, tmp_path, capsys):
    from tests.jobs_support import save_tiny_model

    model = save_tiny_model(tmp_path / "tiny")
    job = Path(__file__).parent.parent / "schedules" / "lfo.yaml"
    code = main(["--quiet", "--probes", str(empty_library), "render", str(job), "--out", str(tmp_path / "o"),
                 "--model", str(model)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "probe 'notes': not a bundle folder and not in the probe library" in err
    assert "musicrfm probe train --model MODEL --dataset DIR --name notes" in err
    assert not (tmp_path / "o" / "manifest.jsonl").exists()
