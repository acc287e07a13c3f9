"""Inject a SteeringPlan into MusicGen's residual stream with forward hooks, exactly and cheaply.

The step index is read from the model itself: a forward pre-hook on the decoder's positional embedding
receives the cache length, so the forward at token position `p` is step `frame_offset + p - delay` (the
frame whose last codebook it completes, clamped at 0). This is exact under KV caching, under transformers
5.x's repeated first forward and across long-form windows. Per-step coefficients come from a table built
(and validated) before generation; each forward turns them into one added vector per layer, and the layer
hooks only add it to the newest position (every position with `steer_prompt=True`).

>>> import torch
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.steering.plan import SteeringPlan, SteeringTerm
>>> model = tiny_musicgen(seed=0)
>>> plan = SteeringPlan((SteeringTerm({1: torch.randn(32)}, strength=0.3, target="cond"),))
>>> with apply_plan(plan, model) as bound:
...     audio = model.generate(max_new_tokens=8, guidance_scale=3.0, do_sample=True)
>>> bound.layers
(1,)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import numpy as np
import torch

from musicrfm.checks import is_int
from musicrfm.steering.binding import BoundPlan, ModelShape, bind_plan, unwrap_model
from musicrfm.steering.loop import Loop
from musicrfm.steering.plan import SteeringPlan

WINDOW_SECONDS = 30.0


@contextmanager
def apply_plan(
    plan: SteeringPlan,
    model,
    *,
    cfg: bool = True,
    steer_prompt: bool = False,
    frame_offset: int = 0,
    max_steps: int | None = None,
    loop: Loop | None = None,
) -> Iterator[BoundPlan]:
    """Steer `model` inside the `with` block; yields the BoundPlan.

    `model` is a `MusicgenForConditionalGeneration` or a `musicrfm.models.MusicGen`.

    Args:
        cfg: the batch is doubled for classifier-free guidance (`guidance_scale > 1`): rows `[:B]` are
            conditional, `[B:]` unconditional. Without it every row counts as conditional.
        steer_prompt: also steer the prompt positions of the first forward, not only the newest one.
        frame_offset: absolute frame of the window's first frame (long-form continuation).
        max_steps: frames in the whole piece, the range schedules are validated on up front (default:
            `frame_offset` plus 30 s of frames).
        loop: the live monitor and controllers (`musicrfm.steering.loop.Loop`) of a generation, shared by
            its windows; made here when the plan has closed-loop terms and none is given.

    Hooks are removed on exit, also on error; nested contexts remove only their own.
    """
    if not isinstance(plan, SteeringPlan):
        raise TypeError(f"plan must be a SteeringPlan, got {type(plan).__name__}")
    _check_flags(cfg=cfg, steer_prompt=steer_prompt, frame_offset=frame_offset)
    if not cfg and any(term.target == "uncond" for term in plan.terms):
        raise ValueError("target 'uncond' needs a CFG-doubled batch (cfg=True, guidance_scale > 1)")
    model = unwrap_model(model)
    decoder = _decoder_of(model)
    shape = ModelShape.of(model)
    steps = max_steps if max_steps is not None else frame_offset + round(WINDOW_SECONDS * shape.frame_rate)
    bound = bind_plan(plan, shape, max_steps=steps)
    parameter = next(decoder.parameters())
    if loop is None and bound.controlled:
        loop = Loop((), cfg=cfg)
    if loop is not None:
        loop.start_window(bound, shape, frame_offset=frame_offset, device=parameter.device)
    injector = _Injector(bound, shape, cfg=cfg, steer_prompt=steer_prompt, frame_offset=frame_offset,
                         device=parameter.device, dtype=parameter.dtype, loop=loop)
    with ExitStack() as stack:
        # Order matters: the loop steps its controllers before the injector reads their output, and reads
        # each layer after the injector has steered it.
        hooks = [(decoder.embed_positions, injector.on_positions, True)]
        hooks += [(decoder.layers[layer], injector.layer_hook(slot), False) for slot, layer in enumerate(bound.layers)]
        if loop is not None:
            hooks.insert(0, (decoder.embed_positions, loop.on_positions, True))
            hooks += [(decoder.layers[layer], loop.layer_hook(layer), False) for layer in loop.layers]
        for module, hook, pre in hooks:
            handle = module.register_forward_pre_hook(hook, with_kwargs=True) if pre else \
                module.register_forward_hook(hook)
            stack.callback(handle.remove)
        yield bound


class _Injector:
    """Per-context runtime state: the coefficient table and the vectors added in the current forward."""

    def __init__(self, bound: BoundPlan, shape: ModelShape, *, cfg: bool, steer_prompt: bool,
                 frame_offset: int, device: torch.device, dtype: torch.dtype, loop: Loop | None = None) -> None:
        self.bound = bound
        self.loop = loop
        self.delay = shape.delay
        self.steer_prompt = steer_prompt
        self.frame_offset = frame_offset
        self.device = device
        self.dtype = dtype
        self.vectors = bound.vectors.to(device)
        terms = bound.terms
        # Rows are one group when every term steers both CFG halves, else the [cond, uncond] halves.
        self.split = cfg and any(term.target != "both" for term in terms)
        groups = [("both", "cond"), ("both", "uncond")] if self.split else [("both", "cond")]
        self.modes = [mode for mode in ("absolute", "relative") if any(term.mode == mode for term in terms)]
        # One mask row per (mode, group): a single matmul then yields every vector a forward adds.
        masks = [[float(t.mode == mode and t.target in group and t.control is None) for t in terms]
                 for mode in self.modes for group in groups]
        self.mask = torch.tensor(masks, device=device)
        self.open = np.array([t.control is None for t in terms], dtype=bool)
        self.controlled = list(bound.controlled)
        if self.controlled:
            # Per-row strengths: the CFG half each controlled term acts on, as a (halves, n_controlled) mask.
            halves = [("both", "cond"), ("both", "uncond")] if cfg else [("both", "cond")]
            self.loop_mask = torch.tensor([[float(terms[i].target in half) for i in self.controlled]
                                           for half in halves], device=device)
            self.loop_vectors = self.vectors[self.controlled].reshape(len(self.controlled), -1)
        self.loop_added: torch.Tensor | None = None
        self.table = np.zeros((0, len(terms)))
        self.table_t = torch.zeros(0, len(terms), device=device)
        self.active = np.zeros(0, dtype=bool)
        self.added: dict[str, tuple[torch.Tensor, ...]] = {}
        self.positions = 1

    def _grow(self, stop: int) -> None:
        have = self.table.shape[0]
        if stop <= have:
            return
        stop = max(stop, 2 * have, 256)
        self.table = np.concatenate([self.table, self.bound.coefficients(have, stop)])
        self.table_t = torch.as_tensor(self.table, dtype=torch.float32, device=self.device)
        self.active = (self.table[:, self.open] != 0).any(axis=1)

    def on_positions(self, module, args, kwargs) -> None:
        """Pre-hook on `embed_positions(input, cache_length)`: compute this forward's added vectors."""
        tokens = args[0]
        cache_length = int(args[1] if len(args) > 1 else kwargs.get("cache_length", 0))
        rows, length = tokens.shape[0], tokens.shape[-1]
        last = self.frame_offset + cache_length + length - 1 - self.delay
        self.positions = length if self.steer_prompt else 1
        self._grow(max(last, 0) + 1)
        if self.positions == 1:  # the decoding fast path: one step, plain slicing
            step = max(last, 0)
            active, coefficients = self.active[step], self.table_t[step : step + 1]
        else:
            steps = np.maximum(np.arange(last - self.positions + 1, last + 1), 0)
            active = self.active[steps].any()
            coefficients = self.table_t[torch.as_tensor(steps, device=self.device)]
        self.added = self._added(coefficients, rows) if active else {}
        if self.controlled:
            self.loop_added = self._loop_added(self.table_t[max(last, 0), self.controlled], rows)

    def _loop_added(self, coefficients: torch.Tensor, rows: int) -> torch.Tensor:
        """(rows, L, d): each row's closed-loop vectors, its controllers' gains times the terms' coefficients."""
        amount = self.loop.gain * coefficients  # (B, n_controlled)
        per_row = torch.cat([amount * half for half in self.loop_mask])  # cond rows first under CFG
        if per_row.shape[0] != rows:
            raise ValueError(f"closed-loop steering expected {per_row.shape[0]} rows, the forward has {rows}")
        layers, width = self.vectors.shape[1:]
        return (per_row @ self.loop_vectors).view(rows, layers, width).to(self.dtype)

    def _added(self, coefficients: torch.Tensor, rows: int) -> dict[str, tuple[torch.Tensor, ...]]:
        scaled = coefficients[None] * self.mask[:, None]  # (modes * groups, P, T)
        kinds, count, terms = scaled.shape
        layers, width = self.vectors.shape[1:]
        # One matmul (cheaper than einsum's permutes) gives (kinds, P, L, d); viewed layer-major.
        flat = scaled.reshape(kinds * count, terms) @ self.vectors.reshape(terms, layers * width)
        added = flat.view(kinds, count, layers, width).permute(2, 0, 1, 3).to(self.dtype)
        if self.split:
            if rows % 2:
                raise ValueError(f"CFG-targeted steering needs an even, doubled batch; got {rows} rows")
            added = added.repeat_interleave(rows // 2, dim=1)
        return {mode: part.unbind(0) for mode, part in zip(self.modes, added.chunk(len(self.modes), dim=1))}

    def layer_hook(self, slot: int):
        """Forward hook for the decoder layer at `bound.layers[slot]`."""

        def hook(module, args, output):
            if not self.added and self.loop_added is None:
                return None
            if isinstance(output, tuple):
                return (self._steer(output[0], slot), *output[1:])
            return self._steer(output, slot)

        return hook

    def _steer(self, hidden: torch.Tensor, slot: int) -> torch.Tensor:
        count = self.positions
        whole = count == hidden.shape[1]
        tail = hidden if whole else hidden[:, -count:]
        absolute, relative = self.added.get("absolute"), self.added.get("relative")
        steered = tail if absolute is None else tail + absolute[slot]
        if self.loop_added is not None:
            steered = steered + self.loop_added[:, slot, None]
        if relative is not None:
            norm = torch.linalg.vector_norm(tail, dim=-1, keepdim=True)
            steered = torch.addcmul(steered, norm, relative[slot])
        return steered if whole else torch.cat([hidden[:, :-count], steered], dim=1)


def _decoder_of(model):
    try:
        decoder = model.decoder.model.decoder
        decoder.layers, decoder.embed_positions  # noqa: B018 - probe the structure once, up front
    except AttributeError as error:
        raise TypeError(f"model must be a MusicgenForConditionalGeneration, got {type(model).__name__}") from error
    return decoder


def _check_flags(*, cfg: object, steer_prompt: object, frame_offset: object) -> None:
    for field, value in (("cfg", cfg), ("steer_prompt", steer_prompt)):
        if not isinstance(value, bool):
            raise TypeError(f"{field} must be a bool, got {type(value).__name__}")
    if not is_int(frame_offset) or frame_offset < 0:
        raise ValueError(f"frame_offset must be a non-negative int, got {frame_offset!r}")
