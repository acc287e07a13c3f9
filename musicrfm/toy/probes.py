"""Built-in probes of the embedded toy model: `notes`, `chords` and `tempo`, trained on first use and cached.

Each is made with the real pipeline (a generated dataset, `train_probe`'s RFM search, AGOP directions)
from a dataset the toy model can hear. Its codec plays one melody note over a bass note per frame, so:

- `notes`: rendered single notes (the SynTheory-style generator), 12 pitch classes, multiclass;
- `chords`: broken chords written in toy tokens (the melody walks the chord's tones over its root in the
  bass), every chord quality of the `chords` concept, multiclass; rendered block chords would reach the
  model as one note and a bass, which carries no quality;
- `tempo`: toy-corpus music labelled slow or fast, a binary probe whose direction points toward `fast`.

A probe is cached under `<cache>/toy-probes/<concept>-<key>/`, where the key hashes everything that
shapes it: the toy model's folder (itself keyed by its training config and code version), the concept,
the settings and the musicrfm version; a changed model or search never reuses a stale probe.

>>> ToyProbeSettings(n_per_class=4).n_configs
16
>>> resolve_settings("chords").n_per_class
24
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from musicrfm import __version__
from musicrfm.checks import check_int
from musicrfm.data import ClipMeta, ConceptDataset, make_dataset
from musicrfm.data.theory import CHORD_QUALITIES
from musicrfm.models.backend import TOY_MODEL, MusicGen
from musicrfm.models.toy.corpus import STYLE_WORDS, render_style
from musicrfm.models.toy.load import ToyModel, cache_root
from musicrfm.models.toy.tokens import BASS, DYNAMICS, NUM_BRIGHTNESS, NUM_LEVELS, OCTAVE, PITCH
from musicrfm.probes import ConceptProbe, train_probe
from musicrfm.probes.bundle import is_bundle
from musicrfm.probes.fit import Progress

CHORD_FRAMES = 50
"""Length of one broken-chord clip (2 s at the toy's 25 frames per second)."""
Notice = Callable[[str], None]


@dataclass(frozen=True)
class ToyProbeSettings:
    """How big the dataset is (clips per class) and how wide the RFM search (configs, iterations), plus the
    seed of both. The defaults are the demo's note-probe settings; a smaller search gave seed-dependent
    note directions."""

    n_per_class: int = 12
    n_configs: int = 16
    max_iters: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_per_class", "n_configs", "max_iters"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.seed, "seed", low=0)


@dataclass(frozen=True)
class _Recipe:
    """How one built-in concept's dataset is made and which class a binary probe steers toward."""

    make: Callable[..., ConceptDataset]  # (toy, n_per_class, *, seed)
    target: str | None
    defaults: ToyProbeSettings


def _rendered_notes(toy: ToyModel, n_per_class: int, *, seed: int) -> ConceptDataset:
    return make_dataset("notes", n_per_class=n_per_class, seed=seed, sample_rate=toy.codec.sample_rate,
                        duration_s=1.0)


def _slow_or_fast(toy: ToyModel, n_per_class: int, *, seed: int) -> ConceptDataset:
    return style_dataset(toy, "tempo", n_per_class, seed=seed)


def style_dataset(toy: ToyModel, attribute: str, n_per_class: int, *, frames: int = 50,
                  seed: int = 0) -> ConceptDataset:
    """Toy-corpus music labelled by one style attribute (e.g. tempo: slow / fast), decoded to audio by the
    toy codec; the other attributes are drawn at random so the probe sees only `attribute` vary."""
    if attribute not in STYLE_WORDS:
        raise ValueError(f"attribute must be one of {sorted(STYLE_WORDS)}, got {attribute!r}")
    check_int(n_per_class, "n_per_class", low=1)
    rng = np.random.default_rng(seed)
    audio, meta = [], []
    for index in range(n_per_class * len(STYLE_WORDS[attribute])):
        word = STYLE_WORDS[attribute][index % len(STYLE_WORDS[attribute])]
        style = {name: str(rng.choice(words)) for name, words in STYLE_WORDS.items()} | {attribute: word}
        codes = torch.from_numpy(render_style(rng, style, frames))[None, None]
        audio.append(toy.codec.decode(codes).audio_values[0, 0].numpy())
        meta.append(ClipMeta(clip_id=f"{attribute}-{index:04d}", concept=attribute, label=word,
                             target=float(STYLE_WORDS[attribute].index(word)), seed=seed))
    return ConceptDataset(audio, meta, sample_rate=toy.codec.sample_rate, concept=attribute,
                          classes=STYLE_WORDS[attribute])


def broken_chords(toy: ToyModel, n_per_class: int, *, seed: int = 0,
                  frames: int = CHORD_FRAMES) -> ConceptDataset:
    """Chord-quality clips the toy codec can play: on a random root, the melody steps through the chord's
    tones (in order or shuffled, in two octaves) at a random note length and loudness, over the root in
    the bass; labels are the `chords` concept's qualities."""
    check_int(n_per_class, "n_per_class", low=1)
    check_int(frames, "frames", low=1)
    rng = np.random.default_rng(seed)
    qualities = tuple(CHORD_QUALITIES)
    audio, meta = [], []
    for index in range(n_per_class * len(qualities)):
        quality = qualities[index % len(qualities)]
        codes = torch.from_numpy(_broken_chord(rng, CHORD_QUALITIES[quality], frames))[None, None]
        audio.append(toy.codec.decode(codes).audio_values[0, 0].numpy())
        meta.append(ClipMeta(clip_id=f"chords-{index:04d}", concept="chords", label=quality,
                             target=float(qualities.index(quality)), seed=seed))
    return ConceptDataset(audio, meta, sample_rate=toy.codec.sample_rate, concept="chords", classes=qualities)


def _broken_chord(rng: np.random.Generator, shape: tuple[int, ...], frames: int) -> np.ndarray:
    """Toy codes `(4, frames)` of one broken chord."""
    root = int(rng.integers(12))
    order = rng.permutation(len(shape)) if rng.random() < 0.5 else np.arange(len(shape))
    note_frames = int(rng.integers(3, 7))
    dynamics = int(rng.integers(NUM_LEVELS)) * NUM_BRIGHTNESS + int(rng.integers(NUM_BRIGHTNESS))
    codes = np.zeros((4, frames), dtype=np.int64)
    for step, start in enumerate(range(0, frames, note_frames)):
        # Lowest or middle melody octave: root + tone reaches 22 semitones, which still fits the 3-octave range.
        offset = 12 * int(rng.integers(2)) + root + shape[order[step % len(shape)]]
        codes[PITCH, start:start + note_frames] = offset % 12
        codes[OCTAVE, start:start + note_frames] = offset // 12
    codes[DYNAMICS] = dynamics
    codes[BASS] = root
    return codes


RECIPES: dict[str, _Recipe] = {
    "notes": _Recipe(_rendered_notes, None, ToyProbeSettings()),
    # 24 clips per class: with 12, the nine qualities scored ~0.3 test accuracy, with 24 ~0.5 (chance 0.11).
    "chords": _Recipe(broken_chords, None, ToyProbeSettings(n_per_class=24)),
    "tempo": _Recipe(_slow_or_fast, "fast", ToyProbeSettings(n_per_class=30)),
}
TOY_CONCEPTS = tuple(RECIPES)
"""The probe names the toy model can train on demand."""


def resolve_settings(concept: str, settings: ToyProbeSettings | None = None) -> ToyProbeSettings:
    """`settings`, or the concept's defaults; ValueError for a concept the toy has no recipe for."""
    if concept not in RECIPES:
        raise ValueError(f"concept must be one of the toy model's built-in probes {list(TOY_CONCEPTS)}, "
                         f"got {concept!r}")
    if settings is not None and not isinstance(settings, ToyProbeSettings):
        raise TypeError(f"settings must be a ToyProbeSettings, got {type(settings).__name__}")
    return RECIPES[concept].defaults if settings is None else settings


def toy_probe_path(toy: ToyModel, concept: str, settings: ToyProbeSettings | None = None, *,
                   cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the toy's `concept` probe for `settings` is (or will be) cached."""
    settings = resolve_settings(concept, settings)
    recipe = {"model": toy.folder.name, "concept": concept, "musicrfm": __version__, **asdict(settings)}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    return cache_root(cache_dir) / "toy-probes" / f"{concept}-{key}"


def toy_probe_folder(toy: ToyModel, concept: str, settings: ToyProbeSettings | None = None, *,
                     cache_dir: str | os.PathLike | None = None, progress: Progress | None = None,
                     notice: Notice | None = None) -> Path:
    """The cached bundle folder of the toy's `concept` probe, trained first if missing.

    `progress(stage, done, total)` follows the training ("extract", then "fit"); `notice(text)` receives
    one line saying what is being trained, or that the cached probe is used.
    """
    settings = resolve_settings(concept, settings)
    folder = toy_probe_path(toy, concept, settings, cache_dir=cache_dir)
    if is_bundle(folder):
        _tell(notice, f"toy model's built-in '{concept}' probe: cached at {folder}")
        return folder
    recipe = RECIPES[concept]
    dataset = recipe.make(toy, settings.n_per_class, seed=settings.seed)
    _tell(notice, f"toy model's built-in '{concept}' probe: training it once with the real pipeline "
                  f"({len(dataset)} clips, RFM search of {settings.n_configs} configs per layer) into {folder}")
    model = MusicGen.from_model(toy.model, tokenizer=toy.tokenizer, name=TOY_MODEL)
    probe = train_probe(model, dataset, target=recipe.target, seed=settings.seed, cache=False, progress=progress,
                        search={"n_configs": settings.n_configs, "max_iters": settings.max_iters})
    if is_bundle(folder):
        # Another process (a second shard of the same render) finished it first and may already have pinned
        # its checksum in a manifest: keep that bundle rather than swapping in an equal one.
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    return probe.save(folder)


def toy_probe(toy: ToyModel, concept: str, settings: ToyProbeSettings | None = None, *,
              cache_dir: str | os.PathLike | None = None, progress: Progress | None = None,
              notice: Notice | None = None) -> ConceptProbe:
    """The toy's built-in `concept` probe (see `toy_probe_folder`), loaded."""
    return ConceptProbe.load(toy_probe_folder(toy, concept, settings, cache_dir=cache_dir, progress=progress,
                                              notice=notice))


def as_toy(model: MusicGen) -> ToyModel | None:
    """The embedded toy model behind `model` (as `load_musicgen("toy")` returns it), else None."""
    if not isinstance(model, MusicGen):
        raise TypeError(f"model must be a musicrfm MusicGen, got {type(model).__name__}")
    if model.name != TOY_MODEL:
        return None
    return ToyModel(model=model.model, tokenizer=model.tokenizer, folder=Path(model.model.name_or_path))


def builtin_probes(model: MusicGen, *, cache_dir: str | os.PathLike | None = None,
                   progress: Callable[[str], Progress | None] | None = None,
                   notice: Notice | None = None) -> Callable[[str], Path | None] | None:
    """For the toy model, a `source(name)` giving the bundle folder of a built-in probe (trained on first use)
    or None for any other name; None for any other model. `progress(concept)` may return a training
    progress callback.

    >>> from musicrfm.models.random_weights import tiny_musicgen
    >>> builtin_probes(MusicGen.from_model(tiny_musicgen(seed=0))) is None
    True
    """
    toy = as_toy(model)
    if toy is None:
        return None

    @functools.cache  # one note and one cache check per name, however often a caller asks
    def source(name: str) -> Path | None:
        if name not in RECIPES:
            return None
        return toy_probe_folder(toy, name, cache_dir=cache_dir, notice=notice,
                                progress=None if progress is None else progress(name))
    return source


def _tell(notice: Notice | None, text: str) -> None:
    if notice is not None:
        notice(text)
