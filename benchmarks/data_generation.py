"""Concept-dataset rendering throughput on this machine's CPU, per backend.

Renders the research-sized note dataset (12 classes x 25 clips, 2 s, 32 kHz) and a chord-progression one
(10 x 10 clips, 4 s) with each available backend and reports clips per second. Run:

    python benchmarks/data_generation.py

Last line: RESULT <concept>_<backend>_clips_per_s=<> for each case and backend (a backend that is
unavailable here reports nan).
"""

from __future__ import annotations

import time

from musicrfm.data import fluidsynth_unavailable, make_dataset

CASES = (("notes", 25), ("progressions", 10))


def clips_per_second(concept: str, n_per_class: int, backend: str) -> float:
    start = time.perf_counter()
    ds = make_dataset(concept, n_per_class, backend=backend)
    seconds = time.perf_counter() - start
    print(f"{concept:>13} {backend:>10}: {len(ds)} clips in {seconds:.2f} s ({len(ds) / seconds:.0f} clips/s)")
    return len(ds) / seconds


def main() -> None:
    available = ["numpy"] if fluidsynth_unavailable() else ["fluidsynth", "numpy"]
    fields = []
    for concept, n_per_class in CASES:
        for backend in ("fluidsynth", "numpy"):
            rate = clips_per_second(concept, n_per_class, backend) if backend in available else float("nan")
            fields.append(f"{concept}_{backend}_clips_per_s={rate:.1f}")
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
