"""Stream a large (rows, ...) float array into a safetensors file with bounded memory.

The header is written first (the shape is known up front), then rows land through a memory map in any
order; the file only appears under its final name once complete. The result is a plain safetensors file
that `safetensors.numpy.load_file` reads; `load_array` maps it without loading it.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "x.safetensors")
>>> with ArrayWriter(path, (3, 2), "float32", {"note": "demo"}) as w:
...     w.array[[2, 0, 1]] = [[5, 5], [1, 1], [3, 3]]
>>> array, meta = load_array(path)
>>> array.tolist(), meta["note"]
([[1.0, 1.0], [3.0, 3.0], [5.0, 5.0]], 'demo')
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from musicrfm.files import temporary_path

TENSOR_NAME = "hidden_states"
_ST_DTYPES = {"float32": "F32", "float16": "F16"}
_NP_DTYPES = {v: k for k, v in _ST_DTYPES.items()}
_ALIGN = 8


def _header_bytes(shape: tuple[int, ...], dtype: str, metadata: Mapping[str, Any]) -> bytes:
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    header = {
        "__metadata__": {k: json.dumps(v) for k, v in metadata.items()},
        TENSOR_NAME: {"dtype": _ST_DTYPES[dtype], "shape": list(shape), "data_offsets": [0, nbytes]},
    }
    raw = json.dumps(header, separators=(",", ":")).encode()
    # safetensors pads the header with spaces so the data starts aligned.
    raw += b" " * (-(len(raw) + 8) % _ALIGN)
    return struct.pack("<Q", len(raw)) + raw


class ArrayWriter:
    """Context manager holding a writable memory map (`.array`) over a new safetensors file.

    Metadata values are stored JSON-encoded. On error inside the block the partial file is removed.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...], dtype: str, metadata: Mapping[str, Any]):
        if dtype not in _ST_DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_ST_DTYPES)}, got {dtype!r}")
        if not shape or any(not isinstance(n, int) or n < 1 for n in shape):
            raise ValueError(f"shape must be positive integers, got {shape!r}")
        self.path = Path(path)
        if self.path.suffix != ".safetensors":
            raise ValueError(f"out must end in .safetensors, got '{self.path.name}'")
        if not self.path.parent.is_dir():
            raise ValueError(f"folder '{self.path.parent}' for out does not exist")
        header = _header_bytes(shape, dtype, metadata)
        self._tmp = temporary_path(self.path)
        with open(self._tmp, "wb") as handle:
            handle.write(header)
            handle.truncate(len(header) + int(np.prod(shape)) * np.dtype(dtype).itemsize)
        self.array = np.memmap(self._tmp, dtype=dtype, mode="r+", offset=len(header), shape=shape)

    def __enter__(self) -> ArrayWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.array.flush()
        del self.array
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)


def load_array(path: str | os.PathLike, *, mmap: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Read an array written by `ArrayWriter` (read-only memory map by default) and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"file '{path}' does not exist")
    with open(path, "rb") as handle:
        try:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
            entry = header[TENSOR_NAME]
            dtype = _NP_DTYPES[entry["dtype"]]
        except (struct.error, ValueError, KeyError) as exc:
            raise ValueError(f"file '{path}' is not a musicrfm hidden-state file") from exc
    shape = tuple(entry["shape"])
    array = np.memmap(path, dtype=dtype, mode="r", offset=8 + size, shape=shape)
    metadata = {k: json.loads(v) for k, v in header.get("__metadata__", {}).items()}
    return (array if mmap else np.array(array)), metadata
