"""Probe training at MusicGen-small's scale: the per-layer search over 24 layers and activation extraction.

1. Search: `fit_layers` (the fast RFM search, default settings: 100 configurations, up to 30 AGOP rounds,
   plus directions and held-out scores) on synthetic activations shaped like MusicGen-small's pooled states,
   n = 1400 clips x 24 layers x d = 1024: Student-t (df 3) features in a random rotation, 12 classes, the
   one-vs-rest target planted along a direction whose strength grows with depth. Compared with the research
   procedure's time for the same work (xrfm, 100 configurations per layer: ~345 s per layer measured on 2
   cores, ~2.3 hours for 24 layers).
2. Extraction: `extract_activations` (EnCodec encoding + hooked, pooled, early-stopping decoder pass,
   streamed to the cache) on MusicGen-small's decoder and 32 kHz EnCodec architectures with random
   weights, against a bare no-cache decoder forward on the same codes (`benchmarks/extraction.py`).

    python benchmarks/probe_training.py            # the full run (about 10-20 minutes on 2 quiet cores)
    python benchmarks/probe_training.py --quick    # 1 layer searched (time x 24) and 2 short clips

Last line: RESULT search_seconds=<all 24 layers> extraction_clips_per_s=<> peak_rss_gib=<>
capture_vs_bare=<extraction time less encoding / bare forward time>
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

import numpy as np
from extraction import bare_forward  # sibling script: same folder on sys.path

from musicrfm.data import make_dataset
from musicrfm.data.splits import stratified_split
from musicrfm.models import MusicGen, encode_audio
from musicrfm.models.random_weights import random_musicgen
from musicrfm.probes import extract_activations, fit_layers
from musicrfm.probes.activations import weights_digest

RESEARCH_SECONDS_PER_LAYER = 345.0  # xrfm, 100 configurations, d = 1024, n = 1400, 2 cores (FIELD_NOTES)
N_LAYERS, WIDTH, CLIPS, CLASSES = 24, 1024, 1400, 12


def synthetic_activations(n_layers: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Activations (CLIPS, n_layers, WIDTH), class labels and the one-vs-rest target (class 0)."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(WIDTH, WIDTH)))
    labels = np.arange(CLIPS) % CLASSES
    centres = rng.normal(size=(CLASSES, WIDTH)) / np.sqrt(WIDTH)
    X = np.empty((CLIPS, n_layers, WIDTH), dtype=np.float32)
    for layer in range(n_layers):
        strength = 1.0 + 3.0 * layer / max(N_LAYERS - 1, 1)
        X[:, layer] = rng.standard_t(df=3, size=(CLIPS, WIDTH)) @ rotation + strength * 6.0 * centres[labels]
    return X, labels, (labels == 0).astype(np.int64)


def time_search(n_layers: int) -> tuple[float, list[float]]:
    X, labels, y = synthetic_activations(n_layers)
    split = stratified_split(labels, seed=0)
    start = time.perf_counter()
    fits = fit_layers(X, y, (split.train, split.val, split.test), task="binary", k=3,
                      progress=lambda stage, done, total: print(f"  {stage} layer {done}/{total}", flush=True))
    return time.perf_counter() - start, [f.val_score for f in fits]


def time_extraction(n_clips: int, seconds: float, batch_size: int, rounds: int) -> dict[str, float]:
    """Median seconds, over interleaved rounds, of extract_activations (all 24 layers, cold cache each
    round), a bare no-cache forward on the same codes, and the EnCodec encoding alone (which the extraction
    includes and the bare forward does not); plus the one-time weight digest that keys the cache."""
    mg = MusicGen.from_model(random_musicgen("small"), name="musicgen-small architecture (random weights)")
    per_class = -(-n_clips // 2)
    ds = make_dataset("notes", n_per_class=per_class, classes=["C", "G"], duration_s=seconds, backend="numpy")
    ds = ds.subset(range(n_clips))
    start = time.perf_counter()
    weights_digest(mg)
    digest = time.perf_counter() - start
    codes = encode_audio(mg, list(ds.audio), ds.sample_rate, batch_size=batch_size)
    bare_forward(mg, codes[:1], 1)  # warm-up: allocator pools and kernels
    runs = {
        "encode": lambda: encode_audio(mg, list(ds.audio), ds.sample_rate, batch_size=batch_size),
        "bare": lambda: bare_forward(mg, codes, batch_size),
        "extract": lambda: _extract_cold(mg, ds, batch_size),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {"digest": digest, **{name: float(np.median(t)) for name, t in times.items()}}


def _extract_cold(mg: MusicGen, ds, batch_size: int) -> None:
    with tempfile.TemporaryDirectory() as cache:
        extract_activations(mg, ds, layers=tuple(range(mg.num_layers)), batch_size=batch_size, cache_dir=cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="search 1 layer (time x 24), extract 2 clips of 2 s")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved extraction rounds")
    args = parser.parse_args()
    layers = 1 if args.quick else N_LAYERS
    clips, seconds = (2, 2.0) if args.quick else (args.clips, args.seconds)
    rounds = 1 if args.quick else args.rounds

    print(f"search: {CLIPS} clips x {layers} layer(s) x d={WIDTH}, default fast search", flush=True)
    took, scores = time_search(layers)
    search_seconds = took * N_LAYERS / layers
    research = RESEARCH_SECONDS_PER_LAYER * N_LAYERS
    note = " (extrapolated from 1 layer)" if args.quick else ""
    print(f"| search, 24 layers | {search_seconds:.0f} s{note} | research procedure ~{research:.0f} s | "
          f"speed-up {research / search_seconds:.1f}x | val AUC {min(scores):.3f}..{max(scores):.3f} |")

    print(f"extraction: {clips} clips of {seconds:g} s, musicgen-small architecture, 24 layers, "
          f"{rounds} interleaved round(s), medians", flush=True)
    t = time_extraction(clips, seconds, args.batch_size, rounds)
    extract_rate = clips / t["extract"]
    print(f"| extraction | {extract_rate:.3f} clips/s (encode + capture + cache) | bare no-cache forward "
          f"{clips / t['bare']:.3f} clips/s | capture (extraction less encoding) / bare "
          f"{(t['extract'] - t['encode']) / t['bare']:.3f} | encoding alone {clips / t['encode']:.3f} clips/s | "
          f"one-time weight digest {t['digest']:.1f} s |")
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"RESULT search_seconds={search_seconds:.1f} extraction_clips_per_s={extract_rate:.3f} "
          f"peak_rss_gib={peak_gib:.2f} capture_vs_bare={(t['extract'] - t['encode']) / t['bare']:.3f}")


if __name__ == "__main__":
    main()
