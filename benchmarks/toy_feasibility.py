"""Can the toy model be steered toward a pitch class? A bare-hands check, independent of musicrfm.steering.

1. Teacher-forced, unconditioned decoder forwards over clips of held notes of each pitch class (built in
   toy-codec tokens), mean-pooled block outputs of every decoder layer.
2. Per layer, the difference of class means (target class minus the rest), scaled to unit norm.
3. Generation with a forward hook on every decoder layer that adds `strength * direction` to its output.
4. Accuracy: the fraction of generated frames whose dominant pitch class, read from the DECODED AUDIO by
   librosa's chroma (silent frames count as misses), is the target. Text adherence: whether the generated
   brightness/loudness tokens still match an "organ energetic" vs "flute calm" prompt.

Usage: python benchmarks/toy_feasibility.py [--folder DIR] [--seeds 8] [--strengths 0 0.5 0.75 1 2]
Last line: RESULT target_accuracy=<mean at the best strength> baseline_accuracy=<first strength's mean>
best_strength=<s> adherence=<at s> unsteered_adherence=<first strength's>; the best strength is the most
accurate one whose adherence stays within 0.05 of the first strength's (give 0 first).
"""

from __future__ import annotations

import argparse
import time

import librosa
import numpy as np
import torch
from transformers import MusicgenForConditionalGeneration

from musicrfm.toy import load_toy, toy_tokenizer
from musicrfm.toy.tokens import DYNAMICS, NO_BASS, NUM_BRIGHTNESS, NUM_OCTAVES, PITCH, REST
from musicrfm.toy.train import delayed

PROMPTS = {"organ energetic": (3, (2, 3)), "flute calm": (0, (0, 1))}
"""Prompt -> (expected brightness token, expected loudness levels)."""


def note_clips(pitch_class: int, frames: int) -> torch.Tensor:
    """Held notes of one pitch class, one per octave and dynamics token, without bass: (48, 4, frames).

    Every class gets the same octaves and dynamics, so a difference of class means holds pitch class only.
    """
    octave, dynamics = np.meshgrid(np.arange(NUM_OCTAVES), np.arange(16), indexing="ij")
    codes = np.zeros((octave.size, 4, frames), dtype=np.int64)
    codes[:, PITCH] = pitch_class
    codes[:, 1] = octave.reshape(-1, 1)
    codes[:, DYNAMICS] = dynamics.reshape(-1, 1)
    codes[:, 3] = NO_BASS
    return torch.from_numpy(codes)


@torch.inference_mode()
def pooled_states(model: MusicgenForConditionalGeneration, codes: torch.Tensor) -> torch.Tensor:
    """(clips, layers, d): block outputs mean-pooled over every position after BOS, no text."""
    sequence = delayed(codes)[..., :-1]
    layers = model.decoder.model.decoder.layers
    states = []
    hooks = [layer.register_forward_hook(lambda m, i, o: states.append(o[:, 1:].mean(1))) for layer in layers]
    try:
        zeros = torch.zeros(codes.shape[0], 1, dtype=torch.long)
        model(input_ids=zeros, attention_mask=zeros, decoder_input_ids=sequence.reshape(-1, sequence.shape[-1]))
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(states, dim=1)


def directions(model) -> torch.Tensor:
    """(12, layers, d) unit difference-of-means directions."""
    states = torch.stack([pooled_states(model, note_clips(pc, 50)) for pc in range(12)])  # (12, n, L, d)
    means = states.mean(1)
    diff = means - (means.sum(0, keepdim=True) - means) / 11
    return diff / diff.norm(dim=-1, keepdim=True)


@torch.inference_mode()
def steered_generate(model, vectors: torch.Tensor | None, prompts: list[str], seed: int, frames: int) -> np.ndarray:
    """Audio (B, samples) from `generate` with `vectors[l]` added to layer l's output."""
    text = toy_tokenizer()(prompts)
    layers = model.decoder.model.decoder.layers
    hooks = [] if vectors is None else [
        layer.register_forward_hook(lambda m, i, o, v=vectors[l]: o + v) for l, layer in enumerate(layers)
    ]
    try:
        torch.manual_seed(seed)
        audio = model.generate(**text, max_new_tokens=frames + 3, do_sample=True, guidance_scale=3.0)
    finally:
        for hook in hooks:
            hook.remove()
    return audio[:, 0].numpy()


def accuracy(audio: np.ndarray, target: int, sample_rate: int, hop: int) -> float:
    """Fraction of frames whose chroma argmax is `target`; frames much quieter than the clip are misses."""
    hits = []
    for clip in audio:
        chroma = librosa.feature.chroma_stft(y=clip, sr=sample_rate, n_fft=2048, hop_length=hop, norm=None,
                                             tuning=0.0)
        energy = librosa.feature.rms(y=clip, frame_length=2048, hop_length=hop)[0]
        loud = energy > 0.01
        hits.append(np.mean((chroma.argmax(0) == target) & loud))
    return float(np.mean(hits))


def adherence(model, audio: np.ndarray, prompts: list[str]) -> float:
    """Fraction of sounding frames whose brightness and loudness tokens fit the prompt's instrument/energy."""
    codes = model.audio_encoder.encode(torch.from_numpy(audio)[:, None]).audio_codes[0].numpy()
    scores = []
    for row, prompt in zip(codes, prompts):
        brightness, levels = PROMPTS[prompt]
        sounding = row[PITCH] < REST
        ok = (row[DYNAMICS] % NUM_BRIGHTNESS == brightness) & np.isin(row[DYNAMICS] // NUM_BRIGHTNESS, levels)
        scores.append(ok[sounding].mean() if sounding.any() else 0.0)
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", default=None, help="a saved toy model folder (default: load_toy())")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--targets", type=int, nargs="+", default=[0, 2, 4, 7, 9])
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.5, 0.75, 1.0, 2.0])
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    model = (MusicgenForConditionalGeneration.from_pretrained(args.folder).eval() if args.folder
             else load_toy().model)
    codec = model.audio_encoder
    frames = round(args.seconds * codec.frame_rate)
    dirs = directions(model)
    prompts = [list(PROMPTS)[i % len(PROMPTS)] for i in range(args.seeds)]
    table = {}
    for strength in args.strengths:
        for target in args.targets:
            start = time.perf_counter()
            vectors = None if strength == 0 else strength * dirs[target]
            audio = steered_generate(model, vectors, prompts, seed=target, frames=frames)
            table[strength, target] = (accuracy(audio, target, codec.sample_rate, codec.config.hop_length),
                                       adherence(model, audio, prompts))
            print(f"strength {strength:5.1f} target {target:2d}: accuracy {table[strength, target][0]:.3f} "
                  f"adherence {table[strength, target][1]:.3f} ({time.perf_counter() - start:.1f} s)", flush=True)
    means = {s: np.mean([table[s, t][0] for t in args.targets]) for s in args.strengths}
    worst = {s: min(table[s, t][0] for t in args.targets) for s in args.strengths}
    kept = {s: np.mean([table[s, t][1] for t in args.targets]) for s in args.strengths}
    # The best strength is the most accurate one that keeps text adherence within 0.05 of the first row's.
    faithful = [s for s in args.strengths if kept[s] >= kept[args.strengths[0]] - 0.05] or args.strengths
    best = max(faithful, key=means.get)
    print("strength  mean_acc  worst_target_acc  adherence")
    for s in args.strengths:
        print(f"{s:8.2f}  {means[s]:8.3f}  {worst[s]:16.3f}  {kept[s]:9.3f}")
    print(f"RESULT target_accuracy={means[best]:.3f} baseline_accuracy={means[args.strengths[0]]:.3f} "
          f"best_strength={best} adherence={kept[best]:.3f} unsteered_adherence={kept[args.strengths[0]]:.3f}")


if __name__ == "__main__":
    main()
