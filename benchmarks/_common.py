"""Shared helpers for the benchmarks: thread pinning, timing, a probe-like synthetic task, xrfm adapters.

>>> (X, y), _, _ = probe_task(n=50, n_val=10, n_test=10, d=16, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((50, 16), [0.0, 1.0])
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def set_threads(n: int) -> None:
    """Pin torch's intra-op threads so timings are comparable between runs and machines."""
    torch.set_num_threads(n)


def timed(fn: Callable[[], Any], repeats: int = 1, warmup: bool = False) -> tuple[Any, float]:
    """Run ``fn`` ``repeats`` times (after one untimed run with ``warmup``, which absorbs first-call costs
    such as lazy imports); return the last result and the median wall time in seconds."""
    if warmup:
        fn()
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


def probe_task(
    n: int = 1400, n_val: int = 300, n_test: int = 300, d: int = 1024, seed: int = 0, scale: float = 2.0
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """A binary task shaped like a probe on mean-pooled transformer states.

    Features: heavy-tailed (Student t, 4 degrees of freedom) latent coordinates with a power-law
    spectrum, randomly rotated, so no single input coordinate is informative. Labels: a nonlinear
    function (a sine, a product, an absolute value) of four of the twelve loudest latent coordinates,
    plus noise, split at the median. Returns (X, y) for train, validation and test, float32.
    """
    rng = np.random.default_rng(seed)
    total = n + n_val + n_test
    spectrum = (1.0 + np.arange(d)) ** -0.5
    latent = rng.standard_t(4.0, size=(total, d)) * spectrum
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    idx = rng.choice(min(12, d), size=min(4, d), replace=False)
    u = latent[:, idx] / spectrum[idx]
    signal = np.sin(1.5 * u[:, 0]) + u[:, 1] * u[:, 2 % u.shape[1]] + 0.5 * np.abs(u[:, 3 % u.shape[1]])
    signal = signal + 0.3 * rng.standard_normal(total)
    y = (signal > np.median(signal)).astype(np.float32)
    X = (latent @ rotation.T * scale).astype(np.float32)
    cuts = (n, n + n_val)
    return (X[: cuts[0]], y[: cuts[0]]), (X[cuts[0] : cuts[1]], y[cuts[0] : cuts[1]]), (X[cuts[1] :], y[cuts[1] :])


def xrfm_model(task: str, *, bandwidth: float, exponent: float, iters: int, tuning_metric: str, n_classes: int = 2):
    """An xrfm RFM with the research code's ``l2_high_dim`` kernel (metric = AGOP / max, used directly)."""
    from xrfm.rfm_src import RFM
    from xrfm.rfm_src.class_conversion import ClassificationConverter

    converter = None if task == "regression" else ClassificationConverter(mode="zero_one", n_classes=n_classes)
    return RFM(kernel="l2_high_dim", bandwidth=bandwidth, exponent=exponent, iters=iters, device="cpu",
               verbose=False, tuning_metric=tuning_metric, class_converter=converter)


def xrfm_targets(y: np.ndarray, task: str, n_classes: int) -> torch.Tensor:
    """xrfm's target encoding: one 0/1 column (binary), one-hot columns (multiclass), or the values."""
    if task == "multiclass":
        return torch.nn.functional.one_hot(torch.as_tensor(y, dtype=torch.long), n_classes).float()
    return torch.as_tensor(y, dtype=torch.float32).reshape(len(y), -1)
