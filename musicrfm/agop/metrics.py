"""Scores used for RFM model selection, computed in torch so they run on the model's device.

>>> roc_auc(torch.tensor([0, 0, 1, 1]), torch.tensor([0.1, 0.4, 0.35, 0.8]))
0.75
"""

from __future__ import annotations

import torch

__all__ = ["SCORERS", "accuracy", "mse", "r2", "roc_auc", "higher_is_better"]


def mse(y: torch.Tensor, pred: torch.Tensor) -> float:
    """Mean squared error over all entries."""
    return float((pred - y).square().mean())


def r2(y: torch.Tensor, pred: torch.Tensor) -> float:
    """Coefficient of determination, averaged uniformly over output columns (as scikit-learn does)."""
    y, pred = _columns(y), _columns(pred)
    resid = (y - pred).square().sum(0)
    total = (y - y.mean(0)).square().sum(0)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    per_col = torch.where(total > 0, 1 - resid / safe, (resid == 0).to(y.dtype))
    return float(per_col.mean())


def accuracy(labels: torch.Tensor, scores: torch.Tensor) -> float:
    """Accuracy of argmax class scores (n, C), or of ``scores > 0`` for one column of binary scores."""
    scores, labels = _columns(scores), labels.reshape(-1)
    pred = scores[:, 0] > 0 if scores.shape[1] == 1 else scores.argmax(1)
    # A count over n in Python: the same double as a mean, without the casts (this runs every RFM round).
    return int((pred == labels.long()).sum()) / labels.numel() if labels.numel() else float("nan")


def roc_auc(labels: torch.Tensor, scores: torch.Tensor) -> float:
    """ROC AUC; for C score columns, the macro average of one-vs-rest AUCs.

    Ties count one half (Mann-Whitney with average ranks). Classes absent from ``labels`` are skipped.
    """
    scores, labels = _columns(scores), labels.long().reshape(-1)
    if scores.shape[1] == 1:
        return _binary_auc(labels == 1, scores[:, 0])
    aucs = [_binary_auc(labels == c, scores[:, c]) for c in range(scores.shape[1])]
    valid = [a for a in aucs if a == a]
    return float(sum(valid) / len(valid)) if valid else float("nan")


def _binary_auc(positive: torch.Tensor, score: torch.Tensor) -> float:
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(score.double())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks with ties sharing the mean of their positions."""
    sorted_x, order = torch.sort(x)
    _, inverse, counts = torch.unique_consecutive(sorted_x, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    mean_rank = ends - (counts.double() - 1) / 2
    ranks = torch.empty_like(x)
    ranks[order] = mean_rank[inverse]
    return ranks


def _columns(t: torch.Tensor) -> torch.Tensor:
    return t[:, None] if t.dim() == 1 else t


# name -> (function taking (targets, predictions), higher is better)
SCORERS = {"mse": (mse, False), "r2": (r2, True), "accuracy": (accuracy, True), "auc": (roc_auc, True)}


def higher_is_better(name: str) -> bool:
    """Whether a larger value of the named score is an improvement."""
    return SCORERS[name][1]
