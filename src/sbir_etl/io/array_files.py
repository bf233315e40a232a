"""Named arrays in one Arrow IPC file, read back by memory map without copying.

A saved recipient index is a few dozen arrays of different lengths (names, postings, hashes,
the cleaned recipient table) plus a little JSON. Arrow's IPC file format stores a record batch
of equal-length columns, so each array is stored as the single value of a one-row list column:
reading the file through `pa.memory_map` hands each array back as a view of the mapped pages,
so loading costs no read and no copy, a process touches only the pages it uses, and several
processes mapping one file share them (and the kernel may drop them under memory pressure and
page them in again, instead of the process failing).

NumPy arrays come back as read-only NumPy views (booleans are stored as bytes: Arrow packs its
own booleans into bits, which NumPy cannot view). The JSON travels in the schema's metadata.

- `write_arrays(path, arrays, metadata)`: the file, written atomically.
- `map_arrays(path)`: (arrays, metadata), memory-mapped.
- `content_digest(path)`: SHA-256 of a file's bytes, to tell whether an input changed.
- `file_identity(path)`: which file, written when: the same tuple means the same bytes, unread.
"""

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from sbir_etl.errors import InputFormatError
from sbir_etl.io.outputs import atomic_path

METADATA_KEY = b"sbir_etl.arrays"
_BLOCK = 1 << 22

NamedArray: TypeAlias = pa.Array | np.ndarray


def content_digest(path: str | Path) -> str:
    """SHA-256 of the file's bytes (hex): equal digests mean equal content, whatever the mtime."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_identity(path: str | Path) -> tuple[int, int, int, int, int]:
    """(device, inode, size, mtime, ctime) of the file at `path`: an equal tuple later means the
    same bytes, since the kernel sets a file's change time (ctime) on every write and no program
    can set it back. A copy, or a file replaced by another, has another tuple."""
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _as_arrow(value: NamedArray) -> tuple[pa.Array, str | None]:
    """(Arrow array, NumPy dtype to restore or None for an Arrow array)."""
    if isinstance(value, np.ndarray):
        dtype = value.dtype.str
        data = value.view(np.uint8) if value.dtype == np.bool_ else value
        return pa.array(np.ascontiguousarray(data)), dtype
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks(), None
    return value, None


def write_arrays(path: str | Path, arrays: Mapping[str, NamedArray], metadata: Mapping[str, Any]) -> None:
    """Write `arrays` and the JSON-safe `metadata` to one Arrow IPC file, replacing `path` atomically."""
    columns, dtypes = {}, {}
    for name, value in arrays.items():
        array, dtype = _as_arrow(value)
        columns[name] = pa.LargeListArray.from_arrays(pa.array([0, len(array)], pa.int64()), array)
        if dtype is not None:
            dtypes[name] = dtype
    header = json.dumps({"numpy": dtypes, "metadata": dict(metadata)}, sort_keys=True)
    table = pa.table(columns).replace_schema_metadata({METADATA_KEY: header.encode()})
    with atomic_path(path) as tmp, pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Only the metadata of a file `write_arrays` wrote (no array is touched)."""
    return _header(path, _open(path).schema)["metadata"]


def map_arrays(path: str | Path) -> tuple[dict[str, NamedArray], dict[str, Any]]:
    """The arrays and metadata of a file `write_arrays` wrote, as views of its memory-mapped pages."""
    reader = _open(path)
    header = _header(path, reader.schema)
    batch = reader.get_batch(0)
    arrays: dict[str, NamedArray] = {}
    for name, column in zip(batch.schema.names, batch.columns):
        values = column.flatten()
        dtype = header["numpy"].get(name)
        arrays[name] = values if dtype is None else values.to_numpy(zero_copy_only=True).view(np.dtype(dtype))
    return arrays, header["metadata"]


def _open(path: str | Path) -> pa.ipc.RecordBatchFileReader:
    try:
        return pa.ipc.open_file(pa.memory_map(str(path), "r"))
    except pa.ArrowInvalid as error:
        raise InputFormatError(f"{path}: not an index file written by sbir-etl ({error})") from None


def _header(path: str | Path, schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise InputFormatError(f"{path}: an Arrow file, but not one written by sbir-etl (no {METADATA_KEY.decode()})")
    header: dict[str, Any] = json.loads(raw)
    return header


__all__ = ["content_digest", "map_arrays", "read_metadata", "write_arrays"]
