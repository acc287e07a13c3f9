"""The musicrfm command line end to end on a tiny MusicGen saved to disk and tiny probe bundles."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from musicrfm.cli import parsers
from musicrfm.cli.main import build_parser, main
from musicrfm.jobs import read_manifest
from musicrfm.models import load_musicgen, read_audio
from tests.jobs_support import probe_library, save_tiny_model

COMMANDS = [["dataset"], ["dataset", "make"], ["probe"], ["probe", "train"], ["probe", "list"], ["probe", "show"],
            ["generate"], ["render"], ["evaluate"], ["detect"]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model = save_tiny_model(root / "model")
    probe_library(root / "probes", load_musicgen(model, device="cpu"))
    return root


def run(setup, capsys, *argv):
    code = main(["--quiet", "--probes", str(setup / "probes"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_job(path, **fields):
    job = {"prompts": ["calm", "loud"], "duration": 0.2, "seeds": [0], "batch_size": 2, "metrics": True,
           "sampling": {"top_k": 20, "guidance_scale": 2.0},
           "terms": [{"probe": "notes", "target": "C", "strength": [0.0, 0.6]}], **fields}
    path.write_text(yaml.safe_dump(job))
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "usage: musicrfm" in out
    if command[-1] not in ("dataset", "probe", "list", "show"):
        assert "examples:" in out


def test_top_level_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "exit codes: 0 ok, 1 runtime failure, 2 usage or validation error, 130 interrupted" in capsys.readouterr().out


def test_delegated_commands_appear_only_when_their_extra_is_installed(capsys, monkeypatch):
    choices = build_parser()._subparsers._group_actions[0].choices
    assert ("demo" in choices) == (importlib.util.find_spec("matplotlib") is not None)
    assert ("app" in choices) == (importlib.util.find_spec("gradio") is not None)
    if "app" in choices:  # options after the command reach the app's own parser untouched
        with pytest.raises(SystemExit) as exit_info:
            main(["--quiet", "app", "--port", "0"])
        assert exit_info.value.code == 2 and "--port must lie in 1..65535" in capsys.readouterr().err
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "gradio" else real_find_spec(name))
    assert "app" not in build_parser()._subparsers._group_actions[0].choices


def test_probe_list_and_show(setup, capsys):
    code, out, _ = run(setup, capsys, "--json", "probe", "list")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == ["minor", "notes"]
    assert rows[1]["target"] == "C/E/G" and rows[0]["task"] == "binary"
    code, out, _ = run(setup, capsys, "probe", "show", "notes")
    assert code == 0 and "concept: notes" in out and "layer" in out
    code, out, _ = run(setup, capsys, "--json", "probe", "show", str(setup / "probes" / "minor"))
    assert code == 0 and json.loads(out)["concept"] == "chords"


def test_generate_writes_steered_audio(setup, capsys, tmp_path):
    out_file = tmp_path / "c.wav"
    code, out, _ = run(setup, capsys, "--json", "--seed", "3", "generate", "calm piano", "--model", str(setup / "model"),
                       "--duration", "0.2", "--top-k", "20", "--probe", "notes", "--target", "C", "--strength", "20",
                       "--layers", "top_k:1", "--schedule", "{kind: linear_ramp, start: 0, end: 0.2}", "--out",
                       str(out_file))
    audio, rate = read_audio(out_file)
    assert code == 0 and json.loads(out)["file"] == str(out_file) and audio.shape == (1, round(0.2 * rate))
    plain = tmp_path / "plain.wav"
    assert run(setup, capsys, "--seed", "3", "generate", "calm piano", "--model", str(setup / "model"),
               "--duration", "0.2", "--top-k", "20", "--out", str(plain))[0] == 0
    assert plain.read_bytes() != out_file.read_bytes()


def test_render_then_evaluate(setup, capsys, tmp_path):
    job = write_job(tmp_path / "jobs.yaml")
    out_dir = tmp_path / "renders"
    code, out, _ = run(setup, capsys, "--json", "render", str(job), "--out", str(out_dir), "--model",
                       str(setup / "model"))
    assert code == 0 and json.loads(out)["rendered"] == 4
    code, out, _ = run(setup, capsys, "--json", "render", str(job), "--out", str(out_dir), "--model",
                       str(setup / "model"))
    assert json.loads(out) | {"seconds": 0} == json.loads(out) | {"rendered": 0, "skipped": 4, "seconds": 0}
    code, out, _ = run(setup, capsys, "--json", "evaluate", str(out_dir))
    result = json.loads(out)
    assert code == 0 and len(result["rows"]) == 4
    assert all("notes:C.note_accuracy" in row for row in result["rows"])
    names = sorted(p.name for p in (out_dir / "evaluation").iterdir())
    assert names == ["notes_C_note_accuracy_vs_strength.png", "summary.csv", "summary.md"]
    code, out, _ = run(setup, capsys, "--json", "evaluate", str(out_dir), "--target", "chord:minor")
    assert code == 0 and set(json.loads(out)["rows"][0]) >= {"chord:minor.chord_accuracy"}


def test_detect_scores_every_class_over_time(setup, capsys, tmp_path):
    job = write_job(tmp_path / "jobs.yaml", duration=0.6, prompts=["calm"], terms=[])
    run(setup, capsys, "render", str(job), "--out", str(tmp_path / "r"), "--model", str(setup / "model"))
    (entry,) = read_manifest(tmp_path / "r")
    code, out, _ = run(setup, capsys, "--json", "detect", str(tmp_path / "r" / entry["file"]), "--probe", "notes",
                       "--model", str(setup / "model"), "--window", "0.4", "--hop", "0.2", "--plot",
                       str(tmp_path / "d.png"))
    rows = json.loads(out)
    assert code == 0 and [(r["start_s"], r["end_s"]) for r in rows] == [(0.0, 0.4), (0.2, 0.6)]
    assert set(rows[0]) == {"start_s", "end_s", "C", "E", "G"} and (tmp_path / "d.png").is_file()


def test_dataset_make_and_probe_train(setup, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICRFM_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    code, out, _ = run(setup, capsys, "--json", "dataset", "make", "notes", "--out", str(data), "--n-per-class", "5",
                       "--classes", "C,E", "--duration", "0.5", "--backend", "numpy")
    assert code == 0 and json.loads(out)["n_clips"] == 10 and (data / "dataset.json").is_file()
    library = tmp_path / "lib"
    code, out, _ = main(["--quiet", "--json", "--probes", str(library), "probe", "train", "--model",
                         str(setup / "model"), "--dataset", str(data), "--configs", "2", "--iters", "1", "--k", "1"]), \
        *capsys.readouterr()[:1], None
    assert code == 0 and json.loads(out)["name"] == "notes" and json.loads(out)["task"] == "binary"
    assert (library / "notes" / "probe.json").is_file()


@pytest.mark.parametrize(("argv", "message"), [
    (["render", "JOB", "--out", "OUT", "--shard", "0/3"], "--shard must look like i/n"),
    (["render", "BADJOB", "--out", "OUT"], "jobs.yaml: terms[0].strenght: unknown field"),
    (["render", "JOB", "--out", "OUT", "--model", "/no/such/model"], "model folder '/no/such/model' does not exist"),
    (["generate", "x", "--out", "a.mp3"], "--out must end in .wav or .flac"),
    (["generate", "x", "--out", "a.wav", "--probe", "nothing", "--model", "MODEL"], "probe 'nothing': not a bundle"),
    (["generate", "x", "--out", "a.wav", "--probe", "notes", "--target", "D", "--model", "MODEL"],
     "target must name one of the probe's classes"),
    (["generate", "x", "--out", "a.wav", "--probe", "notes", "--layers", "top_k:x"], "--layers top_k must be"),
    (["evaluate", "EMPTY"], "holds no render manifest entries"),
    (["probe", "show", "ghost"], "no probe named 'ghost'"),
    (["render", "JOB", "--out"], "argument --out: expected one argument"),
    (["render", "JOB", "--out", "OUT", "--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_errors_exit_2_with_one_line(setup, capsys, tmp_path, argv, message):
    write_job(tmp_path / "jobs.yaml")
    bad = tmp_path / "bad" / "jobs.yaml"
    bad.parent.mkdir()
    write_job(bad, terms=[{"probe": "notes", "strenght": 1}])
    (tmp_path / "empty").mkdir()
    paths = {"JOB": str(tmp_path / "jobs.yaml"), "BADJOB": str(bad), "OUT": str(tmp_path / "out"),
             "MODEL": str(setup / "model"), "EMPTY": str(tmp_path / "empty")}
    argv = [paths.get(a, a) for a in argv]
    with pytest.raises(SystemExit) if "argument" in message or "unrecognized" in message else _no_exit() as info:
        code = main(["--quiet", "--probes", str(setup / "probes"), *argv])
    code = info.value.code if hasattr(info, "value") else code
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("musicrfm: error: ") and message in err and "\n" not in err


def test_runtime_failures_exit_1(setup, capsys, tmp_path, monkeypatch):
    job = write_job(tmp_path / "jobs.yaml")

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr("musicrfm.cli.render_commands.render_job", broken)
    code, _, err = run(setup, capsys, "render", str(job), "--out", str(tmp_path / "o"), "--model", str(setup / "model"))
    assert code == 1 and err.strip() == "musicrfm: error: RuntimeError: CUDA out of memory"
    with pytest.raises(RuntimeError):
        main(["--debug", "--quiet", "--probes", str(setup / "probes"), "render", str(job), "--out",
              str(tmp_path / "o"), "--model", str(setup / "model")])


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["render", "--help"], ["probe", "train", "--help"]])
def test_help_and_version_answer_without_loading_torch(argv):
    code = ("import sys\nfrom musicrfm.cli.main import main\ntry:\n    main(%r)\nexcept SystemExit as e:\n"
            "    assert e.code == 0\nprint('torch' in sys.modules, 'transformers' in sys.modules)" % argv)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_files_that_help_texts_cite_exist():
    """Every repository file an example names (schedules/..., examples/...) is there to try."""
    root = Path(parsers.__file__).resolve().parents[2]
    texts = [value for name, value in vars(parsers).items() if name.endswith("EPILOG")]
    cited = {m for text in texts for m in re.findall(r"\b(?:schedules|examples)/[\w./-]+\.\w+", text)}
    assert cited and [path for path in sorted(cited) if not (root / path).is_file()] == []
