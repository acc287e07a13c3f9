"""Hidden-state capture throughput and memory vs a bare no-cache decoder forward.

Builds MusicGen-small's full architecture (decoder d 1024, 24 layers, 16 heads, ffn 4096, 4 x 2048
codebooks; T5-base; 32 kHz EnCodec) with random weights, then times, in
interleaved rounds on the same random clips:
- bare: `model.decoder(input_ids=..., use_cache=False)` on the delayed codes, no hooks;
- capture: `capture_hidden_states` with mean pooling over all 24 layers.
Peak resident memory is measured per phase (Linux: VmHWM, reset through /proc/self/clear_refs) above the
resident size right after the model is built, before any forward. Run (defaults fit a shared 2-core CPU; pass --device cuda on a GPU):

    python benchmarks/extraction.py [--clips 2] [--seconds 2] [--batch-size 2] [--rounds 3] [--device cpu]

Last line: RESULT capture_clips_per_s=<> bare_clips_per_s=<> time_ratio=<capture / bare median>
capture_peak_mib=<above model> bare_peak_mib=<above model> model_rss_mib=<>
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from musicrfm.models import MusicGen, capture_hidden_states, delay_codes
from musicrfm.models.random_weights import random_musicgen

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def small_architecture(device: str) -> MusicGen:
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model = random_musicgen("small", device=device, dtype=dtype)
    return MusicGen.from_model(model, name="musicgen-small architecture (random weights)")


def rss_mib(field: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        pass  # peaks then accumulate over phases; the report still bounds them from above


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.inference_mode()
def bare_forward(mg: MusicGen, clips: list[torch.Tensor], batch_size: int) -> None:
    for start in range(0, len(clips), batch_size):
        inputs = delay_codes(torch.stack(clips[start : start + batch_size]), mg.pad_token_id).to(mg.device)
        mg.model.decoder(input_ids=inputs.reshape(-1, inputs.shape[-1]), use_cache=False)


def timed(run, device: str) -> tuple[float, float]:
    """Seconds and peak resident MiB of one call."""
    reset_peak()
    start = time.perf_counter()
    run()
    sync(device)
    return time.perf_counter() - start, rss_mib("VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    mg = small_architecture(args.device)
    frames = int(args.seconds * mg.frame_rate)
    gen = torch.Generator().manual_seed(0)
    clips = [torch.randint(0, 2048, (4, frames), generator=gen) for _ in range(args.clips)]
    runs = {
        "bare": lambda: bare_forward(mg, clips, args.batch_size),
        "capture": lambda: capture_hidden_states(mg, clips, batch_size=args.batch_size),
    }
    model_rss = rss_mib("VmRSS")
    for run in runs.values():  # warm-up: allocator pools and kernels
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    peaks: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            took, peak = timed(run, args.device)
            seconds[name].append(took)
            peaks[name].append(peak - model_rss)
            print(f"{name:>8}: {took:.2f} s, peak {peak - model_rss:.0f} MiB above the model")
    median = {name: statistics.median(values) for name, values in seconds.items()}
    print(f"RESULT capture_clips_per_s={args.clips / median['capture']:.3f} "
          f"bare_clips_per_s={args.clips / median['bare']:.3f} time_ratio={median['capture'] / median['bare']:.3f} "
          f"capture_peak_mib={max(peaks['capture']):.0f} bare_peak_mib={max(peaks['bare']):.0f} "
          f"model_rss_mib={model_rss:.0f}")


if __name__ == "__main__":
    main()
