"""What the RFM fit loop (:mod:`musicrfm.agop.rfm`) carries from round to round: the inputs every round
reads, the state a callback sees, the round kept so far and the comparisons that choose it.

>>> improves(0.9, float("nan"), maximize=True), worse(0.8, 0.9, maximize=True, factor=1.1)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["KeptRound", "RoundInputs", "RoundState", "improves", "worse"]


@dataclass(frozen=True)
class RoundState:
    """What a ``callback`` sees after each round: the predictor of round ``iteration`` and its scores.

    ``M`` is None for the identity metric of round 0; ``agop`` is None after the last round.
    """

    iteration: int
    M: torch.Tensor | None
    coef: torch.Tensor
    agop: torch.Tensor | None
    train_score: float
    val_score: float | None


@dataclass
class KeptRound:
    """The best round so far (``iteration`` -1 before round 0), with what ``fit`` installs from it."""

    iteration: int = -1
    score: float = float("nan")
    coef: torch.Tensor | None = None
    M: torch.Tensor | None = None
    agop: torch.Tensor | None = None


@dataclass(frozen=True, eq=False)
class RoundInputs:
    """What every round of a fit reads. ``rows`` holds the validation rows below the training rows: one
    distance computation per round gives the kernel for the solve, both scores and the gradient weights."""

    X: torch.Tensor
    Y: torch.Tensor
    y_score: torch.Tensor
    val: tuple[torch.Tensor, torch.Tensor] | None
    rows: torch.Tensor
    scorer: Callable[[torch.Tensor, torch.Tensor], float]
    maximize: bool


def improves(score: float, best: float, maximize: bool) -> bool:
    """Whether ``score`` beats ``best`` (NaN: no best yet)."""
    if best != best:
        return True
    return score > best if maximize else score < best


def worse(score: float, best: float, maximize: bool, factor: float) -> bool:
    """Early stopping's test: ``score`` worse than ``best`` by more than the factor."""
    return score < best / factor if maximize else score > best * factor
