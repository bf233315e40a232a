"""The two scores of a fuzzy name candidate, for every (award name, recipient name) pair that
the blocking index lets meet, exactly as rapidfuzz would compute them.

A `BlockPlan` lists the meetings: per blocking key (a block), a run of query names and a range
of the key's postings (recipient names); a block's pairs are numbered query by query. Then
`PairScorer`:
1. `prefiltered`: `fuzz.ratio` of every pair of every block against the block's cut-off, by
   `indel_kernel` straight from the Arrow bytes, in threads that never hold the GIL (rapidfuzz's
   `cdist` held it while converting each block's strings, and needed a Python string per
   posting); the kernel lists only the pairs it keeps (about 1 in 70), and the few it cannot
   score exactly go to rapidfuzz; a pair met in several blocks is kept once;
2. `set_ratios`: rapidfuzz's `fuzz.token_set_ratio` of the survivors, by a second kernel.

`BlockingIndex.candidates` averages the two. The output is the one `cdist` / `cpdist` gave,
pair for pair and bit for bit (`tests/properties/test_pair_scores.py`).
"""

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from sbir_etl.linkage.sorted_arrays import sort_order
from sbir_etl.linkage.text_arrays import string_buffers

PAIRS_PER_TASK = 4_000_000  # pairs one scoring thread takes at a time
KEPT_ROOM = 4096  # kept pairs a task makes room for, beyond one in 16 of its pairs (1 in 70 at full scale)


class TextCache:
    """Python strings for the entries of an Arrow string array, made when first asked for.

    rapidfuzz scores Python strings; the index keeps its names as Arrow (memory-mapped when it
    was loaded from a file). This makes the strings of the names a run touches, once each, in
    the process that needs them, instead of all of them in every process.
    """

    def __init__(self, values: pa.Array) -> None:
        self.values = values
        self._objects: np.ndarray | None = None
        self._made: np.ndarray | None = None

    def make(self, ids: np.ndarray) -> None:
        """Make the strings of `ids` (not thread-safe: call before handing `get` to threads)."""
        if self._objects is None or self._made is None:
            self._objects = np.full(len(self.values), None, dtype=object)
            self._made = np.zeros(len(self.values), dtype=bool)
        wanted = np.zeros(len(self.values), dtype=bool)  # marking, not np.unique: ids repeat by the million
        wanted[ids] = True
        missing = np.flatnonzero(wanted & ~self._made)
        if len(missing):
            self._objects[missing] = self.values.take(pa.array(missing)).to_numpy(zero_copy_only=False)
            self._made[missing] = True

    def get(self, ids: np.ndarray) -> np.ndarray:
        """The strings of `ids`, all of which `make` has made."""
        assert self._objects is not None
        return self._objects[ids]


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of `array`. A saved index is memory-mapped read-only, and numba compiles
    (and loads) a kernel once per kind of array it is given: built and loaded indexes hand the
    kernels the same kind, so one compiled kernel serves both, and `load_kernels` loads it."""
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class StringBytes:
    """An Arrow string array as the kernels read it: string i is `data[offsets[i]:offsets[i + 1]]`
    (Arrow's int32 offsets and bytes, zero-copy, a null empty), whether every string is ASCII (so
    that byte lengths are lengths), and the longest string's length in bytes."""

    offsets: np.ndarray
    data: np.ndarray
    ascii: bool
    longest: int

    @classmethod
    def of(cls, values: pa.Array) -> "StringBytes":
        if values.type != pa.string():
            raise TypeError(f"expected an Arrow string array, got {values.type}")
        # A view, not an int64 copy: at full scale that copy was 20 MiB of every scoring process.
        offsets, data = string_buffers(values)
        data = data if data is not None else np.zeros(1, np.uint8)
        ascii_only = pc.all(pc.string_is_ascii(values)).as_py() is not False  # None: no strings
        return cls(read_only(offsets), read_only(data), bool(ascii_only), int(np.diff(offsets).max(initial=0)))

    def lengths(self, ids: np.ndarray) -> np.ndarray:
        """The byte lengths of strings `ids`."""
        return (self.offsets[ids + 1] - self.offsets[ids]).astype(np.int64)


@dataclass(frozen=True)
class BlockPlan:
    """Which query names meet which recipient names. Block b pairs the queries
    `queries[query_starts[b]:query_starts[b + 1]]` with the postings `member_lo[b]:member_hi[b]`
    under the prefilter cut-off `cutoffs[b]`; its pairs are numbered from `pair_starts[b]`."""

    queries: np.ndarray
    query_starts: np.ndarray
    member_lo: np.ndarray
    member_hi: np.ndarray
    cutoffs: np.ndarray
    pair_starts: np.ndarray

    @classmethod
    def of(cls, query: np.ndarray, key: np.ndarray, cutoff: np.ndarray, offsets: np.ndarray) -> "BlockPlan":
        """The plan for (query, key, cut-off) rows sorted by key; a key's postings are
        `offsets[key]:offsets[key + 1]`."""
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        query_starts = np.r_[starts, len(key)].astype(np.int64)
        block_keys = key[starts]
        member_lo, member_hi = offsets[block_keys], offsets[block_keys + 1]
        pair_starts = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(np.diff(query_starts) * (member_hi - member_lo), out=pair_starts[1:])
        return cls(query, query_starts, member_lo, member_hi, np.asarray(cutoff, np.float64)[starts], pair_starts)

    def tasks(self, pairs_per_task: int) -> list[tuple[int, int]]:
        """Runs of whole blocks (first, stop) of about `pairs_per_task` pairs each."""
        blocks = len(self.member_lo)
        if not blocks:
            return []
        edges = np.searchsorted(self.pair_starts, np.arange(0, self.pair_starts[-1], pairs_per_task), "right") - 1
        edges = np.unique(np.r_[0, edges])
        return [(int(a), int(b)) for a, b in zip(edges, np.r_[edges[1:], blocks])]


def _kernels() -> ModuleType:
    """`indel_kernel`, imported when a run first scores names: numba costs about 60 MiB and a
    second of start-up, which `sbir-etl index` (whose peak is the build) never needs."""
    from sbir_etl.linkage import indel_kernel

    return indel_kernel


@functools.lru_cache(maxsize=32)
def _kept_table(cutoff: float, longest: int) -> np.ndarray:
    """`indel_kernel.kept_distances`, made once per cut-off and length bound, not on every call."""
    table: np.ndarray = _kernels().kept_distances(cutoff, longest)
    table.setflags(write=False)
    return table


def _ratio(lcs: np.ndarray, lensum: np.ndarray) -> np.ndarray:
    """`fuzz.ratio` from the LCS and the summed length, in rapidfuzz's order of float operations."""
    norm_dist = (lensum - 2 * lcs) / np.maximum(lensum, 1)  # 0 / 1 = 0 for two empty strings, as rapidfuzz
    return (1.0 - norm_dist) * 100.0


class PairScorer:
    """Scores (query, name) pairs of one set of query names against the index's names: both
    token-sorted, the queries an Arrow string array, the names their `StringBytes` (made once
    per index) and `name_text` their Python strings."""

    def __init__(self, queries: pa.Array, names: StringBytes, name_text: TextCache, workers: int) -> None:
        self.names, self.name_text, self.workers = names, name_text, workers
        self.queries = StringBytes.of(queries)
        self.kernel = _kernels()
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.buffers = (self.queries.offsets, self.queries.data, names.offsets, names.data)
        self.query_text = queries.to_numpy(zero_copy_only=False)

    def __enter__(self) -> "PairScorer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown()

    def prefiltered(self, plan: BlockPlan, members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct (query, name) pairs whose `fuzz.ratio` reaches the cut-off of a block
        they meet in (`members` maps postings to names), sorted by query then name, with that
        ratio as `cpdist` returns it (float32)."""
        members = read_only(members)
        cutoffs, block_table = np.unique(plan.cutoffs, return_inverse=True)
        longest = self.kernel.WORD_BITS + self.names.longest
        tables = np.stack([_kept_table(float(c), longest) for c in cutoffs] or [np.zeros(1, np.int64)])

        def kept(first: int, stop: int, room: int) -> tuple[int, tuple[np.ndarray, ...]]:
            out = np.empty(room, np.int32), np.empty(room, np.int32), np.empty(room, np.uint8), np.empty(room, np.int32)
            count = self.kernel.kept_pairs(
                *self.buffers, plan.queries, plan.query_starts, members, plan.member_lo, plan.member_hi,
                tables, block_table, self.names.ascii, first, stop, *out,
            )  # fmt: skip
            return count, out

        def score(task: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            first, stop = task
            pairs = int(plan.pair_starts[stop] - plan.pair_starts[first])
            count, out = kept(first, stop, min(pairs, KEPT_ROOM + pairs // 16))
            if count < 0:  # more kept than room for: once more, with room for every pair
                count, out = kept(first, stop, pairs)
            query, name, verdict, block = (column[:count] for column in out)
            query, name = query.astype(np.int64), name.astype(np.int64)
            return query, name, self._kernel_ratios(query, name, verdict), plan.cutoffs[block]

        parts = list(self.pool.map(score, plan.tasks(PAIRS_PER_TASK)))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        q, n, ratio, cutoff = (np.concatenate(column) for column in zip(*parts))
        undecided = np.flatnonzero(np.isnan(ratio))
        if len(undecided):
            ratio[undecided] = self._rapidfuzz_ratios(q[undecided], n[undecided], cutoff[undecided])
        found = np.flatnonzero(~np.isnan(ratio))
        key = (q[found] << int(self.names.offsets.size).bit_length()) | n[found]
        order = sort_order(key)
        key = key[order]
        first = np.r_[True, key[1:] != key[:-1]] if len(order) else np.zeros(0, bool)
        found = found[order[first]]  # keep one of each pair
        return q[found], n[found], ratio[found].astype(np.float32)

    def _kernel_ratios(self, q: np.ndarray, n: np.ndarray, verdict: np.ndarray) -> np.ndarray:
        """`fuzz.ratio` of each kept pair from its verdict (1 + the LCS); NaN where it is `UNDECIDED`."""
        ratio = np.full(len(q), np.nan)
        scored = np.flatnonzero(verdict != self.kernel.UNDECIDED)
        lensum = self.queries.lengths(q[scored]) + self.names.lengths(n[scored])
        ratio[scored] = _ratio(verdict[scored].astype(np.int64) - 1, lensum)
        return ratio

    def _rapidfuzz_ratios(self, q: np.ndarray, n: np.ndarray, cutoff: np.ndarray) -> np.ndarray:
        """`fuzz.ratio` of pairs the kernel cannot score, NaN where `cdist` with `cutoff` dropped them."""
        self.name_text.make(n)
        left, right = self.query_text[q], self.name_text.get(n)
        out = process.cpdist(left, right, scorer=fuzz.ratio, dtype=np.float64)
        for value in np.unique(cutoff):
            at = np.flatnonzero(cutoff == value)
            kept = process.cpdist(left[at], right[at], scorer=fuzz.ratio, score_cutoff=float(value), dtype=np.uint8)
            out[at[kept == 0]] = np.nan
        return out

    def set_ratios(self, q: np.ndarray, n: np.ndarray) -> np.ndarray:
        """`fuzz.token_set_ratio` of each pair, as `cpdist` returns it (float32)."""
        by_name = sort_order(n)  # names in memory order: fewer cache misses
        scores = np.empty(len(q), dtype=np.float64)
        # At least one span per thread: a run's survivors are often fewer than one task's worth.
        spans = max(self.workers, -(-len(q) // (PAIRS_PER_TASK // 4)))
        edges = np.linspace(0, len(q), spans + 1).astype(np.int64)
        longest = max(self.queries.longest, self.names.longest)

        def score(span: tuple[int, int]) -> None:
            at = by_name[span[0] : span[1]]
            scores[span[0] : span[1]] = self.kernel.token_set_ratios(*self.buffers, q[at], n[at], longest)

        list(self.pool.map(score, zip(edges[:-1], edges[1:])))
        out = np.empty(len(q), dtype=np.float64)
        out[by_name] = scores
        undecided = np.flatnonzero(np.isnan(out))
        if len(undecided):
            self.name_text.make(n[undecided])
            left, right = self.query_text[q[undecided]], self.name_text.get(n[undecided])
            out[undecided] = process.cpdist(left, right, scorer=fuzz.token_set_ratio, dtype=np.float64)
        return out.astype(np.float32)
