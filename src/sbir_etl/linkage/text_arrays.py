"""One text-array type for the core: every column it cleans or compares is an Arrow string array.

`StringLookup` finds strings in a large, fixed set (the 2.6M distinct recipient names) without
hashing the set again on every call, as `pc.index_in` does: the set's hashes are computed once,
sorted, and kept as plain arrays, so a saved recipient index carries them and a run that loads
it by memory map looks names up at once.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sbir_etl.linkage.sorted_arrays import narrowest_positions

TextLike = pd.Series | pa.Array | pa.ChunkedArray


def as_string_array(values: TextLike) -> pa.Array:
    """A pandas Series or (chunked) Arrow array as one contiguous Arrow string array (a single
    chunk as it is: `combine_chunks` would copy it)."""
    if isinstance(values, pd.Series):
        arr = pa.array(values.astype("string[pyarrow]"), type=pa.string())
    elif isinstance(values, pa.ChunkedArray):
        arr = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    else:
        arr = values
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def compact_text(values: pa.Array) -> pa.Array:
    """`values` dictionary-encoded with the narrowest index type, if that is smaller, else as they are.

    For columns of few distinct values (states, cities, ZIP codes, a parent UEI most rows lack):
    a run touching a memory-mapped index at random maps nearly all of it, so every byte saved
    there is a byte less of that run's memory. `as_string_array` decodes it again."""
    encoded = pc.dictionary_encode(values)
    distinct = len(encoded.dictionary)
    narrow = next(t for t in (pa.int8(), pa.int16(), pa.int32()) if distinct <= np.iinfo(t.to_pandas_dtype()).max)
    compact = pa.DictionaryArray.from_arrays(encoded.indices.cast(narrow), encoded.dictionary)
    return compact if compact.nbytes < values.nbytes else values


_WORD = 8
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SEED = np.uint64(0xCBF29CE484222325)


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: every input bit reaches every output bit."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def string_hashes(values: pa.Array) -> np.ndarray:
    """A 64-bit hash of each string's UTF-8 bytes (uint64; a null hashes as ""), vectorised.

    The strings are consumed eight bytes at a time; each round touches only the strings that
    still have bytes left. The hash is this module's own (not Python's, not a
    library's), so hashes saved in an index stay valid across processes and library versions.
    """
    arr = as_string_array(values)
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    data_buffer = arr.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    padded = np.zeros(int(offsets[-1]) + _WORD, dtype=np.uint8)  # any 8 bytes from a string's start are readable
    padded[: offsets[-1] - offsets[0]] = data[offsets[0] : offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    lengths = np.diff(offsets)
    # Eight bytes beginning at every byte offset, read as one little-endian word.
    words = np.ndarray(shape=(len(padded) - _WORD + 1,), dtype="<u8", buffer=padded, strides=(1,))
    h = _SEED ^ (lengths.astype(np.uint64) * _MIX)
    live = np.arange(n)
    for at in range(0, int(lengths.max()), _WORD):
        live = live[lengths[live] > at]  # the strings with bytes left
        word = words[starts[live] + at]
        left = lengths[live] - at
        partial = left < _WORD
        if partial.any():
            keep = (np.uint64(1) << (np.minimum(left, _WORD).astype(np.uint64) * np.uint64(8))) - np.uint64(1)
            word = np.where(partial, word & keep, word)
        part = h[live] ^ word
        part *= _MIX
        part ^= part >> np.uint64(29)
        h[live] = part
    return _fmix(h)


@dataclass(frozen=True)
class StringLookup:
    """Positions of strings in a fixed set: its sorted hashes and, per hash, the position.

    A hit is confirmed by comparing the strings themselves, so a hash collision can cost time,
    never a wrong position. As `pc.index_in(..., skip_nulls=True)`, a value the set holds twice is
    found at its first position; nulls are never found.
    """

    values: pa.Array
    hashes: np.ndarray  # uint64, sorted
    positions: np.ndarray  # int32 (int64 past 2**31 values): position in `values` of each sorted hash

    @classmethod
    def build(cls, values: pa.Array) -> "StringLookup":
        values = as_string_array(values)
        hashes = string_hashes(values)
        valid = np.flatnonzero(pc.is_valid(values).to_numpy(zero_copy_only=False))
        order = valid[np.argsort(hashes[valid], kind="stable")]  # equal hashes keep their order
        return cls(values=values, hashes=hashes[order], positions=narrowest_positions(order, len(values)))

    def find(self, queries: TextLike) -> np.ndarray:
        """The position of each query in the set (int64), -1 where it is absent or null."""
        texts = as_string_array(queries)
        out = np.full(len(texts), -1, dtype=np.int64)
        if not len(texts) or not len(self.hashes):
            return out
        wanted = string_hashes(texts)
        at = np.searchsorted(self.hashes, wanted)
        inside = np.minimum(at, len(self.hashes) - 1)
        maybe = (at < len(self.hashes)) & (self.hashes[inside] == wanted)
        maybe &= pc.is_valid(texts).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(maybe)
        if not len(rows):
            return out
        first = self.positions[at[rows]].astype(np.int64)
        same = pc.equal(self.values.take(pa.array(first)), texts.take(pa.array(rows)))
        confirmed = pc.fill_null(same, False).to_numpy(zero_copy_only=False)
        out[rows[confirmed]] = first[confirmed]
        for row in rows[~confirmed]:  # a collision with the first string of that hash: try the others
            out[row] = self._scan(int(at[row]), int(wanted[row]), texts[int(row)].as_py())
        return out

    def _scan(self, start: int, hashed: int, query: str) -> int:
        stop = int(np.searchsorted(self.hashes, np.uint64(hashed), side="right"))
        for slot in range(start, stop):
            position = int(self.positions[slot])
            if self.values[position].as_py() == query:
                return position
        return -1
