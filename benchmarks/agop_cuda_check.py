"""GPU check for musicrfm.agop: the same RFM fitted on CPU and CUDA agrees, and CUDA is picked by "auto".

Probe-like data (n = 1400, d = 1024, binary labels from a few directions). Prints per-device fit times
and the largest prediction difference, then one line:
RESULT cuda_auto=<0|1> max_abs_diff_f64=<...> cpu_s=<...> cuda_s=<...>

    python benchmarks/agop_cuda_check.py
"""

from __future__ import annotations

import sys
import time

import torch

from musicrfm.agop import RFMClassifier


def probe_task(n: int = 1400, d: int = 1024, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    W = torch.randn(d, 3, generator=g, dtype=torch.float64) / d**0.5
    y = ((X @ W).tanh().sum(1) + 0.2 * torch.randn(n, generator=g, dtype=torch.float64) > 0).long()
    return X, y


def timed_fit(X: torch.Tensor, y: torch.Tensor, device: str) -> tuple[RFMClassifier, float]:
    model = RFMClassifier(bandwidth=20.0, reg=1e-3, iters=5, early_stopping=False, dtype="float64", device=device)
    start = time.perf_counter()
    model.fit(X[:1000], y[:1000])
    if device == "cuda":
        torch.cuda.synchronize()
    return model, time.perf_counter() - start


def main() -> int:
    if not torch.cuda.is_available():
        print("CUDA is not available here; run this on the GPU machine")
        return 1
    X, y = probe_task()
    auto = RFMClassifier(iters=0).fit(X[:50], y[:50]).device_.type == "cuda"
    cpu_model, cpu_s = timed_fit(X, y, "cpu")
    cuda_model, cuda_s = timed_fit(X, y, "cuda")
    diff = (cpu_model.decision_function(X[1000:]) - cuda_model.decision_function(X[1000:]).cpu()).abs().max()
    print(f"cpu fit {cpu_s:.2f}s, cuda fit {cuda_s:.2f}s, test accuracy {cuda_model.score(X[1000:], y[1000:]):.3f}")
    print(f"RESULT cuda_auto={int(auto)} max_abs_diff_f64={float(diff):.2e} cpu_s={cpu_s:.2f} cuda_s={cuda_s:.2f}")
    return 0 if auto and diff < 1e-8 else 1


if __name__ == "__main__":
    sys.exit(main())
