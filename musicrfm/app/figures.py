"""The app's figures, drawn on bare matplotlib Figures (no pyplot, so no global figure state is shared
between requests).

>>> import numpy as np
>>> figure = strength_figure([("notes:C", np.linspace(0, 2, 5), np.linspace(0, 0.5, 5))])
>>> figure.axes[0].get_ylabel()
'strength'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from musicrfm.evaluation import Chromagram, plot_chromagram

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Curve = tuple[str, np.ndarray, np.ndarray]


def _figure(width: float = 7.0, height: float = 3.2) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def strength_figure(curves: Sequence[Curve], title: str = "strength of each concept over time") -> Figure:
    """Every term's strength (strength x schedule) against time."""
    figure = _figure()
    axes = figure.add_subplot()
    for label, times, values in curves:
        axes.plot(times, values, label=label)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set(xlabel="time (s)", ylabel="strength", title=title if curves else "no concepts: unsteered")
    if curves:
        axes.legend(loc="best", fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def chromagram_figure(chroma: Chromagram, spans: Sequence[tuple[str, float, float | None]],
                      curves: Sequence[Curve], title: str) -> Figure:
    """The chromagram with each measured target's span outlined and every term's strength drawn on top."""
    figure = plot_chromagram(chroma, schedule=list(spans) or None, title=title)
    if curves:
        twin = figure.axes[0].twinx()
        for label, times, values in curves:
            twin.plot(times, values, color="white", linewidth=1.2, alpha=0.85)
            twin.plot(times, values, linewidth=0.8, label=label)
        values = np.concatenate([curve[2] for curve in curves])
        # Zero stays in view, so a constant strength reads as a level, not as a flat line at mid-height.
        low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
        twin.set_ylim(low - 0.05 * (high - low or 1.0), high + 0.05 * (high - low or 1.0))
        twin.set_ylabel("strength")
        twin.legend(loc="upper right", fontsize=7)
    return figure


def layer_scores_figure(layers: Sequence[int], val: Sequence[float], test: Sequence[float], metric: str,
                        title: str) -> Figure:
    """Validation and test score per probed layer, side by side."""
    figure = _figure()
    axes = figure.add_subplot()
    x = np.arange(len(layers))
    axes.bar(x - 0.2, val, width=0.4, label="validation")
    axes.bar(x + 0.2, test, width=0.4, label="test")
    axes.set(xticks=x, xticklabels=[str(layer) for layer in layers], xlabel="decoder layer", ylabel=metric,
             title=title)
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return figure


def history_figure(history: Mapping[str, Sequence[float]], metric: str, best: int | None, title: str,
                   extra: tuple[str, Sequence[float]] | None = None) -> Figure:
    """Train (and validation) score per AGOP round, the kept round marked; `extra` adds a right-axis series."""
    figure = _figure()
    axes = figure.add_subplot()
    for part, values in history.items():
        axes.plot(range(len(values)), values, marker="o", markersize=3, label=part)
    if best is not None:
        axes.axvline(best, color="grey", linestyle="--", linewidth=0.8, label=f"kept round {best}")
    axes.set(xlabel="AGOP round", ylabel=metric, title=title)
    axes.grid(alpha=0.3)
    if extra is not None and len(extra[1]):
        name, values = extra
        twin = axes.twinx()
        twin.plot(range(1, len(values) + 1), values, color="tab:red", linestyle=":", label=name)
        twin.set_ylabel(name, color="tab:red")
        twin.set_yscale("log")
    axes.legend(fontsize=8, loc="center right")
    return figure


def importances_figure(names: Sequence[str], importances: np.ndarray, top: int = 20) -> Figure:
    """The `top` largest feature importances (AGOP metric diagonal), largest first."""
    order = np.argsort(importances)[::-1][:top]
    figure = _figure(7.0, 0.25 * len(order) + 1.2)
    axes = figure.add_subplot()
    axes.barh(range(len(order)), importances[order][::-1])
    axes.set(yticks=range(len(order)), yticklabels=[names[i] for i in order][::-1], xlabel="diag(M)",
             title="feature importances")
    return figure


def spectrum_figure(eigenvalues: np.ndarray) -> Figure:
    """AGOP eigenvalues, largest first, relative to the largest, on a log scale."""
    values = np.sort(np.clip(eigenvalues, 0.0, None))[::-1]
    relative = values / values[0] if values.size and values[0] > 0 else values
    figure = _figure()
    axes = figure.add_subplot()
    axes.semilogy(np.arange(1, values.size + 1), np.maximum(relative, 1e-12), marker="o", markersize=3)
    axes.set(xlabel="eigenvalue rank", ylabel="eigenvalue / largest", title="AGOP eigen-spectrum")
    axes.grid(alpha=0.3)
    return figure


def matrix_figure(matrix: np.ndarray, p: int, title: str) -> Figure:
    """A 2p x 2p feature matrix as an image, with lines between the a and b blocks."""
    figure = _figure(4.6, 4.2)
    axes = figure.add_subplot()
    shown = axes.imshow(matrix, cmap="RdBu_r", vmin=-np.abs(matrix).max(), vmax=np.abs(matrix).max())
    axes.axhline(p - 0.5, color="black", linewidth=0.8)
    axes.axvline(p - 0.5, color="black", linewidth=0.8)
    axes.set(title=title, xlabel="feature (one-hot a | one-hot b)", ylabel="feature")
    figure.colorbar(shown, ax=axes, shrink=0.8)
    return figure
