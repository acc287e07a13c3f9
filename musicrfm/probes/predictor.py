"""A probe's RFM predictors as bundle parts, and the live `Reader` a monitor or controller evaluates.

Per probe layer the bundle keeps the selected RFM in compact form (`musicrfm.agop.KernelPredictor`):
tensors `predictor.<i>.points` (n_train, r), `predictor.<i>.coef` (n_train, outputs) and, unless the
metric is the identity, `predictor.<i>.factor` (r, d), all float32; probe.json's `predictor` field holds
each layer's kernel and, for regression, the training targets' mean, std and range. Bundles written
before (schema 1) have none: they still steer, and monitoring them raises one line.

>>> import torch
>>> from musicrfm.agop import Kernel, KernelPredictor
>>> one = KernelPredictor(torch.zeros(3, 2), torch.ones(3, 1), torch.eye(2), Kernel("laplace", 5.0, 1.0))
>>> meta, tensors = pack((one,), None)
>>> sorted(tensors), unpack(meta, tensors)[0][0].factor.shape
(['predictor.0.coef', 'predictor.0.factor', 'predictor.0.points'], torch.Size([2, 2]))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from musicrfm.agop.compact import KernelPredictor
from musicrfm.agop.kernels import Kernel
from musicrfm.steering.monitor import Reader

PREFIX = "predictor."
STATS = ("mean", "std", "min", "max")


def target_summary(y: np.ndarray, train: np.ndarray, mean: float, std: float) -> dict[str, float]:
    """A regression probe's target facts: the standardisation and the train split's range."""
    values = np.asarray(y, dtype=np.float64)[train]
    return {"mean": mean, "std": std, "min": float(values.min()), "max": float(values.max())}


def pack(predictors: Sequence[KernelPredictor], targets: Mapping[str, float] | None
         ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """probe.json's `predictor` field and the tensors of `predictors` (one per probe layer)."""
    tensors, layers = {}, []
    for i, predictor in enumerate(predictors):
        tensors[f"{PREFIX}{i}.points"] = predictor.points.float().contiguous()
        tensors[f"{PREFIX}{i}.coef"] = predictor.coef.float().contiguous()
        if predictor.factor is not None:
            tensors[f"{PREFIX}{i}.factor"] = predictor.factor.float().contiguous()
        kernel = predictor.kernel
        layers.append({"kernel": kernel.name, "bandwidth": kernel.bandwidth, "exponent": kernel.exponent})
    return {"layers": layers, "targets": None if targets is None else dict(targets)}, tensors


def unpack(meta: Mapping[str, Any] | None, tensors: Mapping[str, torch.Tensor]
           ) -> tuple[tuple[KernelPredictor, ...] | None, dict[str, float] | None]:
    """Predictors and target facts from `pack`'s output; (None, None) for a bundle without them."""
    if meta is None:
        return None, None
    try:
        predictors = tuple(
            KernelPredictor(tensors[f"{PREFIX}{i}.points"], tensors[f"{PREFIX}{i}.coef"],
                            tensors.get(f"{PREFIX}{i}.factor"), Kernel(k["kernel"], k["bandwidth"], k["exponent"]))
            for i, k in enumerate(meta["layers"]))
        targets = meta["targets"]
        if targets is not None and sorted(targets) != sorted(STATS):
            raise ValueError(f"targets must name {list(STATS)}")
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the predictor description is incomplete: {exc}") from exc
    return predictors, None if targets is None else {k: float(v) for k, v in targets.items()}


def probe_reader(probe, target: str | None = None) -> Reader:
    """The live Reader of `probe` (a ConceptProbe): its class `target` (multiclass: required; binary: the
    positive class) or its value (regression), layers weighted by validation score."""
    if probe.predictors is None:
        raise ValueError(f"probe '{probe.concept}' has no stored predictor (trained before musicrfm kept one); "
                         "retrain it with this version to monitor or close the loop on it")
    if not probe.delay_pattern:
        raise ValueError(f"probe '{probe.concept}' read raw codes (delay_pattern=False), which generation never "
                         "feeds; monitoring needs a probe trained with the delay pattern")
    index = probe._set_index(target)
    weights = np.clip(np.asarray(probe.val_scores, dtype=np.float64), 0.0, None)
    weights = weights if weights.sum() > 0 else np.ones(len(weights))
    stats = probe.targets or {"mean": 0.0, "std": 1.0, "min": 0.0, "max": 1.0}
    name = probe.concept if probe.task == "regression" else f"{probe.concept}:{target or probe.target}"
    return Reader(name, probe.layers, probe.predictors, tuple(weights.tolist()), probe.task, column=index,
                  scale=(stats["mean"], stats["std"]), value_range=(stats["min"], stats["max"]),
                  pooling=probe.pooling, fingerprint=dict(probe.fingerprint))
