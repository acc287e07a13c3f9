"""GPU check for RFMSearch: the same probe search on CUDA and on the CPU, timed; the selected scores must agree.

Float32 rounding differs between devices, so the two searches may promote slightly different
configurations; the check asks for best validation AUCs within 0.01 and prints both.

Usage (on a machine with a GPU): ``python benchmarks/agop_search_cuda_check.py [--dims 1024 2048]``.
Last line: ``RESULT cuda_ok=<0|1> d=<dims> cuda_s=<...> cpu_s=<...> auc_cuda=<...> auc_cpu=<...>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import probe_task, timed  # noqa: E402

from musicrfm.agop.search import RFMSearch  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", type=int, nargs="+", default=[1024, 2048])
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("RESULT cuda_ok=0 reason=no_cuda_device")
        sys.exit(1)
    for d in args.dims:
        (X, y), (Xv, yv), _ = probe_task(d=d)

        def search(device: str) -> RFMSearch:
            out = RFMSearch(device=device, random_state=0).fit(X, y, Xv, yv)
            if device == "cuda":
                torch.cuda.synchronize()
            return out

        search("cuda")  # warm-up: CUDA context, cuBLAS/cuSOLVER handles
        gpu, t_gpu = timed(lambda: search("cuda"))
        cpu, t_cpu = timed(lambda: search("cpu"))
        ok = int(abs(gpu.best_score_ - cpu.best_score_) < 0.01)
        print(f"RESULT cuda_ok={ok} d={d} cuda_s={t_gpu:.2f} cpu_s={t_cpu:.2f} "
              f"auc_cuda={gpu.best_score_:.4f} auc_cpu={cpu.best_score_:.4f}")


if __name__ == "__main__":
    main()
