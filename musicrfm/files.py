"""Atomic file and folder writes: readers see the old content or the new, never half of either.

Every temporary lives beside its target as `.<name>.<random>.partial` (so one pattern finds leftovers of a
killed writer: `stale_partials`) and is created with the user's umask, like any file `open` makes.

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> write_text_atomically(folder / "notes.txt", "C E G").read_text()
'C E G'
>>> with atomic_file(folder / "fails.txt") as tmp:
...     Path(tmp).write_text("half")
...     raise RuntimeError("killed")
Traceback (most recent call last):
RuntimeError: killed
>>> sorted(p.name for p in folder.iterdir())
['notes.txt']
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def temporary_path(target: str | os.PathLike) -> Path:
    """Create an empty, uniquely named temporary file beside `target` (mode from the umask)."""
    target = Path(target)
    if not target.parent.is_dir():
        raise ValueError(f"folder '{target.parent}' does not exist")
    return _new_sibling(target, lambda tmp: os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)))


def temporary_folder(target: str | os.PathLike) -> Path:
    """Create an empty, uniquely named temporary folder beside `target` (mode from the umask)."""
    return _new_sibling(Path(target), lambda tmp: tmp.mkdir(mode=0o777))


def _new_sibling(target: Path, create: Callable[[Path], object]) -> Path:
    # mkstemp/mkdtemp would make the result owner-only; O_EXCL / mkdir keep the no-clobber guarantee.
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
        try:
            create(tmp)
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; renamed onto `target` when the block succeeds, removed
    when it fails (also on KeyboardInterrupt), so `target` is either complete or untouched."""
    tmp = temporary_path(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(target: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call `write(temporary_path)` for a file beside `target`, then rename it onto `target`."""
    with atomic_file(target) as tmp:
        write(str(tmp))
    return Path(target)


def write_text_atomically(target: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `target` atomically; returns the path."""
    return write_atomically(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def atomic_directory(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to `out_dir`, renamed to `out_dir` when the block succeeds and
    removed when it fails, so `out_dir` is either complete or untouched. `out_dir` must not exist or be
    an empty folder."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"out_dir '{out}' already exists and is not an empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_folder(out)
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def stale_partials(folder: str | os.PathLike) -> list[Path]:
    """Temporaries that a killed writer left in `folder` (files and folders named `.*.partial`)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIX))
