"""Seeded, stratified train / validation / test splits (70 / 15 / 15 by default).

Every stratum (class, or quantile bin of a regression target) is shuffled and cut in the split fractions;
the fractional leftovers are then handed out so that the split sizes also match the fractions overall.

>>> split = stratified_split(["a"] * 10 + ["b"] * 10, seed=0)
>>> len(split.train), len(split.val), len(split.test)
(14, 3, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musicrfm.checks import check_seed, is_int

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


@dataclass(frozen=True, eq=False)
class Split:
    """Sorted clip indices of the train, validation and test parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def quantile_bins(targets: Sequence[float], n_bins: int = 5) -> np.ndarray:
    """Bin index (0..n_bins-1) of each target by its quantile, for stratifying a regression target."""
    values = np.asarray(targets, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError("targets must be a non-empty 1-D sequence of finite numbers")
    if not is_int(n_bins) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    edges = np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    return np.searchsorted(edges, values, side="right")


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    parts = np.asarray(fractions, dtype=np.float64)
    if parts.shape != (3,) or (parts < 0).any() or parts[0] <= 0 or abs(parts.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1 with train > 0, got {fractions!r}")
    return parts


def _allocate(sizes: np.ndarray, parts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Counts[s, k] of stratum s in split k: floors of the exact quotas, then the leftover units go to the
    largest fractional parts (random tie-breaks) while both the stratum and the split still need units."""
    quotas = sizes[:, None] * parts[None, :]
    counts = np.floor(quotas).astype(int)
    split_need = np.round(sizes.sum() * parts).astype(int)
    split_need[0] += sizes.sum() - split_need.sum()  # rounding slack goes to train
    split_need -= counts.sum(axis=0)
    stratum_need = sizes - counts.sum(axis=1)
    remainder = quotas - counts
    order = np.lexsort((rng.random(remainder.size), -remainder.ravel()))
    for strict in (True, False):  # second pass: place whatever the fractional order could not
        for flat in order:
            s, k = divmod(int(flat), len(parts))
            if stratum_need[s] > 0 and split_need[k] > 0 and (remainder[s, k] > 0 or not strict):
                counts[s, k] += 1
                stratum_need[s] -= 1
                split_need[k] -= 1
                remainder[s, k] = 0.0
    return counts


def stratified_split(
    strata: Sequence[object], *, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0
) -> Split:
    """Split clip indices so that each stratum is spread over the parts in the given fractions."""
    parts = _check_fractions(fractions)
    keys = np.asarray([str(s) for s in strata])
    if keys.size == 0:
        raise ValueError("strata must not be empty")
    check_seed(seed)
    rng = np.random.default_rng(seed)
    names, inverse = np.unique(keys, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(inverse == s)) for s in range(len(names))]
    counts = _allocate(np.array([len(m) for m in members]), parts, rng)
    chosen: list[list[np.ndarray]] = [[], [], []]
    for m, row in zip(members, counts):
        for k, piece in enumerate(np.split(m, np.cumsum(row)[:-1])):
            chosen[k].append(piece)
    train, val, test = (np.sort(np.concatenate(c)) for c in chosen)
    for name, idx, frac in zip(("train", "val", "test"), (train, val, test), parts):
        if frac > 0 and idx.size == 0:
            raise ValueError(f"too few clips ({keys.size}) for a non-empty {name} part with fractions {tuple(parts)}")
    return Split(train, val, test)
