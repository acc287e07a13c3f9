"""How accurate the audio evaluator is on rendered clips with known labels (CPU, about two minutes).

Renders single notes and chords on every curated instrument with both backends (FluidSynth and numpy) at
MusicGen's 32 kHz and prints, per backend, the mean per-clip accuracy of: the dominant pitch class of
single notes (musicrfm's "salience" chroma, and librosa's chroma_cqt for comparison), and chord recognition
of triads and of all nine qualities, per frame and per clip (segment level). Every instrument plays
`--per-instrument` chords of every quality, so the worst instrument's triad accuracy is measured on the
same footing as the mean.

    python benchmarks/evaluation_accuracy.py [--per-class 8] [--per-instrument 2] [--seed 11]

Last line: RESULT note_accuracy=<salience> note_accuracy_cqt=<chroma_cqt> triad_accuracy=<frame>
chord_accuracy=<frame, all qualities> chord_segment_accuracy=<segment, all qualities> (means over the two
backends) triad_accuracy_fluidsynth=<frame> worst_instrument_triad=<frame, worst instrument and backend>
"""

from __future__ import annotations

import argparse
import warnings
from collections import defaultdict

import numpy as np

from musicrfm.data import make_dataset
from musicrfm.data.theory import INSTRUMENTS, PITCH_CLASSES
from musicrfm.evaluation import chord_accuracy, markdown_table, note_accuracy

SR = 32000
BACKENDS = ("fluidsynth", "numpy")
TRIADS = ("major", "minor", "diminished", "augmented")
MEANS = ("note_accuracy", "note_accuracy_cqt", "triad_accuracy", "chord_accuracy", "chord_segment_accuracy")


def _cqt_note_accuracy(audio: np.ndarray, label: str) -> float:
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio, sr=SR, hop_length=640)
    level = librosa.feature.rms(y=audio, frame_length=2048, hop_length=640)[0]
    frames = min(chroma.shape[1], level.size)
    voiced = 20 * np.log10(level[:frames] + 1e-12) > 20 * np.log10(level.max() + 1e-12) - 40
    return float(np.mean(chroma[:, :frames][:, voiced].argmax(axis=0) == PITCH_CLASSES.index(label)))


def _chord_scores(backend: str, per_instrument: int, seed: int) -> list[dict[str, object]]:
    """One row per rendered chord: instrument, quality, frame and segment accuracy."""
    rows = []
    for program, name in INSTRUMENTS.items():
        # Seeds differ per instrument, so instruments do not all play the same roots and inversions.
        chords = make_dataset("chords", n_per_class=per_instrument, seed=seed + program, sample_rate=SR,
                              duration_s=1.0, instruments=[program], backend=backend)
        for clip in chords:
            target = f"{clip.meta.root}:{clip.label}"
            rows.append({"instrument": name, "quality": clip.label, "frame": chord_accuracy(clip.audio, SR, target),
                         "segment": chord_accuracy(clip.audio, SR, target, level="segment")})
    return rows


def measure(backend: str, per_class: int, per_instrument: int, seed: int) -> dict[str, float | str]:
    """The backend's mean accuracies and its worst instrument for triads."""
    notes = make_dataset("notes", n_per_class=per_class, seed=seed, sample_rate=SR, duration_s=1.0, backend=backend)
    chords = _chord_scores(backend, per_instrument, seed)
    triads = [row for row in chords if row["quality"] in TRIADS]
    by_instrument = defaultdict(list)
    for row in triads:
        by_instrument[row["instrument"]].append(row["frame"])
    worst = min(by_instrument, key=lambda name: np.mean(by_instrument[name]))
    return {
        "backend": backend,
        "note_accuracy": np.mean([note_accuracy(c.audio, SR, c.label) for c in notes]),
        "note_accuracy_cqt": np.mean([_cqt_note_accuracy(c.audio, c.label) for c in notes]),
        "triad_accuracy": np.mean([row["frame"] for row in triads]),
        "chord_accuracy": np.mean([row["frame"] for row in chords]),
        "chord_segment_accuracy": np.mean([row["segment"] for row in chords]),
        "worst_instrument": worst,
        "worst_instrument_triad": np.mean(by_instrument[worst]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=8, help="single notes per pitch class")
    parser.add_argument("--per-instrument", type=int, default=2, help="chords per quality and instrument")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    # chroma_cqt warns about its own short low-octave filters on 1 s clips; the figures are unaffected.
    warnings.filterwarnings("ignore", category=UserWarning, module="librosa")
    rows = [measure(backend, args.per_class, args.per_instrument, args.seed) for backend in BACKENDS]
    print(markdown_table(rows))
    result = {key: float(np.mean([row[key] for row in rows])) for key in MEANS}
    result["triad_accuracy_fluidsynth"] = rows[BACKENDS.index("fluidsynth")]["triad_accuracy"]
    result["worst_instrument_triad"] = min(row["worst_instrument_triad"] for row in rows)
    print("RESULT " + " ".join(f"{key}={value:.3f}" for key, value in result.items()))


if __name__ == "__main__":
    main()
