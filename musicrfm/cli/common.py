"""What every CLI command shares: the run context (global options), model loading, output and progress.

>>> ctx = Context(device="cpu", seed=None, quiet=True, json=True, debug=False, probes=None)
>>> ctx.seed_or(7)
7
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from musicrfm.jobs.plans import ProbeSource
from musicrfm.models import MusicGen, load_musicgen
from musicrfm.probes import ProbeLibrary
from musicrfm.toy.probes import builtin_probes


class UsageError(ValueError):
    """A command line that cannot work (exit code 2)."""


@dataclass(frozen=True)
class Context:
    """The global options of one invocation."""

    device: str
    seed: int | None
    quiet: bool
    json: bool
    debug: bool
    probes: Path | None

    def seed_or(self, default: int) -> int:
        """`--seed` if given, else `default`."""
        return default if self.seed is None else self.seed

    def library(self, fallback: Path | None = None) -> ProbeLibrary:
        """The probe library: `--probes`, else `fallback` (a job's `probes:`), else the default root."""
        return ProbeLibrary(self.probes if self.probes is not None else fallback)

    def say(self, text: str) -> None:
        """Human-readable progress notes on stderr (silenced by --quiet and --json)."""
        if not self.quiet and not self.json:
            print(text, file=sys.stderr)

    def emit(self, data: Any, text: str) -> None:
        """The command's result on stdout: `data` as JSON with --json, else `text`."""
        print(json.dumps(data, indent=2, default=str, allow_nan=False) if self.json else text)

    @contextmanager
    def bar(self, description: str, total: int | None = None, unit: str = "item") -> Iterator[tqdm]:
        """A tqdm progress bar on stderr, disabled by --quiet."""
        with tqdm(total=total, desc=description, unit=unit, disable=self.quiet, file=sys.stderr,
                  dynamic_ncols=True, leave=False) as progress:
            yield progress

    def counter(self, progress: tqdm) -> Callable[[int, int], None]:
        """A `callback(done, total)` that moves `progress` to `done`."""
        def update(done: int, total: int) -> None:
            progress.total = total
            progress.n = done
            progress.refresh()
        return update


def load_model(name: str, ctx: Context) -> MusicGen:
    """"toy" is the embedded toy model (trained and cached on first use); anything else is a MusicGen hub id or
    a local folder."""
    ctx.say(f"loading model {name} ...")
    if name == "toy":
        # The toy's tensors are tiny: extra threads only add OpenMP contention (2x slower renders on 2 cores).
        torch.set_num_threads(1)
    return load_musicgen(name, device=ctx.device, progress=not ctx.quiet)


def toy_probes(model: MusicGen, ctx: Context) -> ProbeSource | None:
    """For the toy model, its built-in probes (notes, chords, tempo) for names missing from the library, each
    trained on first use with a note and progress bars on stderr; None for any other model."""
    return builtin_probes(model, notice=ctx.say, progress=lambda concept: _StageBars(ctx, f"toy probe {concept}"))


class _StageBars:
    """A `progress(stage, done, total)` callback drawing one tqdm bar per stage on stderr (none with --quiet)."""

    def __init__(self, ctx: Context, label: str) -> None:
        self.ctx, self.label, self.stage, self.progress = ctx, label, None, None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage or self.progress is None:
            self._close()
            self.stage = stage
            self.progress = tqdm(total=total, desc=f"{self.label}: {stage}", disable=self.ctx.quiet, file=sys.stderr,
                                 dynamic_ncols=True, leave=False)
        self.progress.total, self.progress.n = total, done
        self.progress.refresh()
        if done >= total:
            self._close()

    def _close(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None


def parse_list(text: str, field: str, convert: Callable[[str], Any] = str) -> list[Any]:
    """A comma-separated option value as a list, each item through `convert`."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise UsageError(f"{field} must list at least one value")
    try:
        return [convert(item) for item in items]
    except ValueError as error:
        raise UsageError(f"{field}: {error}") from error


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table for terminal output."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)
