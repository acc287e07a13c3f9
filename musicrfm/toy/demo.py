"""`musicrfm demo`: the whole method on the embedded toy model, offline, in a few minutes on a laptop CPU.

1. load the toy MusicGen (training it into the cache the first time, ~3 minutes);
2. train a 12-class note probe with the real pipeline (rendered notes dataset at the toy codec's rate,
   activations, RFM search, AGOP directions), cached so a second run skips it;
3. generate unsteered and steered clips for the same seeds, sweeping the strength, and measure target-note
   accuracy on the decoded audio with the evaluation package's chroma estimator;
4. render a C (2 s) -> E (2 s) -> G sequence schedule and score each segment;
5. write the WAVs, `accuracy_vs_strength.png`, `sequence_chromagram.png` and `report.md` into `--out`.

The pieces (`note_probe`, `steered`, `sweep`, `sequence_render`) are what the effectiveness tests and
`benchmarks/toy_steering.py` drive.

>>> DemoConfig(strengths=(0.0, 1.0), clips=1).strengths
(0.0, 1.0)
>>> parse_args(["--quick", "--out", "demo_out"]).quick
True
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicrfm.checks import check_int, is_real
from musicrfm.evaluation import chromagram, note_accuracy, plot_accuracy_vs_strength, plot_chromagram, segment_accuracy
from musicrfm.evaluation.report import markdown_table
from musicrfm.files import write_text_atomically
from musicrfm.models.audio import write_audio
from musicrfm.models.toy.load import ToyModel, load_toy
from musicrfm.probes import ConceptProbe
from musicrfm.steering import ConceptSequence, Generation, SteeringPlan, SteeringTerm, generate
from musicrfm.toy.probes import ToyProbeSettings, toy_probe

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SEQUENCE = (("C", 2.0), ("E", 2.0), ("G", 2.0))
"""The demo's sequence schedule: (pitch class, seconds) segments played back to back."""


@dataclass(frozen=True)
class DemoConfig:
    """What the demo trains and renders; `QUICK` is the small variant behind `--quick`."""

    target: str = "C"
    strengths: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)
    clips: int = 4
    duration_s: float = 4.0
    prompt: str = "happy piano"
    n_per_class: int = 12
    n_configs: int = 16
    max_iters: int = 8
    sequence_strength: float = 1.5
    seed: int = 0
    probe_seed: int = 0

    def __post_init__(self) -> None:
        if self.target not in PITCH_CLASSES:
            raise ValueError(f"target must be one of {PITCH_CLASSES}, got {self.target!r}")
        strengths = tuple(self.strengths) if isinstance(self.strengths, (list, tuple)) else None
        numbers = strengths and all(is_real(s) for s in strengths)
        if not numbers or min(strengths) < 0:
            raise ValueError(f"strengths must be a non-empty sequence of numbers >= 0, got {self.strengths!r}")
        object.__setattr__(self, "strengths", tuple(float(s) for s in strengths))
        for name in ("clips", "n_per_class", "n_configs", "max_iters"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.seed, "seed", low=0)
        check_int(self.probe_seed, "probe_seed", low=0)
        for name in ("duration_s", "sequence_strength"):
            value = getattr(self, name)
            if not is_real(value) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not isinstance(self.prompt, str):
            raise TypeError(f"prompt must be a string, got {type(self.prompt).__name__}")


# The probe settings stay those of the full demo: its search takes seconds on the toy model, and a smaller
# one gave seed-dependent directions (0.6 accuracy for some seeds).
QUICK = DemoConfig(strengths=(0.0, 0.5, 1.0, 2.0), clips=2, duration_s=2.0)


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def note_probe(toy: ToyModel, config: DemoConfig = DemoConfig(), *, quiet: bool = True) -> ConceptProbe:
    """The 12-class note probe of the toy model: the built-in `notes` probe of `musicrfm.toy.probes` with
    the config's dataset and search settings, trained with the real pipeline or loaded from the cache.

    It is cached like every built-in toy probe, keyed by the toy model's folder, the settings and the
    musicrfm version (so `musicrfm render` on the toy model reuses it); probes cached by earlier versions
    under `demo-probes/` are not read.
    """
    settings = ToyProbeSettings(n_per_class=config.n_per_class, n_configs=config.n_configs,
                                max_iters=config.max_iters, seed=config.probe_seed)
    return toy_probe(toy, "notes", settings, progress=None if quiet else _probe_progress,
                     notice=None if quiet else lambda text: _say(text, False))


def _probe_progress(stage: str, done: int, total: int) -> None:
    if done == total:
        print(f"  {stage}: {done}/{total} done", file=sys.stderr, flush=True)


def steered(toy: ToyModel, terms: tuple[SteeringTerm, ...], *, prompts: list[str], duration_s: float,
            seed: int) -> Generation:
    """Generate one clip per prompt with `terms` injected (none: unsteered), same seed either way."""
    text = toy.tokenizer(prompts)
    plan = SteeringPlan(terms) if terms else None
    return generate(toy.model, plan, input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                    duration_s=duration_s, seed=seed)


def clip_accuracies(generation: Generation, target: str) -> list[float]:
    """Target-note accuracy of every clip, read from its decoded audio (silent clips count as 0)."""
    scores = [note_accuracy(clip[0].numpy(), generation.sampling_rate, target) for clip in generation.audio]
    return [0.0 if np.isnan(s) else float(s) for s in scores]


def sweep(toy: ToyModel, probe: ConceptProbe, *, targets: tuple[str, ...], strengths: tuple[float, ...],
          prompts: list[str], duration_s: float, seed: int) -> list[dict[str, Any]]:
    """One row per (strength, target): mean accuracy over the prompts' clips, and the generations."""
    rows = []
    for strength in strengths:
        for target in targets:
            terms = (probe.term(strength, target=target),) if strength else ()
            generation = steered(toy, terms, prompts=prompts, duration_s=duration_s, seed=seed)
            scores = clip_accuracies(generation, target)
            rows.append({"strength": strength, "target": target, "accuracy": float(np.mean(scores)),
                         "worst_clip": min(scores), "generation": generation})
    return rows


def sequence_schedule(frame_rate: float, segments: tuple[tuple[str, float], ...] = SEQUENCE) -> ConceptSequence:
    """Back-to-back segments with short crossfades, timed at the model's frame rate."""
    return ConceptSequence.chain(list(segments), crossfade=0.2, frame_rate=frame_rate)


def sequence_render(toy: ToyModel, probe: ConceptProbe, *, strength: float, prompt: str, seed: int,
                    segments: tuple[tuple[str, float], ...] = SEQUENCE):
    """(generation, schedule, per-segment scores) of a sequence schedule, one term per concept."""
    schedule = sequence_schedule(toy.codec.frame_rate, segments)
    terms = tuple(probe.term(strength, target=c, schedule=schedule.for_concept(c)) for c in schedule.concepts)
    generation = steered(toy, terms, prompts=[prompt], duration_s=sum(s for _, s in segments), seed=seed)
    scores = segment_accuracy(generation.audio[0, 0].numpy(), generation.sampling_rate, schedule)
    return generation, schedule, scores


def run_demo(out: Path, config: DemoConfig = DemoConfig(), *, quiet: bool = False) -> Path:
    """Run every step of the demo into folder `out` (created); returns the report's path."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _say("[1/5] toy MusicGen (trained into the cache on first use, ~3 min)", quiet)
    toy = load_toy(progress=not quiet)
    with _one_thread():
        return _steer_and_report(toy, out, config, quiet, started)


@contextmanager
def _one_thread() -> Iterator[None]:
    """The toy model's tensors are tiny: on a shared CPU, extra torch threads only slow it down (~10x seen)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _steer_and_report(toy: ToyModel, out: Path, config: DemoConfig, quiet: bool, started: float) -> Path:
    _say("[2/5] note probe (real pipeline: rendered notes, activations, RFM search, AGOP directions)", quiet)
    probe = note_probe(toy, config, quiet=quiet)
    _say(f"[3/5] strength sweep toward {config.target}: {len(config.strengths)} strengths x {config.clips} clips",
         quiet)
    table, best = _write_sweep(toy, probe, out, config)
    _say("[4/5] sequence schedule C (2 s) -> E (2 s) -> G (2 s)", quiet)
    scores = _write_sequence(toy, probe, out, config)
    _say("[5/5] report", quiet)
    report = _report(config, probe, table, best, scores, time.perf_counter() - started)
    path = write_text_atomically(out / "report.md", report)
    _say(f"done in {time.perf_counter() - started:.0f} s: {path}", quiet)
    return path


def _write_sweep(toy: ToyModel, probe: ConceptProbe, out: Path, config: DemoConfig) -> tuple[list[dict], dict]:
    """Sweep rows (without audio) and the best one; writes the unsteered and best clips and the plot."""
    rows = sweep(toy, probe, targets=(config.target,), strengths=config.strengths,
                 prompts=[config.prompt] * config.clips, duration_s=config.duration_s, seed=config.seed)
    best = max(rows, key=lambda row: row["accuracy"])
    write_audio(out / "unsteered.wav", rows[0]["generation"].audio[0].numpy(), toy.codec.sample_rate)
    write_audio(out / f"steered_{config.target}.wav", best["generation"].audio[0].numpy(), toy.codec.sample_rate)
    table = [{k: v for k, v in row.items() if k != "generation"} for row in rows]
    plot_accuracy_vs_strength(table, path=out / "accuracy_vs_strength.png")
    return table, best


def _write_sequence(toy: ToyModel, probe: ConceptProbe, out: Path, config: DemoConfig):
    """Per-segment scores of the C -> E -> G render; writes its audio and its chromagram with the schedule."""
    generation, schedule, scores = sequence_render(toy, probe, strength=config.sequence_strength,
                                                   prompt=config.prompt, seed=config.seed)
    audio, sr = generation.audio[0, 0].numpy(), toy.codec.sample_rate
    write_audio(out / "sequence_C_E_G.wav", audio, sr)
    plot_chromagram(chromagram(audio, sr), schedule=schedule, title="C -> E -> G steering",
                    path=out / "sequence_chromagram.png")
    return scores


def _report(config: DemoConfig, probe: ConceptProbe, table: list[dict], best: dict, scores, seconds: float) -> str:
    segments = [{"segment": s.concept, "start_s": s.start_s, "end_s": s.end_s, "accuracy": s.accuracy}
                for s in scores]
    return "\n".join([
        "# musicrfm demo: steering the toy MusicGen toward a note", "",
        f"Probe: {probe!r}", "",
        f"Prompt \"{config.prompt}\", {config.clips} clips of {config.duration_s:g} s per strength, seed "
        f"{config.seed}; accuracy = share of frames whose dominant pitch class (chroma of the decoded audio) is "
        f"{config.target}.", "",
        markdown_table(table), "",
        f"Best strength {best['strength']:g}: accuracy {best['accuracy']:.3f} (unsteered {table[0]['accuracy']:.3f}).",
        "", f"## Sequence schedule C -> E -> G (strength {config.sequence_strength:g})", "",
        markdown_table(segments), "",
        *_listening_guide(config, best), "",
        f"Settings: `{json.dumps(asdict(config))}`; finished in {seconds:.0f} s.", "",
    ])


def _listening_guide(config: DemoConfig, best: dict) -> list[str]:
    """Which clip each file is, and what to hear and see in it."""
    target = config.target
    return [
        "## Files, and what to listen for", "",
        "| file | what it is |", "| --- | --- |",
        f"| unsteered.wav | clip 1 of {config.clips} (seed {config.seed}) without steering: the toy's own melody |",
        f"| steered_{target}.wav | the same clip and seed at strength {best['strength']:g}, the strength with the "
        f"best accuracy: the melody keeps its rhythm but settles on {target} |",
        f"| sequence_C_E_G.wav | one clip steered to C for 2 s, then E, then G (strength "
        f"{config.sequence_strength:g}): three pitch areas in a row |",
        "| accuracy_vs_strength.png | mean accuracy per strength (line); the shaded band spans the lowest to "
        "the highest clip |",
        "| sequence_chromagram.png | pitch classes over time (brighter = more energy); outlines mark each "
        "segment's target row over the span that is scored, blank columns are silent frames |",
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="musicrfm demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("musicrfm-demo"), help="output folder (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="fewer strengths and clips, shorter clips (same probe)")
    parser.add_argument("--seed", type=int, default=0,
                        help="generation seed, shared by steered and unsteered runs (default: 0)")
    parser.add_argument("--target", default="C", help="pitch class to steer toward (default: C)")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `musicrfm demo`; returns the exit code (2 for a bad option value)."""
    args = parse_args(argv)
    try:
        config = replace(QUICK if args.quick else DemoConfig(), seed=args.seed, target=args.target)
    except (TypeError, ValueError) as exc:
        print(f"musicrfm demo: error: {exc}", file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"musicrfm demo: error: --out '{args.out}' exists and is not a folder", file=sys.stderr)
        return 2
    print(run_demo(args.out, config, quiet=args.quiet))
    return 0


if __name__ == "__main__":
    sys.exit(main())
