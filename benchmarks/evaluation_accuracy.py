"""How accurate the audio evaluator is on rendered clips with known labels (CPU, about a minute).

Renders notes and chords on every curated instrument with both backends (FluidSynth and numpy) at
MusicGen's 32 kHz and prints the mean per-clip accuracy of: the dominant pitch class of single notes
(musicrfm's "salience" chroma, and librosa's chroma_cqt for comparison), and chord recognition of triads
and of all nine qualities, per frame and per clip (segment level).

    python benchmarks/evaluation_accuracy.py [--per-class 4] [--seed 11]

Last line: RESULT note_accuracy=<salience> note_accuracy_cqt=<chroma_cqt> triad_accuracy=<frame>
chord_accuracy=<frame, all qualities> chord_segment_accuracy=<segment, all qualities>
"""

from __future__ import annotations

import argparse

import numpy as np

from musicrfm.data import make_dataset
from musicrfm.data.theory import PITCH_CLASSES
from musicrfm.evaluation import chord_accuracy, markdown_table, note_accuracy

SR = 32000
TRIADS = ("major", "minor", "diminished", "augmented")


def _cqt_note_accuracy(audio: np.ndarray, label: str) -> float:
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio, sr=SR, hop_length=640)
    level = librosa.feature.rms(y=audio, frame_length=2048, hop_length=640)[0]
    frames = min(chroma.shape[1], level.size)
    voiced = 20 * np.log10(level[:frames] + 1e-12) > 20 * np.log10(level.max() + 1e-12) - 40
    return float(np.mean(chroma[:, :frames][:, voiced].argmax(axis=0) == PITCH_CLASSES.index(label)))


def measure(backend: str, per_class: int, seed: int) -> dict[str, float | str]:
    notes = make_dataset("notes", n_per_class=per_class, seed=seed, sample_rate=SR, duration_s=1.0, backend=backend)
    chords = make_dataset("chords", n_per_class=per_class, seed=seed, sample_rate=SR, duration_s=1.0,
                          backend=backend)
    frame = {c.meta.clip_id: chord_accuracy(c.audio, SR, f"{c.meta.root}:{c.label}") for c in chords}
    return {
        "backend": backend,
        "note_accuracy": np.mean([note_accuracy(c.audio, SR, c.label) for c in notes]),
        "note_accuracy_cqt": np.mean([_cqt_note_accuracy(c.audio, c.label) for c in notes]),
        "triad_accuracy": np.mean([frame[c.meta.clip_id] for c in chords if c.label in TRIADS]),
        "chord_accuracy": np.mean(list(frame.values())),
        "chord_segment_accuracy": np.mean(
            [chord_accuracy(c.audio, SR, f"{c.meta.root}:{c.label}", level="segment") for c in chords]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rows = [measure(backend, args.per_class, args.seed) for backend in ("fluidsynth", "numpy")]
    print(markdown_table(rows))
    means = {key: float(np.mean([row[key] for row in rows])) for key in rows[0] if key != "backend"}
    print("RESULT " + " ".join(f"{key}={value:.3f}" for key, value in means.items()))


if __name__ == "__main__":
    main()
