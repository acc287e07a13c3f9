"""Seeded, optionally steered MusicGen generation, including pieces longer than the model's window.

Steered and unsteered runs with the same seed share the sampling random stream (gates draw from their own
generator), so any difference between them is the steering's. Long pieces are generated window by window:
each window's prompt is the tail (`context_s`) of the codes generated so far, and the plan's step is the
absolute frame index in the whole piece, so schedules run on continuously across windows.

>>> import torch
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.steering.plan import SteeringPlan, SteeringTerm
>>> model = tiny_musicgen(seed=0)
>>> plan = SteeringPlan((SteeringTerm({1: torch.randn(32)}, strength=0.5),))
>>> out = generate(model, plan, duration_s=0.3, seed=1, window_s=0.2, context_s=0.1)
>>> out.codes.shape, out.audio.shape
(torch.Size([1, 4, 15]), torch.Size([1, 1, 9600]))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch

from musicrfm.checks import check_seed, is_finite, is_int
from musicrfm.steering.binding import ModelShape, unwrap_model
from musicrfm.steering.hooks import apply_plan
from musicrfm.steering.loop import Loop, Trace
from musicrfm.steering.monitor import as_readers
from musicrfm.steering.plan import SteeringPlan

_MISSING = object()
# Set per window by `generate` itself; a caller's value would silently break the window arithmetic.
_MANAGED_KWARGS = ("max_new_tokens", "max_length", "min_length", "decoder_input_ids", "input_values",
                   "encoder_outputs", "num_return_sequences")


@dataclass(frozen=True, eq=False)
class Generation:
    """Generated audio `(B, channels, samples)` and its codec codes `(B, codebooks, frames)`; with a monitor
    or closed-loop terms, `trace` holds the per-step readings and strengths (`musicrfm.steering.loop.Trace`)."""

    audio: torch.Tensor
    codes: torch.Tensor
    sampling_rate: int
    frame_rate: float
    trace: Trace | None = None

    @property
    def duration_s(self) -> float:
        """Length of the piece in seconds, from its frame count."""
        return self.codes.shape[-1] / self.frame_rate


def generate(
    model,
    plan: SteeringPlan | None = None,
    *,
    input_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    batch_size: int = 1,
    duration_s: float | None = None,
    max_new_tokens: int | None = None,
    prompt_codes: torch.Tensor | None = None,
    seed: int = 0,
    guidance_scale: float | None = 3.0,
    window_s: float = 30.0,
    context_s: float = 10.0,
    steer_prompt: bool = False,
    monitor: Sequence[object] | None = None,
    **generate_kwargs,
) -> Generation:
    """Generate `duration_s` seconds (or `max_new_tokens` tokens) of music, steered by `plan` if given.

    `model` is a `MusicgenForConditionalGeneration` or a `musicrfm.models.MusicGen`.

    Args:
        input_ids, attention_mask: tokenised text prompts; None generates unconditionally (`batch_size`).
        prompt_codes: optional `(B, codebooks, frames)` codes to continue; they start the returned piece.
        seed: seeds the sampling random stream (forked, so the caller's global RNG is left untouched).
        guidance_scale: classifier-free guidance; above 1 the batch is doubled (cond rows first).
        window_s, context_s: window length and the tail kept as the next window's prompt.
        steer_prompt: also steer the prompt positions of each window's first forward.
        monitor: probes (or `Reader`s) read live at every step into `Generation.trace`; no plan is needed.
        generate_kwargs: passed to `model.generate` (e.g. `top_k`, `temperature`); sampling is on by default.
    """
    model = unwrap_model(model)
    shape = ModelShape.of(model)
    frames = _frame_count(shape, duration_s, max_new_tokens)
    window, context = _window_frames(shape, window_s, context_s)
    cfg = _check_guidance(guidance_scale)
    text, batch = _text_inputs(model, input_ids, attention_mask, batch_size, cfg)
    codes = _initial_codes(model, prompt_codes, batch)
    total = codes.shape[-1] + frames
    managed = sorted(set(generate_kwargs) & set(_MANAGED_KWARGS))
    if managed:
        raise ValueError(f"generate sets {managed} itself; use duration_s / max_new_tokens / prompt_codes")
    generate_kwargs.setdefault("do_sample", True)
    settings = dict(text, guidance_scale=guidance_scale, **generate_kwargs)
    readers = as_readers(monitor)
    plan = SteeringPlan(()) if plan is None and readers else plan
    controlled = plan is not None and any(term.control is not None for term in plan.terms)
    loop = Loop(readers, cfg=cfg) if readers or controlled else None
    # max_steps spans the whole piece, so the first window already refuses a plan that fails later on.
    steering = None if plan is None else dict(plan=plan, cfg=cfg, steer_prompt=steer_prompt, max_steps=total,
                                              loop=loop)
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(check_seed(seed))
        first_audio, codes = _windows(model, shape, codes, total, window, context, settings, steering)
    # Several windows or a user prompt: decode the whole piece at once, so windows join without seams.
    stitched = first_audio is None or prompt_codes is not None
    audio = _decode(model, codes) if stitched else first_audio
    trace = None if loop is None else loop.trace(codes.shape[-1], batch)
    return Generation(audio=audio, codes=codes, sampling_rate=model.config.audio_encoder.sampling_rate,
                      frame_rate=shape.frame_rate, trace=trace)


def _windows(model, shape: ModelShape, codes: torch.Tensor, total: int, window: int, context: int,
             settings: dict, steering: dict | None) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Extend `codes` to `total` frames window by window; also returns the audio if one window sufficed."""
    audio, count = None, 0
    while codes.shape[-1] < total:
        done = codes.shape[-1]
        prompt = min(done, context)
        new = min(total - done, window - prompt)
        kwargs = dict(settings, max_new_tokens=new + shape.delay)
        if prompt:
            kwargs["decoder_input_ids"] = codes[:, :, done - prompt :].reshape(-1, prompt)
        hooks = nullcontext() if steering is None else apply_plan(
            model=model, frame_offset=done - prompt, **steering
        )
        with hooks, _captured_codes(model) as captured:
            audio = model.generate(**kwargs)
        codes = torch.cat([codes, _joined(captured)[:, :, prompt:]], dim=-1)
        count += 1
    return (audio if count == 1 else None), codes


def _frame_count(shape: ModelShape, duration_s: float | None, max_new_tokens: int | None) -> int:
    if (duration_s is None) == (max_new_tokens is None):
        raise ValueError("give exactly one of duration_s and max_new_tokens")
    if duration_s is not None:
        if not is_finite(duration_s) or duration_s <= 0:
            raise ValueError(f"duration_s must be a finite positive number, got {duration_s!r}")
        return max(1, round(duration_s * shape.frame_rate))
    if not is_int(max_new_tokens) or max_new_tokens <= shape.delay:
        raise ValueError(
            f"max_new_tokens must be an int above the codebook delay {shape.delay}, got {max_new_tokens!r}"
        )
    return max_new_tokens - shape.delay


def _window_frames(shape: ModelShape, window_s: float, context_s: float) -> tuple[int, int]:
    for field, value in (("window_s", window_s), ("context_s", context_s)):
        if not is_finite(value) or value < 0:
            raise ValueError(f"{field} must be a finite non-negative number, got {value!r}")
    window, context = round(window_s * shape.frame_rate), round(context_s * shape.frame_rate)
    if window < 1 or context >= window:
        raise ValueError(f"window_s ({window} frames) must be positive and exceed context_s ({context} frames)")
    return window, context


def _text_inputs(model, input_ids, attention_mask, batch_size, cfg: bool) -> tuple[dict, int]:
    if input_ids is None:
        if attention_mask is not None:
            raise ValueError("attention_mask was given without input_ids")
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if cfg and batch_size > 1:
            # generate() takes its batch size from encoder_outputs and doubles only the decoder rows, so
            # null text states cannot be batched under CFG; one row broadcasts.
            raise ValueError("batch_size > 1 without input_ids needs guidance_scale=None (no CFG)")
        unconditional = model.get_unconditional_inputs(num_samples=batch_size)
        return {"encoder_outputs": unconditional.encoder_outputs, "attention_mask": unconditional.attention_mask}, \
            batch_size
    if not isinstance(input_ids, torch.Tensor) or input_ids.ndim != 2 or input_ids.is_floating_point():
        raise ValueError("input_ids must be an integer tensor of shape (batch, text_length)")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask must be a tensor of input_ids' shape {tuple(input_ids.shape)}")
    return {"input_ids": input_ids, "attention_mask": attention_mask}, input_ids.shape[0]


def _initial_codes(model, prompt_codes: torch.Tensor | None, batch: int) -> torch.Tensor:
    codebooks = model.config.decoder.num_codebooks
    device = next(model.parameters()).device
    if prompt_codes is None:
        return torch.zeros(batch, codebooks, 0, dtype=torch.long, device=device)
    if not isinstance(prompt_codes, torch.Tensor) or prompt_codes.shape[:2] != (batch, codebooks) \
            or prompt_codes.ndim != 3 or prompt_codes.is_floating_point():
        raise ValueError(f"prompt_codes must be an integer tensor of shape ({batch}, {codebooks}, frames)")
    return prompt_codes.to(device)


def _check_guidance(guidance_scale: float | None) -> bool:
    if guidance_scale is None:
        return False
    if not is_finite(guidance_scale) or guidance_scale <= 0:
        raise ValueError(f"guidance_scale must be a finite positive number or None, got {guidance_scale!r}")
    return guidance_scale > 1


@contextmanager
def _captured_codes(model) -> Iterator[list[torch.Tensor]]:
    # MusicGen's generate returns only audio; its codes pass through audio_encoder.decode as
    # (1, B, K, T), so an instance-level wrapper sees them (twice, left then right, for stereo).
    captured: list[torch.Tensor] = []
    codec = model.audio_encoder
    original = codec.decode
    shadowed = codec.__dict__.get("decode", _MISSING)

    def recording_decode(audio_codes, *args, **kwargs):
        captured.append(audio_codes[0])
        return original(audio_codes, *args, **kwargs)

    codec.decode = recording_decode
    try:
        yield captured
    finally:
        if shadowed is _MISSING:
            del codec.decode
        else:
            codec.decode = shadowed


def _joined(captured: list[torch.Tensor]) -> torch.Tensor:
    if len(captured) == 1:
        return captured[0]
    left, right = captured
    joined = left.new_empty(left.shape[0], 2 * left.shape[1], left.shape[2])
    joined[:, ::2], joined[:, 1::2] = left, right
    return joined


def _decode(model, codes: torch.Tensor) -> torch.Tensor:
    scales = [None] * codes.shape[0]
    if model.config.decoder.audio_channels != 2:
        return model.audio_encoder.decode(codes[None], audio_scales=scales).audio_values
    halves = [model.audio_encoder.decode(codes[None, :, side::2], audio_scales=scales).audio_values for side in (0, 1)]
    return torch.cat(halves, dim=1)
