"""The live loop: monitor readings per decoding step and the closed-loop terms' PI controllers.

`Loop` keeps, for one generation (all its windows), the pooled residual states of the monitored layers,
the readings, the controllers' state and the per-step trace. `apply_plan(..., loop=...)` wires it to the
model: a pre-hook on the positional embedding (the cache-exact step index, as the injector's) updates the
controllers once per new step from the previous step's reading, and forward hooks registered after the
injector's (so they see the steered stream) pool the newest positions of the conditional rows (the CFG
half that plays) and, after the deepest monitored layer, evaluate every reader.

Pooling follows the probe's training capture (`musicrfm.models.capture`, delay pattern on): the mean (or
last, or max) over the window's decoder positions 1..p, the BOS position 0 excluded; the forward at
position p is step `frame_offset + p - delay` (clamped at 0), the frame it completes, and the reading it
gives is recorded at that step (a later forward at the same clamped step overwrites it). transformers'
repeated first forward is recognised by its cache length and restarts from the state before it, so
nothing is counted twice. In long-form generation each window pools its own positions (the prompt tail
included): the reading is then over the model's current context, while controllers run on across windows.

>>> import torch
>>> from musicrfm.agop import Kernel, KernelPredictor
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.steering import Reader, generate
>>> predictor = KernelPredictor(torch.randn(8, 32), torch.rand(8, 1), None, Kernel("laplace", 10.0, 1.0))
>>> reader = Reader("demo", layers=(1,), predictors=(predictor,), weights=(1.0,), task="binary")
>>> out = generate(tiny_musicgen(seed=0), duration_s=0.2, seed=0, monitor=[reader])
>>> out.trace.readings.shape, out.trace.names
(torch.Size([10, 1, 1]), ('demo',))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from musicrfm.steering.binding import BoundPlan, check_reader
from musicrfm.steering.control import PILaw
from musicrfm.steering.monitor import Reader


@dataclass(frozen=True, eq=False)
class Trace:
    """Per-step readings `(steps, B, n_readers)` named by `names`, and the closed-loop strength factors
    `(steps, B, n_controlled)` of the terms named `controlled`; steps without a reading hold NaN."""

    names: tuple[str, ...]
    readings: torch.Tensor
    controlled: tuple[str, ...]
    strengths: torch.Tensor


class Loop:
    """One generation's monitor and controller state (see the module docstring)."""

    def __init__(self, readers: Sequence[Reader], *, cfg: bool) -> None:
        self.sources = tuple(readers)  # as given; `readers` are their copies on the model's device
        self.readers = self.sources
        if len({reader.pooling for reader in self.readers}) > 1:
            raise ValueError("monitor: readers pooled differently (mean, last, max) cannot run in one generation")
        self.cfg = cfg
        self.layers = tuple(sorted({layer for reader in self.readers for layer in reader.layers}))
        self.readings: dict[int, torch.Tensor] = {}
        self.strengths: dict[int, torch.Tensor] = {}
        self.latest: torch.Tensor | None = None
        self.gain: torch.Tensor | None = None
        self.controller: tuple[PILaw, list[int]] | None = None
        self.bound: BoundPlan | None = None
        self.key: int | None = None
        self.delay = 0
        self.frame_offset = 0
        self._device: torch.device | None = None

    def start_window(self, bound: BoundPlan, shape, *, frame_offset: int, device: torch.device) -> None:
        """Bind the plan's closed-loop terms (validated against `shape`) and reset pooling for a new window."""
        for reader in self.readers:
            check_reader(reader, shape)
        self.bound, self.delay, self.frame_offset, self._shape = bound, shape.delay, frame_offset, shape
        if self._device is None:
            self._device = device
            self.readers = tuple(_on_device(reader, device) for reader in self.readers)
        if self.controller is None and bound.controlled:
            self.controller = self._controller(bound, device)
        self.pooled: dict[int, torch.Tensor] = {}
        self.count = 0
        self.base: tuple[dict[int, torch.Tensor], int] = ({}, 0)
        self.cache_length: int | None = None

    def _controller(self, bound: BoundPlan, device: torch.device) -> tuple[PILaw, list[int]]:
        controls = [bound.terms[i].control for i in bound.controlled]
        columns = []
        for control in controls:
            if control.reader not in self.sources:
                check_reader(control.reader, self._shape)
                if self.readers and control.reader.pooling != self.readers[0].pooling:
                    raise ValueError(f"monitor {control.reader.name!r}: pooled unlike the other readers")
                self.sources += (control.reader,)
                self.readers += (_on_device(control.reader, device),)
                self.layers = tuple(sorted(set(self.layers) | set(control.reader.layers)))
            columns.append(self.sources.index(control.reader))
        gains = {name: torch.tensor([getattr(c, name) for c in controls], device=device)
                 for name in ("kp", "ki", "floor", "ceiling")}
        return PILaw(**gains), columns

    def on_positions(self, module, args, kwargs) -> None:
        """Pre-hook on `embed_positions`: restart a repeated forward, step the controllers on a new step."""
        tokens = args[0]
        cache_length = int(args[1] if len(args) > 1 else kwargs.get("cache_length", 0))
        if cache_length == self.cache_length:
            self.pooled, self.count = dict(self.base[0]), self.base[1]
        else:
            self.base = (dict(self.pooled), self.count)
        self.cache_length, self.length = cache_length, tokens.shape[-1]
        self.rows = tokens.shape[0] // 2 if self.cfg else tokens.shape[0]
        key = self.frame_offset + cache_length + self.length - 1 - self.delay
        if self.controller is not None and (self.key is None or key > self.key):
            self.gain = self._control(max(key, 0))
        self.key = key if self.key is None else max(key, self.key)

    def _control(self, step: int) -> torch.Tensor:
        law, columns = self.controller
        if self.latest is None:  # nothing read yet: no push, no integration
            gain = torch.zeros(self.rows, len(columns), device=self._device)
        else:
            goals = torch.as_tensor(self.bound.goals(step, step + 1)[0], dtype=torch.float32, device=self._device)
            gain = law.step(goals - self.latest[:, columns])
        self.strengths[step] = gain
        return gain

    def layer_hook(self, layer: int):
        """Forward hook pooling `layer`'s newest conditional positions; the deepest one reads."""
        deepest = layer == self.layers[-1]

        def hook(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            first = 1 if self.cache_length == 0 else 0  # position 0 is BOS, never pooled
            states = hidden[: self.rows, -self.length :][:, first:].float()
            if states.shape[1]:
                self._pool(layer, states)
                if deepest:
                    self.count += states.shape[1]
                    self._read()
            return None

        return hook

    def _pool(self, layer: int, states: torch.Tensor) -> None:
        how, old = self.readers[0].pooling, self.pooled.get(layer)
        if how == "last":
            self.pooled[layer] = states[:, -1]
        elif how == "max":
            peak = states.amax(dim=1)
            self.pooled[layer] = peak if old is None else torch.maximum(old, peak)
        else:
            total = states.sum(dim=1)
            self.pooled[layer] = total if old is None else old + total

    def _read(self) -> None:
        scale = 1.0 / self.count if self.readers[0].pooling == "mean" else 1.0
        values = [reader.read(torch.stack([self.pooled[layer] for layer in reader.layers], dim=1) * scale)
                  for reader in self.readers]
        self.latest = torch.stack(values, dim=1)
        self.readings[max(self.key, 0)] = self.latest

    def trace(self, steps: int, batch: int) -> Trace:
        """The per-step trace of steps 0..steps-1."""
        names = tuple(reader.name for reader in self.readers)
        controlled = () if self.bound is None else tuple(self.bound.terms[i].label for i in self.bound.controlled)
        return Trace(names, _table(self.readings, steps, batch, len(names)), controlled,
                     _table(self.strengths, steps, batch, len(controlled)))


def _table(values: dict[int, torch.Tensor], steps: int, batch: int, width: int) -> torch.Tensor:
    out = torch.full((steps, batch, width), float("nan"))
    for step, value in values.items():
        if step < steps:
            out[step] = value.detach().cpu()
    return out


def _on_device(reader: Reader, device: torch.device) -> Reader:
    moved = tuple(p.to(device) for p in reader.predictors)
    return Reader(reader.name, reader.layers, moved, reader.weights, reader.task, reader.column, reader.scale,
                  reader.value_range, reader.pooling, reader.fingerprint)
