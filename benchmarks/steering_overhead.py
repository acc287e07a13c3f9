"""Cost of steering during generation: unsteered vs a 24-layer multi-concept plan vs a research-style hook.

Builds MusicGen-small's full architecture from configs with random weights (no download: T5-base text
encoder, 24-layer d=1024 decoder with 4 x 2048 codebooks, 32 kHz EnCodec), then generates `--seconds` of
audio at batch 1 with CFG 3 and sampling, timing in interleaved rounds (the order rotates each round):
- unsteered: plain `model.generate`;
- steered: inside `apply_plan(plan, model)` with three concepts on all 24 layers (exponential / top-k / all
  layer weights; ramp, decay and LFO schedules; a p=0.3 gate; both-halves, cond-only and relative terms;
  orthogonalised), binding and validation included in the timed region;
- research: a forward hook per layer adding one fixed vector to every row and position.
Every variant uses the same seed. Run (the lead's full run; `--quick` for a short check while developing):

    python benchmarks/steering_overhead.py [--seconds 2] [--rounds 5] [--threads 2] [--device cpu] [--quick]

Last line: RESULT overhead_ratio=<steered median / unsteered median>
research_hook_ratio=<research-style median / unsteered median>
paired_overhead_ratio=<median over rounds of steered / unsteered> hook_share_of_step=<plan hooks' time / step>
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack, contextmanager, nullcontext

import torch

from musicrfm.models.random_weights import random_musicgen
from musicrfm.steering import (
    ExponentialDecay,
    LayerWeights,
    LinearRamp,
    Sine,
    SteeringPlan,
    SteeringTerm,
)

LAYERS, WIDTH, GUIDANCE = 24, 1024, 3.0


def unit_rows(matrix: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm: one direction per layer."""
    return torch.nn.functional.normalize(matrix, dim=1)


def concept_plan(seconds: float) -> SteeringPlan:
    """Three concepts on all 24 layers, each with its own weights, schedule, gate, target and mode.

    Strengths are sized to this random model's residual stream (norm ~22 to 55), so they matter.
    """
    generator = torch.Generator().manual_seed(1)
    directions = lambda: unit_rows(torch.randn(LAYERS, WIDTH, generator=generator))  # noqa: E731
    scores = {layer: float(s) for layer, s in enumerate(torch.rand(LAYERS, generator=generator))}
    return SteeringPlan((
        SteeringTerm(directions(), strength=8.0, layers=LayerWeights.exponential(scores),
                     schedule=LinearRamp(0.0, seconds), gate_p=0.3, seed=7, name="major"),
        SteeringTerm(directions(), strength=-5.0, layers=LayerWeights.top_k(12, scores),
                     schedule=ExponentialDecay(half_life=seconds / 2), target="cond", name="tempo"),
        SteeringTerm(directions(), strength=0.2, schedule=Sine(frequency=2.0), mode="relative", name="timbre"),
    ), orthogonalize=True)


@contextmanager
def research_hooks(model):
    """The research code's injection: one fixed vector added to every row and position of every layer."""
    vectors = unit_rows(torch.randn(LAYERS, WIDTH, generator=torch.Generator().manual_seed(2))).to(model.device)
    with ExitStack() as stack:
        for layer, vector in zip(model.decoder.model.decoder.layers, 0.5 * vectors):
            handle = layer.register_forward_hook(lambda module, args, output, v=vector: output + v)
            stack.callback(handle.remove)
        yield


def hook_cost(model, plan: SteeringPlan, tokens: int, repeats: int = 200) -> tuple[float, int]:
    """Seconds per decoding step spent in the plan's own hooks (step pre-hook + 24 layer hooks), and how
    many layers the last step changed.

    Calls the registered hook functions directly on a CFG-doubled one-position state, so the number is
    free of the model's compute and of the noise of a shared machine.
    """
    decoder = model.decoder.model.decoder
    device = model.device
    codes, hidden = torch.zeros(2, 4, 1, dtype=torch.long, device=device), torch.randn(2, 1, WIDTH, device=device)
    with apply_plan(plan, model, max_steps=tokens):
        pre_hooks = list(decoder.embed_positions._forward_pre_hooks.values())
        layer_hooks = [(layer, list(layer._forward_hooks.values())) for layer in decoder.layers]
        start = time.perf_counter()
        for step in range(repeats):
            for hook in pre_hooks:
                hook(decoder.embed_positions, (codes, tokens - 1), {})
            outputs = [hook(layer, (hidden,), hidden) for layer, hooks in layer_hooks for hook in hooks]
        synchronize(device)
        elapsed = (time.perf_counter() - start) / repeats
    return elapsed, sum(out is not None and not torch.equal(out, hidden) for out in outputs)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall times cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_once(model, inputs, tokens: int, context) -> float:
    """Wall time of one seeded generation inside `context()`."""
    torch.manual_seed(0)
    synchronize(model.device)
    start = time.perf_counter()
    with context():
        model.generate(**inputs, max_new_tokens=tokens, do_sample=True, guidance_scale=GUIDANCE)
    synchronize(model.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quick", action="store_true", help="0.2 s of audio, 2 rounds")
    args = parser.parse_args()
    seconds, rounds = (0.2, 2) if args.quick else (args.seconds, args.rounds)
    torch.set_num_threads(args.threads)
    model = random_musicgen("small", device=args.device)
    tokens = round(50 * seconds) + 3  # 50 frames/s plus the codebook delay
    plan = concept_plan(seconds)
    ids = torch.randint(0, 32128, (1, 8), generator=torch.Generator().manual_seed(3)).to(args.device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    variants = {
        "unsteered": nullcontext,
        "steered": lambda: apply_plan(plan, model, max_steps=tokens),
        "research": lambda: research_hooks(model),
    }
    with torch.no_grad():
        run_once(model, inputs, 4, nullcontext)  # warm-up: first-call allocations and lazy imports
        times = {name: [] for name in variants}
        for round_index in range(rounds):
            names = list(variants)
            for name in names[round_index % 3 :] + names[: round_index % 3]:
                elapsed = run_once(model, inputs, tokens, variants[name])
                times[name].append(elapsed)
            print(f"round {round_index + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in variants), flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{seconds:g} s audio, {tokens} tokens, batch 1, CFG {GUIDANCE:g}, {args.device}, {args.threads} threads; "
          "medians: "
          + ", ".join(f"{n} {m:.3f}s" for n, m in medians.items()))
    # Adjacent runs share the machine's state, so per-round ratios cancel slow drifts in load.
    paired = {name: statistics.median(t / u for t, u in zip(times[name], times["unsteered"]))
              for name in ("steered", "research")}
    print(f"per-round ratios, median: steered {paired['steered']:.4f}, research {paired['research']:.4f}")
    per_step, changed = hook_cost(model, plan, tokens)
    step_time = medians["unsteered"] / (tokens + 1)  # transformers 5.x runs the first forward twice
    print(f"plan hooks alone: {1e3 * per_step:.3f} ms per step = {100 * per_step / step_time:.3f}% of an "
          f"unsteered step ({1e3 * step_time:.1f} ms); they changed {changed}/{LAYERS} layers at the last step")
    print(f"RESULT overhead_ratio={medians['steered'] / medians['unsteered']:.4f} "
          f"research_hook_ratio={medians['research'] / medians['unsteered']:.4f} "
          f"paired_overhead_ratio={paired['steered']:.4f} hook_share_of_step={per_step / step_time:.4f}")


if __name__ == "__main__":
    main()
