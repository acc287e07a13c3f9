"""Kill `musicrfm render` with SIGKILL mid-run, rerun it, and check nothing was lost, corrupted or redone;
and check that every example job file in schedules/ validates."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from musicrfm.cli.main import main
from musicrfm.jobs import batches, expand, load_job, read_manifest
from musicrfm.models import load_musicgen
from tests.jobs_support import probe_library, save_tiny_model

SCHEDULES = sorted((Path(__file__).parent.parent / "schedules").glob("*.yaml"))


def test_killed_render_resumes_without_loss_or_rework(tmp_path):
    model = save_tiny_model(tmp_path / "model")
    probe_library(tmp_path / "probes", load_musicgen(model, device="cpu"))
    job = tmp_path / "jobs.yaml"
    job.write_text(yaml.safe_dump({
        "prompts": ["calm"], "duration": 0.3, "seeds": list(range(12)), "batch_size": 1,
        "sampling": {"top_k": 20}, "terms": [{"probe": "notes", "target": "E", "strength": 0.5}]}))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "musicrfm", "--quiet", "--probes", str(tmp_path / "probes"), "render", str(job),
               "--out", str(out), "--model", str(model)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while not (manifest.is_file() and manifest.read_text().count("\n") >= 2) and process.poll() is None:
        assert time.monotonic() < deadline, "the render never finished an item"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()

    finished = {e["id"]: e for e in read_manifest(out)}
    assert 2 <= len(finished) < 12
    for entry in finished.values():  # every finished item is whole and readable
        data, rate = sf.read(out / entry["file"])
        assert rate == 32000 and len(data) == round(0.3 * rate)
    for path in (out / "audio").glob("[!.]*"):  # no half-written file under a final name
        sf.read(path)
    stamps = {i: (out / e["file"]).stat().st_mtime_ns for i, e in finished.items()}

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    entries = read_manifest(out)
    all_ids = {item.id for item in expand(dataclasses.replace(load_job(job), model=str(model)))}
    assert {e["id"] for e in entries} == all_ids
    assert {i: (out / finished[i]["file"]).stat().st_mtime_ns for i in finished} == stamps  # not re-rendered
    lines = [json.loads(line)["id"] for line in manifest.read_text().splitlines()]
    assert all(lines.count(i) == 1 for i in finished)


@pytest.mark.parametrize("path", SCHEDULES, ids=lambda p: p.name)
def test_example_job_files_validate(path, capsys):
    job = load_job(path)
    assert job.terms and job.model == "toy" and batches(job, expand(job))
    assert path.read_text().lstrip().startswith("#")  # each example documents itself
    assert main(["--quiet", "--json", "render", str(path), "--out", "unused", "--dry-run"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(expand(job))


def test_example_files_cover_the_documented_kinds():
    kinds = {p.stem for p in SCHEDULES}
    assert kinds >= {"ramp_in", "fade_out", "lfo", "note_sequence_ceg", "chord_progression_1_5_6_4", "tempo_swell",
                     "two_concepts", "long_form_60s"}
    assert load_job(Path(__file__).parent.parent / "schedules" / "long_form_60s.yaml").duration_s == 60.0
