"""Rendering clip specs to audio: FluidSynth with pretty_midi's bundled General MIDI soundfont (TimGM6mb,
SynTheory's soundfont), or the numpy additive synthesiser when FluidSynth is missing or asked for.

One FluidSynth instance serves a whole dataset (loading the soundfont costs ~40 ms, a clip ~3 ms). Its
reverb and chorus are off and every clip ends with its voices cut, so nothing rings into the next clip.
The same clip sequence always renders to the same samples; FluidSynth's voice pool does carry a little
state between clips (the first 2 ms block after a note-on), so one clip rendered after different
predecessors can differ there, at most by a few percent of full scale.

>>> from musicrfm.data.specs import ClipSpec, NoteEvent
>>> spec = ClipSpec((NoteEvent(60, 0.0, 0.5, 100),), program=0, is_drum=False, duration_s=1.0)
>>> with Renderer("numpy", 16000) as renderer:
...     round(float(abs(renderer.render(spec)).max()), 4)
0.9
"""

from __future__ import annotations

import ctypes
import warnings
from pathlib import Path

import numpy as np

from musicrfm.data.specs import ClipSpec
from musicrfm.data.synth import render_numpy

BACKENDS = ("auto", "fluidsynth", "numpy")
PEAK = 0.9
"""Every clip is peak-normalised to this level, so loudness carries no label information."""

_DRUM_CHANNEL, _DRUM_BANK = 9, 128
_BLOCK = 64
_FLUSH_BLOCKS = 8
_fallback_warned = False


def soundfont_path() -> Path | None:
    """pretty_midi's bundled TimGM6mb.sf2, or None when pretty_midi is not installed."""
    try:
        import pretty_midi
    except ImportError:
        return None
    path = Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")
    return path if path.is_file() else None


def _write_float():
    """ctypes binding of fluid_synth_write_float: float output has no dither, unlike the s16 path."""
    import fluidsynth

    return fluidsynth.cfunc(
        "fluid_synth_write_float", ctypes.c_int, ("synth", ctypes.c_void_p, 1), ("len", ctypes.c_int, 1),
        ("lbuf", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1), ("lincr", ctypes.c_int, 1),
        ("rbuf", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1), ("rincr", ctypes.c_int, 1),
    )


def fluidsynth_unavailable() -> str | None:
    """Why the FluidSynth backend cannot run here, or None when it can."""
    try:
        if _write_float() is None:
            return "libfluidsynth lacks fluid_synth_write_float"
    except (ImportError, OSError) as exc:  # pyfluidsynth raises ImportError when libfluidsynth is absent
        return f"pyfluidsynth/libfluidsynth cannot be loaded ({exc})"
    if soundfont_path() is None:
        return "pretty_midi (which bundles the TimGM6mb soundfont) is not installed"
    return None


def resolve_backend(backend: str) -> str:
    """'numpy' or 'fluidsynth' for a requested backend; 'auto' falls back to numpy with a one-time warning."""
    global _fallback_warned
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "numpy":
        return backend
    reason = fluidsynth_unavailable()
    if reason is None:
        return "fluidsynth"
    if backend == "fluidsynth":
        raise RuntimeError(f"backend='fluidsynth' is unavailable: {reason}; install libfluidsynth3 and pyfluidsynth")
    if not _fallback_warned:
        warnings.warn(f"FluidSynth unavailable ({reason}); rendering with the numpy synthesiser", stacklevel=3)
        _fallback_warned = True
    return "numpy"


class _FluidSynth:
    """One FluidSynth instance with the GM soundfont loaded, rendering clip specs offline."""

    def __init__(self, sample_rate: int):
        import fluidsynth

        self._write = _write_float()
        self._synth = fluidsynth.Synth(
            samplerate=float(sample_rate), **{"synth.reverb.active": 0, "synth.chorus.active": 0}
        )
        self._sfid = self._synth.sfload(str(soundfont_path()))
        self.sample_rate = sample_rate

    def _samples(self, n: int) -> np.ndarray:
        """The next n samples, down-mixed to mono (GM drum kits pan their instruments)."""
        buf = np.zeros(2 * n, dtype=np.float32)
        self._write(self._synth.synth, n, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)
        return buf.reshape(n, 2).mean(axis=1)

    def render(self, spec: ClipSpec) -> np.ndarray:
        synth, sr = self._synth, self.sample_rate
        channel = _DRUM_CHANNEL if spec.is_drum else 0
        synth.system_reset()
        synth.program_select(channel, self._sfid, _DRUM_BANK if spec.is_drum else 0, spec.program)
        # FluidSynth renders whole 64-sample blocks and keeps the unread rest for the next call, so every
        # read is a whole number of blocks: otherwise the tail of one clip leaks into the next. Events land
        # on block boundaries (2 ms at 32 kHz), as they would inside FluidSynth anyway.
        total = round(spec.duration_s * sr)
        end = -(-total // _BLOCK) * _BLOCK
        # Note-offs sort before note-ons at the same block so repeated keys retrigger cleanly.
        events = sorted(
            [(self._block(e.start), 1, e.pitch, e.velocity) for e in spec.events]
            + [(self._block(e.end), 0, e.pitch, 0) for e in spec.events]
        )
        pos, chunks = 0, []
        for sample, is_on, pitch, velocity in events:
            sample = min(sample, end)
            if sample > pos:
                chunks.append(self._samples(sample - pos))
                pos = sample
            if is_on:
                synth.noteon(channel, pitch, velocity)
            else:
                synth.noteoff(channel, pitch)
        chunks.append(self._samples(end - pos))
        synth.all_sounds_off(channel)
        self._samples(_FLUSH_BLOCKS * _BLOCK)  # lets the cut voices finish before the next clip
        return np.concatenate(chunks)[:total]

    def _block(self, seconds: float) -> int:
        return round(seconds * self.sample_rate / _BLOCK) * _BLOCK

    def close(self) -> None:
        self._synth.delete()


class Renderer:
    """Renders clip specs with one backend at one sample rate; use as a context manager."""

    def __init__(self, backend: str, sample_rate: int):
        self.backend = resolve_backend(backend)
        self.sample_rate = sample_rate
        self._fluid = _FluidSynth(sample_rate) if self.backend == "fluidsynth" else None

    def render(self, spec: ClipSpec) -> np.ndarray:
        """Mono float32 audio of the spec, peak-normalised to PEAK (silence stays silent)."""
        audio = self._fluid.render(spec) if self._fluid else render_numpy(spec, self.sample_rate)
        peak = float(np.abs(audio).max(initial=0.0))
        return (audio * (PEAK / peak)).astype(np.float32) if peak > 0 else audio.astype(np.float32)

    def close(self) -> None:
        if self._fluid is not None:
            self._fluid.close()
            self._fluid = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
