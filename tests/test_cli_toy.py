"""`musicrfm render --model toy` then `musicrfm evaluate`: the two commands of the README's quick start on
the embedded toy model (trained into the default cache on first use, as in tests/test_toy_steering.py),
steering with the demo's real note probe."""

import json

import numpy as np
import pytest
import yaml

from musicrfm.cli.main import main
from musicrfm.jobs import read_manifest
from musicrfm.models import read_audio
from musicrfm.probes import ProbeLibrary
from musicrfm.models.toy import load_toy
from musicrfm.toy.demo import QUICK, note_probe

TARGET = "E"


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    library = ProbeLibrary(tmp_path_factory.mktemp("toy-probes"))
    library.save(note_probe(load_toy(progress=False), QUICK), "notes")
    return library.root


def test_render_and_evaluate_on_the_toy_model(probes, tmp_path, capsys):
    job = {"prompts": ["happy piano", "sad flute energetic"], "duration": 1.0, "seeds": [0, 1], "metrics": True,
           "terms": [{"probe": "notes", "target": TARGET, "strength": [0.0, 2.0]}]}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    out = tmp_path / "renders"
    code = main(["--quiet", "--json", "--probes", str(probes), "render", str(tmp_path / "job.yaml"), "--out", str(out),
                 "--model", "toy"])
    assert code == 0 and json.loads(capsys.readouterr().out)["rendered"] == 8
    entries = read_manifest(out)
    audio, rate = read_audio(out / entries[0]["file"])
    assert {e["model"]["name"] for e in entries} == {"toy"} and rate == 16000 and audio.shape == (1, rate)
    code = main(["--quiet", "--json", "evaluate", str(out)])
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert code == 0 and len(rows) == 8
    column = f"notes:{TARGET}.note_accuracy"
    accuracy = {s: np.mean([r[column] for r in rows if r["strength"] == s]) for s in (0.0, 2.0)}
    assert accuracy[2.0] >= 0.7 and accuracy[2.0] > accuracy[0.0] + 0.3, accuracy
    assert (out / "evaluation" / f"notes_{TARGET}_note_accuracy_vs_strength.png").is_file()
