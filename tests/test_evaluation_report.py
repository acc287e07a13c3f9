"""Summary tables, plots and the evaluation modules' docstring examples."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from PIL import Image

from musicrfm.evaluation.chroma import chromagram
from musicrfm.evaluation.plots import plot_accuracy_vs_strength, plot_chromagram, plot_segment_accuracy
from musicrfm.evaluation.report import csv_table, group_mean, markdown_table, save_table
from musicrfm.evaluation.segments import SegmentScore, segment_accuracy
from musicrfm.files import write_atomically

ROWS = [
    {"target": "C", "strength": 0.0, "accuracy": 0.1, "seed": 0},
    {"target": "C", "strength": 0.5, "accuracy": 0.6, "seed": 0},
    {"target": "C", "strength": 0.5, "accuracy": float("nan"), "seed": 1},
    {"target": "E", "strength": 0.5, "accuracy": 0.9, "seed": 0},
]
SR = 16000


def test_group_mean_skips_nans_and_counts_rows():
    summary = group_mean(ROWS, by=["target", "strength"], values=["accuracy"])
    assert summary == [
        {"target": "C", "strength": 0.0, "accuracy": 0.1, "n": 1},
        {"target": "C", "strength": 0.5, "accuracy": 0.6, "n": 2},
        {"target": "E", "strength": 0.5, "accuracy": 0.9, "n": 1},
    ]
    assert math.isnan(group_mean([{"s": 1, "a": float("nan")}], by=["s"], values=["a"])[0]["a"])


def test_markdown_and_csv_tables():
    text = markdown_table(ROWS, ["target", "accuracy"])
    assert text.splitlines()[:3] == ["| target | accuracy |", "| --- | ---: |", "| C | 0.1 |"]
    assert "| C | nan |" in text
    lines = csv_table(ROWS).splitlines()
    assert lines[0] == "target,strength,accuracy,seed" and lines[1] == "C,0.0,0.1,0" and len(lines) == 5


def test_save_table_is_atomic(tmp_path):
    path = save_table(ROWS, tmp_path / "summary.md")
    assert path.read_text().startswith("| target | strength |")
    save_table(ROWS, tmp_path / "summary.csv")
    assert (tmp_path / "summary.csv").read_text().count("\n") == 5

    def fail(tmp: str) -> None:
        with open(tmp, "w") as handle:
            handle.write("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "summary.md", fail)
    assert path.read_text().startswith("| target |")
    assert sorted(os.listdir(tmp_path)) == ["summary.csv", "summary.md"]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda p: group_mean(ROWS, by=["strength"], values=["loss"]), ValueError, "'loss'"),
        (lambda p: group_mean(ROWS, by=["strength"], values=["target"]), TypeError, "numbers"),
        (lambda p: group_mean({"a": 1}, by=["a"], values=["a"]), TypeError, "list of dicts"),
        (lambda p: save_table(ROWS, p / "t.txt"), ValueError, ".md"),
        (lambda p: save_table(ROWS, p / "missing" / "t.md"), ValueError, "does not exist"),
        (lambda p: plot_segment_accuracy([]), TypeError, "SegmentScore"),
        (lambda p: plot_chromagram(np.zeros((5, 12))), TypeError, "Chromagram"),
        (lambda p: plot_chromagram(_CHROMA, schedule=[("C", 0.0, 1.0)], scores=[]), ValueError, "not both"),
        (lambda p: plot_chromagram(_CHROMA, scores=[("C", 0.0, 1.0)]), TypeError, "SegmentScore"),
        (lambda p: plot_accuracy_vs_strength(ROWS, path=p / "plot.jpg"), ValueError, ".png"),
    ],
)
def test_bad_inputs(tmp_path, call, error, words):
    with pytest.raises(error, match=words):
        call(tmp_path)


_CHROMA = chromagram(np.sin(np.arange(SR) / 5.0), SR)


def _image(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=float)


def test_plots_write_images_that_show_the_data(tmp_path):
    plot_accuracy_vs_strength(ROWS, group="target", path=tmp_path / "sweep.png")
    figure = plot_accuracy_vs_strength(ROWS, group="target")
    lines = figure.axes[0].get_lines()
    assert [tuple(line.get_ydata()) for line in lines] == [(0.1, 0.6), (0.9,)]
    scores = [SegmentScore("C", 0.0, 0.9, 1.0, 45), SegmentScore("E", 1.1, 2.0, 0.25, 40)]
    bars = plot_segment_accuracy(scores, path=tmp_path / "segments.png").axes[0].patches
    assert [round(b.get_height(), 2) for b in bars] == [1.0, 0.25]
    assert _image(tmp_path / "sweep.png").std() > 10 and _image(tmp_path / "segments.png").std() > 10


def test_chromagram_plot_outlines_the_schedule(tmp_path):
    t = np.arange(2 * SR) / SR
    audio = 0.3 * np.sin(2 * np.pi * np.cumsum(np.where(t < 1, 261.63, 392.0)) / SR)
    schedule = [("C", 0.0, 1.0), ("G", 1.0, None)]
    figure = plot_chromagram(chromagram(audio, SR), schedule=schedule, path=tmp_path / "chroma.png")
    outlines = [p for p in figure.axes[0].patches]
    assert [(round(p.get_x(), 2), p.get_y() + 0.5) for p in outlines] == [(0.0, 0.0), (1.0, 7.0)]
    assert [s.accuracy for s in segment_accuracy(audio, SR, schedule, crossfade_s=0.3)] == [1.0, 1.0]
    assert _image(tmp_path / "chroma.png").shape[2] == 3


def test_chromagram_plot_labels_each_segment_with_its_accuracy(tmp_path):
    t = np.arange(2 * SR) / SR
    audio = 0.3 * np.sin(2 * np.pi * np.cumsum(np.where(t < 1, 261.63, 392.0)) / SR)
    scores = segment_accuracy(audio, SR, [("C", 0.0, 1.0), ("E", 1.0, None)], crossfade_s=0.2)
    figure = plot_chromagram(chromagram(audio, SR), scores=scores, path=tmp_path / "segments.png")
    axes = figure.axes[0]
    assert [text.get_text() for text in axes.texts] == ["C 1.00", "E 0.00"]
    edges = [line.get_xdata()[0] for line in axes.get_lines()]
    assert edges == [0.0, 0.9, 1.1, 2.0] and len(axes.patches) == 2
    assert _image(tmp_path / "segments.png").std() > 10


def _legend_texts(legend) -> list[str]:
    return [] if legend is None else [text.get_text() for text in legend.get_texts()]


def test_every_plot_mark_is_explained_in_a_legend():
    sweep = _legend_texts(plot_accuracy_vs_strength(ROWS, group="target").axes[0].get_legend())
    assert sweep == ["target C: mean", "min..max over items (seeds, prompts)", "target E: mean"]
    t = np.arange(2 * SR) / SR
    with_silence = 0.3 * np.sin(2 * np.pi * 261.63 * t) * (t < 1)  # C for a second, then silence
    scores = segment_accuracy(with_silence, SR, [("C", 0.0, 1.0), ("E", 1.0, None)], crossfade_s=0.2)
    figure = plot_chromagram(chromagram(with_silence, SR), scores=scores)
    assert [word.split(":")[0] for word in _legend_texts(figure.legends[0])] == ["blank", "outline", "dashed"]
    assert [text.get_text() for text in figure.axes[0].texts] == ["C 1.00", "E silent"]
    plain = plot_chromagram(chromagram(0.3 * np.sin(2 * np.pi * 261.63 * t), SR))
    assert plain.legends == []  # nothing drawn that needs explaining
