"""Probe-based concept detection over time: windows of audio -> codec codes -> pooled residual stream at the
probe's layers -> projection on the probe's unit directions, averaged over layers weighted by validation score.

>>> import numpy as np, torch
>>> from musicrfm.models import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.probes import ConceptProbe
>>> mg = MusicGen.from_model(tiny_musicgen(seed=0))
>>> probe = ConceptProbe(concept="tempo", task="regression", classes=(), target=None, layers=(0, 1),
...     vectors=torch.nn.functional.normalize(torch.randn(1, 2, 1, 32), dim=-1), eigenvalues=torch.ones(1, 2, 1),
...     val_scores=(0.5, 0.9), test_scores=(0.5, 0.9), metric="r2",
...     model={"name": "tiny", "fingerprint": dict(mg.fingerprint)})
>>> rows = detect_concept(mg, probe, np.zeros((1, 32000 * 2), np.float32), window_s=1.0, hop_s=0.5)
>>> [(r["start_s"], r["end_s"]) for r in rows], sorted(rows[0])
([(0.0, 1.0), (0.5, 1.5), (1.0, 2.0)], ['end_s', 'start_s', 'tempo'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from musicrfm.models import MusicGen, capture_hidden_states, encode_audio
from musicrfm.probes import ConceptProbe


def detect_concept(model: MusicGen, probe: ConceptProbe, audio: np.ndarray, *, window_s: float, hop_s: float,
                   target: str | None = None, progress: Callable[[int, int], None] | None = None
                   ) -> list[dict[str, Any]]:
    """One row per window: its span and a score per direction set (every class of a multiclass probe unless
    `target` picks one; the probe's concept otherwise). `audio` is (channels, samples) at the model's rate."""
    spans = _windows(audio.shape[-1], model.sample_rate, window_s, hop_s)
    names = _set_names(probe, target)
    weights = np.clip(np.asarray(probe.val_scores, dtype=np.float64), 0.0, None)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1.0 / len(weights))
    rows = []
    for done, (start, stop) in enumerate(spans, 1):
        codes = encode_audio(model, [audio[:, start:stop]], model.sample_rate)
        states = capture_hidden_states(model, codes, layers=list(probe.layers), pooling=probe.pooling,
                                       delay_pattern=probe.delay_pattern)[0]
        row: dict[str, Any] = {"start_s": start / model.sample_rate, "end_s": stop / model.sample_rate}
        for name, set_target in names:
            vectors = np.stack([v.numpy() for v in probe.direction(set_target).vectors.values()])
            row[name] = float(weights @ np.einsum("ld,ld->l", states.astype(np.float64), vectors))
        rows.append(row)
        if progress is not None:
            progress(done, len(spans))
    return rows


def _windows(samples: int, rate: int, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    window, hop = round(window_s * rate), round(hop_s * rate)
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must each span at least one sample, got {window_s} s and {hop_s} s")
    if samples <= window:
        return [(0, samples)]
    return [(start, start + window) for start in range(0, samples - window + 1, hop)]


def _set_names(probe: ConceptProbe, target: str | None) -> list[tuple[str, str | None]]:
    if probe.task != "multiclass":
        return [(probe.target or probe.concept, None if target is None else target)]
    if target is not None:
        return [(target, target)]
    return [(name, name) for name in probe.classes]
