"""A folder of named probe bundles: list, show, save, load.

The default root is $MUSICRFM_PROBES, else $XDG_DATA_HOME/musicrfm/probes (~/.local/share by default).

>>> import tempfile, torch
>>> from musicrfm.probes.probe import ConceptProbe
>>> probe = ConceptProbe(concept="tempo", task="regression", classes=(), target=None, layers=(0,),
...     vectors=torch.tensor([[[[1.0, 0.0]]]]), eigenvalues=torch.ones(1, 1, 1), val_scores=(0.9,),
...     test_scores=(0.8,), metric="r2", model={"name": "toy", "fingerprint": {"hidden_size": 2, "num_layers": 1}})
>>> library = ProbeLibrary(tempfile.mkdtemp())
>>> _ = library.save(probe, "tempo_v1")
>>> library.list(), library.show("tempo_v1")["concept"], library.load("tempo_v1").task
(['tempo_v1'], 'tempo', 'regression')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from musicrfm.probes.bundle import is_bundle, read_metadata
from musicrfm.probes.probe import ConceptProbe

LIBRARY_ENV = "MUSICRFM_PROBES"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SUMMARY_FIELDS = ("concept", "task", "classes", "target", "layers", "metric", "val_scores", "test_scores",
                   "model", "pooling", "dataset", "version")


def default_library_root() -> Path:
    """$MUSICRFM_PROBES, else $XDG_DATA_HOME/musicrfm/probes (~/.local/share/musicrfm/probes)."""
    if os.environ.get(LIBRARY_ENV):
        return Path(os.environ[LIBRARY_ENV]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "musicrfm" / "probes"


class ProbeLibrary:
    """Named probe bundles under one root folder (created on the first save)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path or None, got {type(root).__name__}")
        self.root = default_library_root() if root is None else Path(root).expanduser()

    def __repr__(self) -> str:
        return f"ProbeLibrary('{self.root}')"

    def path(self, name: str) -> Path:
        """The bundle folder of `name` (letters, digits, '_', '.', '-'; no path separators)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"name must be 1-128 letters, digits, '_', '.' or '-' starting with a letter or "
                             f"digit, got {name!r}")
        return self.root / name

    def list(self) -> list[str]:
        """Names of the bundles in the library, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if _NAME.match(p.name) and is_bundle(p))

    def show(self, name: str) -> dict[str, Any]:
        """A probe's metadata (concept, classes, scores, model, dataset...) without loading its tensors."""
        meta = read_metadata(self._existing(name))
        return {key: meta[key] for key in _SUMMARY_FIELDS if key in meta} | {"name": name}

    def save(self, probe: ConceptProbe, name: str) -> Path:
        """Store `probe` as `name`, replacing a bundle of that name."""
        if not isinstance(probe, ConceptProbe):
            raise TypeError(f"probe must be a ConceptProbe, got {type(probe).__name__}")
        return probe.save(self.path(name))

    def load(self, name: str) -> ConceptProbe:
        """The validated probe stored as `name`."""
        return ConceptProbe.load(self._existing(name))

    def _existing(self, name: str) -> Path:
        path = self.path(name)
        if not path.is_dir():
            raise ValueError(f"no probe named {name!r} in {self.root}; available: {self.list()}")
        return path
