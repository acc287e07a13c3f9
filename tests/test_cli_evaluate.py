"""`musicrfm evaluate` through the CLI entry point: per-segment plots, basic-pitch transcription measures and
CLAP scores on a rendered folder whose audio is replaced by clips with known notes."""

import json
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from musicrfm.cli.main import main
from musicrfm.data.io import write_wav
from musicrfm.data.render import Renderer
from musicrfm.data.specs import ClipSpec, NoteEvent
from musicrfm.evaluation.clap import load_clap, save_tiny_clap
from musicrfm.evaluation import transcription
from musicrfm.jobs import read_manifest
from musicrfm.models import load_musicgen, read_audio
from tests.jobs_support import probe_library, save_tiny_model

SR = 32000
LABEL = "sequence:C-E-G"


def _notes(pitches: list[int]) -> np.ndarray:
    """One second of FluidSynth piano per pitch, in turn."""
    events = tuple(NoteEvent(p, float(i), i + 0.95, 100) for i, p in enumerate(pitches))
    with Renderer("fluidsynth", SR) as renderer:
        return renderer.render(ClipSpec(events, program=0, is_drum=False, duration_s=float(len(pitches))))


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """A C-E-G sequence job rendered at strengths 0 and 0.5 by the tiny model; item 0's audio is then
    replaced by C, E, G and item 1's by G, E, C, so every segment's right answer is known."""
    root = tmp_path_factory.mktemp("evaluate")
    model = save_tiny_model(root / "model")
    probe_library(root / "probes", load_musicgen(model, device="cpu"))
    job = {"prompts": ["calm"], "duration": 3.0, "seeds": [0], "metrics": False, "sampling": {"top_k": 20},
           "terms": [{"probe": "notes", "strength": [0.0, 0.5], "schedule": {
               "kind": "sequence", "crossfade": 0.2,
               "segments": [{"concept": "C", "start": 0.0, "end": 1.0}, {"concept": "E", "start": 1.0, "end": 2.0},
                            {"concept": "G", "start": 2.0}]}}]}
    (root / "jobs.yaml").write_text(yaml.safe_dump(job))
    out = root / "renders"
    assert main(["--quiet", "--probes", str(root / "probes"), "render", str(root / "jobs.yaml"), "--out", str(out),
                 "--model", str(model)]) == 0
    entries = sorted(read_manifest(out), key=lambda e: e["index"])
    for entry, pitches in zip(entries, ([60, 64, 67], [67, 64, 60])):
        write_wav(out / entry["file"], _notes(pitches), SR)
    return out, [entry["id"] for entry in entries]


def evaluate(capsys, folder, *options):
    code = main(["--quiet", "--json", "evaluate", str(folder), *options])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_segment_plots_and_transcription_measures(renders, capsys, tmp_path):
    folder, ids = renders
    code, result, _ = evaluate(capsys, folder, "--transcribe", "--report", str(tmp_path))
    assert code == 0
    right, swapped = result["rows"]
    for i, note in enumerate("CEG"):
        chroma, transcribed = f"{LABEL}.segment{i}_{note}_accuracy", f"{LABEL}.segment{i}_{note}_transcribed_accuracy"
        assert right[chroma] >= 0.9 and right[transcribed] >= 0.8, (note, right)
        if note != "E":  # the middle note is the same in both orders
            assert swapped[chroma] <= 0.1 and swapped[transcribed] <= 0.2, (note, swapped)
    plots = [tmp_path / f"{item}_sequence_C-E-G_segments.png" for item in ids]
    assert all(str(p) in result["files"] for p in plots)
    image = np.asarray(Image.open(plots[0]).convert("RGB"), dtype=float)
    assert image.std() > 10
    assert (tmp_path / "sequence_C-E-G_segment0_C_transcribed_accuracy_vs_strength.png").is_file()
    assert "segment2_G_transcribed_accuracy" in (tmp_path / "summary.md").read_text()


def test_transcribe_without_basic_pitch_is_one_clear_line(renders, capsys, monkeypatch):
    folder, _ = renders
    transcription._basic_pitch.cache_clear()
    monkeypatch.setitem(sys.modules, "basic_pitch", None)  # what a missing package looks like to import
    try:
        code, _, err = evaluate(capsys, folder, "--transcribe")
    finally:
        transcription._basic_pitch.cache_clear()
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("musicrfm: error: --transcribe: transcription needs basic-pitch") and "pip install" in err


def test_clap_scores_land_in_the_rows_and_the_summary(renders, capsys, tmp_path):
    folder, ids = renders
    clap = save_tiny_clap(tmp_path / "clap")
    code, result, _ = evaluate(capsys, folder, "--clap", str(clap), "--report", str(tmp_path / "report"))
    assert code == 0
    scorer = load_clap(clap)
    for row in result["rows"]:
        audio, rate = read_audio(folder / row["file"])
        assert row["clap"] == pytest.approx(scorer.score(audio.mean(axis=0), rate, "calm"), abs=1e-6)
    scores = [row["clap"] for row in result["rows"]]
    assert scores[0] != scores[1] and all(-1.0 <= s <= 1.0 for s in scores)
    header = (tmp_path / "report" / "summary.md").read_text().splitlines()[0]
    assert "| clap |" in header


def test_a_missing_clap_folder_is_a_usage_error(renders, capsys, tmp_path):
    folder, _ = renders
    code, _, err = evaluate(capsys, folder, "--clap", str(tmp_path / "nowhere"))
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
