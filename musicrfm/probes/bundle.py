"""Probe bundles on disk: a folder holding `directions.safetensors` (tensors) and `probe.json` (metadata).

Saving builds the bundle in a temporary sibling folder and renames it into place, so a folder at the
target path is always a complete bundle (an existing bundle is replaced only once the new one is whole).
Loading parses JSON and safetensors only, never pickle, and refuses anything inconsistent: an unknown
schema version, a tensor file whose checksum, names, shapes or dtypes differ from what probe.json records,
non-finite values or missing fields. This module knows the file format; `ConceptProbe.save` / `.load` turn a
probe into these parts and back (and refuse metadata that does not make a valid probe).

>>> import tempfile, torch
>>> fields = {name: None for name in FIELDS}
>>> folder = write_bundle(tempfile.mkdtemp() + "/tempo_probe", fields,
...                       {"vectors": torch.tensor([[0.6, 0.8]]), "eigenvalues": torch.ones(1)})
>>> sorted(p.name for p in folder.iterdir())
['directions.safetensors', 'probe.json']
>>> read_bundle(folder)[1]["vectors"].tolist()
[[0.6000000238418579, 0.800000011920929]]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as dump_tensors

from musicrfm.files import temporary_folder

FORMAT = "musicrfm-probe"
# Schema 2 adds the optional `predictor` field and its tensors (musicrfm.probes.predictor); schema 1 bundles,
# which lack them, are still read (their `predictor` is None).
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
TENSOR_FILE, META_FILE = "directions.safetensors", "probe.json"
TENSOR_NAMES = ("vectors", "eigenvalues")
FIELDS = ("concept", "task", "classes", "target", "layers", "val_scores", "test_scores", "metric", "model",
           "pooling", "delay_pattern", "search", "dataset", "version", "predictor")
OPTIONAL_FIELDS = {"predictor": None}


def bundle_metadata(fields: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], tensor_bytes: bytes) -> dict:
    """probe.json's content for `fields` and `tensors` (which serialise to `tensor_bytes`)."""
    meta: dict[str, Any] = {"format": FORMAT, "schema_version": SCHEMA_VERSION}
    meta.update({name: fields[name] for name in FIELDS})
    meta["tensors"] = {
        "file": TENSOR_FILE, "sha256": hashlib.sha256(tensor_bytes).hexdigest(),
        **{name: {"shape": list(tensors[name].shape), "dtype": "float32"} for name in sorted(tensors)},
    }
    return meta


def write_bundle(path: str | os.PathLike, fields: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> Path:
    """Write a bundle folder at `path`, replacing a bundle already there but never any other folder."""
    out = Path(path).expanduser()
    if out.exists() and not is_bundle(out):
        raise ValueError(f"path '{out}' exists and is not a probe bundle; refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    if any(tensors[name].dtype != torch.float32 for name in tensors):
        raise ValueError("bundle tensors must be float32")
    tensor_bytes = dump_tensors({name: tensors[name].contiguous() for name in tensors})
    meta = bundle_metadata(fields, tensors, tensor_bytes)
    text = json.dumps(meta, indent=2, allow_nan=False, default=_plain) + "\n"
    tmp = temporary_folder(out)
    try:
        _write(tmp / TENSOR_FILE, tensor_bytes)
        _write(tmp / META_FILE, text.encode("utf-8"))
        _swap_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out


def is_bundle(path: Path) -> bool:
    """Whether `path` is a folder whose probe.json declares this bundle format (contents not validated)."""
    try:
        return json.loads((path / META_FILE).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed probe.json of bundle `path`, with its format and schema version checked."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ValueError(f"probe bundle '{folder}' does not exist or is not a folder")
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"'{folder / META_FILE}' cannot be read as JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"'{folder / META_FILE}' is not a {FORMAT} description")
    if meta.get("schema_version") not in READABLE_SCHEMAS:
        raise ValueError(f"'{folder / META_FILE}': unsupported schema_version {meta.get('schema_version')!r} "
                         f"(this musicrfm reads {list(READABLE_SCHEMAS)})")
    return meta


def read_bundle(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The metadata fields and the tensors of bundle folder `path`, each checked against probe.json."""
    folder = Path(path).expanduser()
    meta = read_metadata(folder)
    tensors = _read_tensors(folder / TENSOR_FILE, meta.get("tensors"))
    missing = [name for name in FIELDS if name not in meta and name not in OPTIONAL_FIELDS]
    if missing:
        raise ValueError(f"'{folder / META_FILE}' lacks the fields {missing}")
    return {name: meta.get(name, OPTIONAL_FIELDS.get(name)) for name in FIELDS}, tensors


def _read_tensors(file: Path, spec: object) -> dict[str, torch.Tensor]:
    if not isinstance(spec, Mapping) or not all(isinstance(spec.get(n), Mapping) for n in TENSOR_NAMES):
        raise ValueError(f"'{file.parent / META_FILE}' lacks the 'tensors' description")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"'{file}' cannot be read: {exc}") from exc
    if hashlib.sha256(raw).hexdigest() != spec.get("sha256"):
        raise ValueError(f"'{file}' does not match the checksum in {META_FILE}: the bundle is corrupted or mixed")
    try:
        tensors = load_tensors(raw)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"'{file}' is not a valid safetensors file: {exc}") from exc
    recorded_names = sorted(name for name in spec if name not in ("file", "sha256"))
    if sorted(tensors) != recorded_names or not set(TENSOR_NAMES) <= set(tensors):
        raise ValueError(f"'{file}' must hold exactly the tensors {recorded_names} (with {list(TENSOR_NAMES)}), "
                         f"got {sorted(tensors)}")
    for name in recorded_names:
        recorded = spec[name] if isinstance(spec[name], Mapping) else {}
        actual = {"shape": list(tensors[name].shape), "dtype": str(tensors[name].dtype).removeprefix("torch.")}
        if recorded.get("shape") != actual["shape"] or recorded.get("dtype") != actual["dtype"]:
            raise ValueError(f"'{file}': tensor '{name}' is {actual} but {META_FILE} records "
                             f"{{'shape': {recorded.get('shape')}, 'dtype': {recorded.get('dtype')!r}}}")
    return dict(tensors)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder to `out`; an existing bundle moves aside first and is deleted after."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = temporary_folder(out)
    os.replace(out, old / out.name)
    os.replace(tmp, out)
    shutil.rmtree(old)


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"probe metadata holds a {type(value).__name__}, which JSON cannot store")
