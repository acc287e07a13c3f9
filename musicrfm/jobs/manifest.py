"""The render manifest: one JSON line per finished item, appended only once its audio file is in place.

Each process appends to its own file (`manifest.jsonl`, or `manifest.shard-2of4.jsonl` for `--shard 2/4`),
so shards never interleave writes; readers take the union of every `manifest*.jsonl` in the folder. A
line is written with one `os.write` and fsynced; a torn last line (the process killed mid-write) is
ignored when reading, and the item is rendered again.

>>> import tempfile
>>> out = tempfile.mkdtemp()
>>> m = Manifest(out)
>>> m.append({"id": "abc", "file": "audio/abc.wav"})
>>> [e["id"] for e in read_manifest(out)], m.finished()
(['abc'], set())
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PATTERN = "manifest*.jsonl"


def manifest_name(shard: tuple[int, int] = (1, 1)) -> str:
    """The file a process renders into: `manifest.jsonl`, or one per shard."""
    i, n = shard
    return "manifest.jsonl" if n == 1 else f"manifest.shard-{i}of{n}.jsonl"


def read_manifest(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every complete entry of every manifest in `out_dir`, later duplicates of an id replacing earlier ones."""
    entries: dict[str, dict[str, Any]] = {}
    for file in sorted(Path(out_dir).glob(PATTERN)):
        for entry in _entries(file):
            entries[entry["id"]] = entry
    return list(entries.values())


def _entries(file: Path) -> list[dict[str, Any]]:
    entries = []
    with open(file, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.endswith("\n"):
                break  # torn by a kill mid-write: that item was never finished
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{file}: line {number} is not valid JSON ({error.msg})") from error
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise ValueError(f"{file}: line {number} is not a manifest entry (no 'id')")
            entries.append(entry)
    return entries


class Manifest:
    """The manifest one process appends to, in the render folder `out_dir`."""

    def __init__(self, out_dir: str | os.PathLike, shard: tuple[int, int] = (1, 1)) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / manifest_name(shard)

    def finished(self) -> set[str]:
        """Ids whose entry exists in any manifest of the folder and whose audio file is present."""
        return {e["id"] for e in read_manifest(self.out_dir) if (self.out_dir / str(e.get("file", ""))).is_file()}

    def append(self, entry: dict[str, Any]) -> None:
        """Append `entry` as one line, durably: a single write, then fsync."""
        line = (json.dumps(entry, sort_keys=True, allow_nan=False, default=str) + "\n").encode("utf-8")
        self._repair_tail()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _repair_tail(self) -> None:
        # A torn line left by a kill would glue itself to the next entry; cut it off first.
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with open(self.path, "r+b") as stream:
            stream.seek(-1, os.SEEK_END)
            if stream.read(1) != b"\n":
                data = self.path.read_bytes()
                stream.truncate(data.rfind(b"\n") + 1)
