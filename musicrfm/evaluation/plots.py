"""Plots of an evaluation (matplotlib, no display needed): accuracy against steering strength,
per-segment accuracy against a schedule, and a chromagram with the schedule drawn over it.

Each function returns a matplotlib Figure and, given `path` (.png, .svg or .pdf), also writes it
atomically.

>>> import numpy as np, tempfile, pathlib
>>> rows = [{"strength": s, "accuracy": a} for s, a in [(0.0, 0.1), (0.4, 0.6), (0.8, 0.9), (0.8, 0.7)]]
>>> out = pathlib.Path(tempfile.mkdtemp()) / "sweep.png"
>>> figure = plot_accuracy_vs_strength(rows, path=out)
>>> out.stat().st_size > 0, figure.axes[0].get_xlabel()
(True, 'strength')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicrfm.data.theory import PITCH_CLASSES
from musicrfm.evaluation.chords import parse_chord
from musicrfm.evaluation.chroma import Chromagram
from musicrfm.evaluation.inputs import pitch_class
from musicrfm.evaluation.report import group_mean
from musicrfm.evaluation.segments import SegmentScore, evaluated_spans
from musicrfm.files import write_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _figure(width: float, height: float) -> Figure:
    # A bare Figure renders through Agg without pyplot, so no display or global state is involved.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    """Write `figure` to a .png, .svg or .pdf file atomically."""
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise ValueError(f"path must end in one of {FIGURE_SUFFIXES}, got '{Path(path).name}'")
    return write_atomically(path, lambda tmp: figure.savefig(tmp, format=suffix[1:], dpi=120))


def _finish(figure: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_accuracy_vs_strength(
    rows: Sequence[Mapping[str, Any]], *, strength: str = "strength", accuracy: str = "accuracy",
    group: str | None = None, path: str | os.PathLike | None = None,
) -> Figure:
    """Mean `accuracy` per `strength` (one line per value of the `group` column, if given), with the
    spread of the items as a band (min..max)."""
    by = [strength] if group is None else [group, strength]
    summary = group_mean(rows, by=by, values=[accuracy])
    figure = _figure(6.0, 4.0)
    axes = figure.add_subplot()
    labels = [None] if group is None else list(dict.fromkeys(r[group] for r in summary))
    for label in labels:
        line = sorted((r for r in summary if group is None or r[group] == label), key=lambda r: r[strength])
        xs = [r[strength] for r in line]
        spread = [[r[accuracy] for r in rows if r[strength] == x and (group is None or r[group] == label)] for x in xs]
        name = "mean" if label is None else f"{group} {label}: mean"
        drawn = axes.plot(xs, [r[accuracy] for r in line], marker="o", label=name)[0]
        axes.fill_between(xs, [np.nanmin(v) for v in spread], [np.nanmax(v) for v in spread], alpha=0.15,
                          color=drawn.get_color(), label="min..max over items (seeds, prompts)")
    axes.set(xlabel=strength, ylabel=accuracy, ylim=(-0.02, 1.02), title=f"{accuracy} vs {strength}")
    axes.grid(alpha=0.3)
    handles, names = axes.get_legend_handles_labels()
    unique = dict(zip(names, handles))  # one entry for the band, however many groups share its meaning
    axes.legend(unique.values(), unique.keys(), fontsize="small")
    return _finish(figure, path)


def plot_segment_accuracy(scores: Sequence[SegmentScore], *, path: str | os.PathLike | None = None) -> Figure:
    """One bar per scored segment, spanning its evaluated time, as tall as its accuracy."""
    if isinstance(scores, SegmentScore) or not scores or not all(isinstance(s, SegmentScore) for s in scores):
        raise TypeError("scores must be a non-empty list of SegmentScore (see segment_accuracy)")
    figure = _figure(7.0, 3.0)
    axes = figure.add_subplot()
    for score in scores:
        height = 0.0 if np.isnan(score.accuracy) else score.accuracy
        axes.bar(score.start_s, height, width=score.end_s - score.start_s, align="edge", alpha=0.7)
        axes.text((score.start_s + score.end_s) / 2, min(height + 0.03, 0.97), f"{score.concept}\n{height:.2f}",
                  ha="center", va="bottom", fontsize=8)
    axes.set(xlabel="time (s)", ylabel="accuracy", ylim=(0, 1.15), title="accuracy per segment")
    axes.grid(axis="y", alpha=0.3)
    return _finish(figure, path)


def _concept_rows(concept: str) -> list[int]:
    """The pitch-class rows a concept names: one for a note, a rooted chord's tones, none otherwise."""
    try:
        return [pitch_class(concept)]
    except ValueError:
        pass
    try:
        chord = parse_chord(concept)
    except ValueError:
        return []
    return sorted(chord.pitch_classes) if chord.root is not None else []


def plot_chromagram(chroma: Chromagram, *, schedule: Any = None, scores: Sequence[SegmentScore] | None = None,
                    title: str | None = None, path: str | os.PathLike | None = None) -> Figure:
    """The chroma over time (unvoiced frames blank); with a `schedule` (a ConceptSequence or a list of
    (concept, start_s, end_s)), each segment's evaluated span is outlined on its concept's rows and
    labelled; with `scores` (from `segment_accuracy`) instead, each scored span is, its label carries the
    segment's accuracy and dashed lines mark the span edges."""
    if not isinstance(chroma, Chromagram):
        raise TypeError(f"chroma must be a Chromagram (see chromagram()), got {type(chroma).__name__}")
    if schedule is not None and scores is not None:
        raise ValueError("give a schedule or its segment scores, not both")
    figure = _figure(8.0, 3.5)
    axes = figure.add_subplot()
    duration = chroma.chroma.shape[0] * chroma.hop_s
    image = np.where(chroma.voiced[:, None], chroma.chroma, np.nan).T
    shown = axes.imshow(image, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                        extent=(-chroma.hop_s / 2, duration - chroma.hop_s / 2, -0.5, 11.5))
    figure.colorbar(shown, ax=axes, label="share of frame")
    axes.set(yticks=range(12), yticklabels=PITCH_CLASSES, xlabel="time (s)", xlim=(0, duration))
    # Padding leaves a row above the image for the segment labels.
    axes.set_title(title or f"{chroma.kind} chroma", pad=16)
    for concept, start, end, label in _labelled_spans(schedule, scores, duration):
        for row in _concept_rows(concept):
            axes.add_patch(_outline(start, end, row))
        if scores is not None:
            for edge in (start, end):
                axes.axvline(edge, color="tab:cyan", linestyle="--", linewidth=0.8)
        axes.text((start + end) / 2, 11.6, label, ha="center", va="bottom", fontsize=8, color="tab:cyan",
                  clip_on=False)
    _chroma_legend(figure, silent=not chroma.voiced.all(), spans=bool(_labelled_spans(schedule, scores, duration)),
                   edges=scores is not None)
    return _finish(figure, path)


def _chroma_legend(figure: Figure, *, silent: bool, spans: bool, edges: bool) -> None:
    """Say what the blank columns, outlines and dashed lines of a chromagram mean, where it has them."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="white", edgecolor="grey", label="blank: silent frame")] * silent
    handles += [Patch(fill=False, edgecolor="tab:cyan", label="outline: target notes over the evaluated span")] * spans
    handles += [Line2D([], [], color="tab:cyan", linestyle="--", label="dashed: scored span edges")] * edges
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize="small")


def _labelled_spans(schedule: Any, scores: Sequence[SegmentScore] | None,
                    duration: float) -> list[tuple[str, float, float, str]]:
    """(concept, start_s, end_s, label) of every span to draw."""
    if scores is None:
        spans = [] if schedule is None else evaluated_spans(schedule, duration)
        return [(concept, start, end, concept) for concept, start, end in spans]
    if isinstance(scores, SegmentScore) or not all(isinstance(s, SegmentScore) for s in scores):
        raise TypeError("scores must be a list of SegmentScore (see segment_accuracy)")
    # A segment with no voiced frame has no accuracy: say so rather than print "nan".
    return [(s.concept, s.start_s, s.end_s, f"{s.concept} " + ("silent" if np.isnan(s.accuracy) else f"{s.accuracy:.2f}"))
            for s in scores]


def _outline(start: float, end: float, row: int):
    from matplotlib.patches import Rectangle

    return Rectangle((start, row - 0.5), end - start, 1.0, fill=False, edgecolor="tab:cyan", linewidth=1.5)


def plot_scores_over_time(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> None:
    """Rows of `{start_s, end_s, <name>: score...}` as one line per name over the window centres, saved atomically."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 3.5))
    axes = figure.add_subplot()
    centres = [(r["start_s"] + r["end_s"]) / 2 for r in rows]
    for name in [k for k in rows[0] if k not in ("start_s", "end_s")]:
        axes.plot(centres, [r[name] for r in rows], marker="o", label=name)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("projection score")
    axes.legend(fontsize="small", ncol=4)
    save_figure(figure, path)
