"""GPU check of the MusicGen backend and the steering engine in half precision.

On a CUDA machine: a tiny model saved to disk loads through `load_musicgen` with device/dtype "auto"
(expect cuda + float16); then MusicGen-small's full architecture (random weights, fp16) generates 2 s with
CFG 3 unsteered, with a zero-strength plan and with a 24-layer two-concept plan. Checks: zero strength is
identical to unsteered, steering changes the codes, audio is finite. Last line:
RESULT auto_device=<> auto_dtype=<> zero_identical=<0|1> steered_differs=<0|1> finite=<0|1>
unsteered_s=<median> steered_s=<median> overhead_ratio=<steered / unsteered>

    python benchmarks/cuda_steering_check.py [--seconds 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch

from musicrfm.models import MusicGen, load_musicgen
from musicrfm.models.random_weights import random_musicgen
from musicrfm.models.random_weights import tiny_musicgen
from musicrfm.steering import LinearRamp, Sine, SteeringPlan, SteeringTerm, generate


def auto_load() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        tiny_musicgen(seed=0).save_pretrained(folder)
        mg = load_musicgen(folder)
        out = generate(mg, None, duration_s=0.2, seed=0)
        assert torch.isfinite(out.audio).all()
        return mg.device.type, str(mg.dtype).removeprefix("torch.")


def plan(width: int, layers: int, strength: float) -> SteeringPlan:
    g = torch.Generator().manual_seed(0)
    note = SteeringTerm(torch.randn(layers, width, generator=g), strength=strength,
                        schedule=LinearRamp(0.0, 1.0), gate_p=0.3, name="note")
    tempo = SteeringTerm(torch.randn(layers, width, generator=g), strength=strength / 2,
                         schedule=Sine(frequency=1.0), target="cond", name="tempo")
    return SteeringPlan((note, tempo))


def timed(mg: MusicGen, steering: SteeringPlan | None, inputs: dict, seconds: float) -> tuple[float, torch.Tensor, torch.Tensor]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = generate(mg, steering, duration_s=seconds, seed=0, guidance_scale=3.0, **inputs)
    torch.cuda.synchronize()
    return time.perf_counter() - start, out.codes.cpu(), out.audio.float().cpu()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("CUDA is not available here; run this on the GPU machine")
        return 1
    device, dtype = auto_load()
    mg = MusicGen.from_model(random_musicgen("small", device="cuda", dtype=torch.float16), name="small-random")
    inputs = dict(input_ids=torch.tensor([[71, 1527, 3, 1]], device="cuda"),
                  attention_mask=torch.ones(1, 4, dtype=torch.long, device="cuda"))
    steered_plan = plan(mg.hidden_size, mg.num_layers, strength=8.0)
    timed(mg, None, inputs, 0.5)  # warm-up
    runs: dict[str, list[float]] = {"unsteered": [], "steered": []}
    for _ in range(args.repeats):
        t, base_codes, base_audio = timed(mg, None, inputs, args.seconds)
        runs["unsteered"].append(t)
        t, steered_codes, steered_audio = timed(mg, steered_plan, inputs, args.seconds)
        runs["steered"].append(t)
    _, zero_codes, _ = timed(mg, plan(mg.hidden_size, mg.num_layers, strength=0.0), inputs, args.seconds)
    zero_identical = bool(torch.equal(zero_codes, base_codes))
    differs = not torch.equal(steered_codes, base_codes)
    finite = bool(torch.isfinite(base_audio).all() and torch.isfinite(steered_audio).all())
    median = {name: statistics.median(times) for name, times in runs.items()}
    print(f"RESULT auto_device={device} auto_dtype={dtype} zero_identical={int(zero_identical)} "
          f"steered_differs={int(differs)} finite={int(finite)} unsteered_s={median['unsteered']:.2f} "
          f"steered_s={median['steered']:.2f} overhead_ratio={median['steered'] / median['unsteered']:.3f}")
    return 0 if (device == "cuda" and dtype == "float16" and zero_identical and differs and finite) else 1


if __name__ == "__main__":
    sys.exit(main())
