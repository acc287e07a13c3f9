"""`musicrfm demo --quick` end to end (toy model and note probe from the default cache after the first run)."""

from __future__ import annotations

import os
import re

import pytest
import soundfile as sf

from musicrfm.cli.main import main as cli_main
from musicrfm.toy.demo import DemoConfig, main


def test_quick_demo_writes_audio_plots_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--quick", "--out", str(out), "--seed", "1"]) == 0
    names = {"unsteered.wav", "steered_C.wav", "sequence_C_E_G.wav", "accuracy_vs_strength.png",
             "sequence_chromagram.png", "report.md"}
    assert names <= {p.name for p in out.iterdir()}
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "a temporary file was left behind"
    audio, rate = sf.read(out / "sequence_C_E_G.wav")
    assert rate == 16000 and len(audio) == 6 * rate
    report = (out / "report.md").read_text()
    best = float(re.search(r"Best strength [\d.]+: accuracy ([\d.]+) \(unsteered ([\d.]+)\)", report).group(1))
    assert best >= 0.8
    assert "## Sequence schedule C -> E -> G" in report and "| E |" in report
    strength = re.search(r"Best strength ([\d.]+)", report).group(1)
    assert f"| steered_C.wav | the same clip and seed at strength {strength}," in report
    assert all(f"| {name} |" in report for name in names - {"report.md"})  # every file is explained
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o666 & ~umask}  # files as `open` makes them
    assert "[3/5] strength sweep" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [(["--target", "H"], "target"), (["--seed", "-1"], "seed")])
def test_bad_options_exit_with_a_one_line_error(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_out_path_that_is_a_file_is_refused(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    assert main(["--out", str(taken)]) == 2
    assert "--out" in capsys.readouterr().err and taken.read_text() == "keep me"


@pytest.mark.parametrize("field, value", [("strengths", ()), ("strengths", (-1.0,)), ("clips", 0),
                                          ("duration_s", 0.0), ("prompt", 3)])
def test_config_refuses_bad_fields(field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        DemoConfig(**{field: value})
