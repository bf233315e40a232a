"""rapidfuzz's `fuzz.ratio`, bit for bit, over Arrow string buffers, compiled with numba.

The blocking prefilter scores hundreds of millions of (award name, recipient name) pairs per
full run. Through rapidfuzz, each `cdist` call first converts every Python string of a block
while holding the GIL, so two threads were barely faster than one, and the index had to keep a
Python string per posting (11 M of them). These kernels read the UTF-8 bytes of the
(memory-mapped) Arrow arrays directly, in threads that never hold the GIL.

`fuzz.ratio(a, b)` is the Indel similarity `100 * (1 - (len(a) + len(b) - 2 * LCS) / (len(a) +
len(b)))`. The LCS comes from Hyyrö's bit-parallel algorithm, one 64-bit word per query, four
queries side by side over each recipient name's bytes. `ratio_with_cutoff` follows rapidfuzz's
`_normalized_similarity` step by step (its 1e-5 imprecision, the ceil of the distance cut-off,
the comparisons in the normalised domain); a pair counts as kept the way `cdist(...,
dtype=np.uint8)` keeps it: rounded half away from zero, not 0. Since that depends only on the
two lengths and the distance, each cut-off becomes one table: the largest distance kept per
length sum. Strings these kernels cannot score exactly (a query over 64 bytes, a byte outside
ASCII, where bytes are not code points) come back `UNDECIDED`, for rapidfuzz to score.
`tests/core/test_indel_kernel.py` checks them against rapidfuzz.

numba rather than a C extension: no compiler is needed where the wheel is installed; the
kernels compile on first use and are cached on disk.
"""

import numpy as np
import pyarrow as pa
from numba import njit

KEPT = 1
UNDECIDED = 2
WORD_BITS = 64
LANES = 4  # queries scored side by side: four independent bit chains the CPU runs in parallel
IMPRECISION = 0.00001  # rapidfuzz's NormSim_to_NormDist
MEMBER_TILE = 512  # recipient names (about 11 KB of bytes) scored by every query group while in cache


def string_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets, uint8 bytes) of an Arrow string array, zero-copy for the bytes: string i
    is `data[offsets[i]:offsets[i + 1]]` (a null is empty)."""
    if values.type != pa.string():
        raise TypeError(f"expected an Arrow string array, got {values.type}")
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    data_buffer = values.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(1, np.uint8)
    return offsets.astype(np.int64), data


@njit(cache=True, nogil=True)
def ratio_with_cutoff(lcs: int, lensum: int, score_cutoff: float) -> float:
    """`fuzz.ratio` of two strings from their LCS and summed length, as rapidfuzz computes it
    with `score_cutoff` (0.0 when below it)."""
    cutoff = score_cutoff / 100.0
    dist_cutoff = min(1.0, 1.0 - cutoff + IMPRECISION)
    dist = lensum - 2 * lcs
    if dist > np.ceil(lensum * dist_cutoff):
        return 0.0
    norm_dist = dist / lensum if lensum != 0 else 0.0
    if norm_dist > dist_cutoff:
        norm_dist = 1.0
    norm_sim = 1.0 - norm_dist
    return norm_sim * 100.0 if norm_sim >= cutoff else 0.0


@njit(cache=True, nogil=True)
def kept_distances(score_cutoff: float, max_lensum: int) -> np.ndarray:
    """Per length sum 0..max_lensum, the largest Indel distance `cdist(..., score_cutoff=...,
    dtype=np.uint8)` keeps (a nonzero score); -1 when none is kept."""
    out = np.full(max_lensum + 1, -1, dtype=np.int64)
    for lensum in range(max_lensum + 1):
        for dist in range(lensum % 2, lensum + 1, 2):  # lensum - 2 * lcs has lensum's parity
            if np.floor(ratio_with_cutoff((lensum - dist) // 2, lensum, score_cutoff) + 0.5) >= 1.0:
                out[lensum] = dist
    return out


@njit(cache=True, nogil=True)
def _patterns(
    q_offsets: np.ndarray, q_data: np.ndarray, queries: np.ndarray, pm: np.ndarray, lengths: np.ndarray
) -> bool:
    """Fill pm[c, k] with query k's match mask for byte c, and lengths[k]; False when a query
    cannot be scored here. Lanes past the last query stay empty."""
    pm[:, :] = 0
    lengths[:] = 0
    for k in range(len(queries)):
        lo, hi = q_offsets[queries[k]], q_offsets[queries[k] + 1]
        if hi - lo > WORD_BITS:
            return False
        lengths[k] = hi - lo
        for i in range(lo, hi):
            if q_data[i] >= 128:
                return False
            pm[q_data[i], k] |= np.uint64(1) << np.uint64(i - lo)
    return True


@njit(cache=True, nogil=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True, inline="always")
def _lcs4(pm: np.ndarray, data: np.ndarray, lo: int, hi: int, lengths: np.ndarray, lcs: np.ndarray) -> bool:
    """lcs[k] = the LCS of query lane k and data[lo:hi]; False at a byte outside ASCII."""
    full = ~np.uint64(0)
    s0 = s1 = s2 = s3 = full
    for i in range(lo, hi):
        c = data[i]
        if c >= 128:
            return False
        u0, u1, u2, u3 = s0 & pm[c, 0], s1 & pm[c, 1], s2 & pm[c, 2], s3 & pm[c, 3]
        s0, s1 = (s0 + u0) | (s0 - u0), (s1 + u1) | (s1 - u1)
        s2, s3 = (s2 + u2) | (s2 - u2), (s3 + u3) | (s3 - u3)
    for k, s in enumerate((s0, s1, s2, s3)):
        m = lengths[k]
        mask = full if m == WORD_BITS else (np.uint64(1) << np.uint64(m)) - np.uint64(1)
        lcs[k] = m - _popcount(s & mask)
    return True


@njit(cache=True, nogil=True)
def block_mask(
    q_offsets: np.ndarray,
    q_data: np.ndarray,
    n_offsets: np.ndarray,
    n_data: np.ndarray,
    block_queries: np.ndarray,
    query_starts: np.ndarray,
    members: np.ndarray,
    member_lo: np.ndarray,
    member_hi: np.ndarray,
    kept: np.ndarray,
    block_kept: np.ndarray,
    ascii_names: bool,
    first: int,
    stop: int,
    out_starts: np.ndarray,
    out: np.ndarray,
) -> int:
    """For blocks first..stop-1, every query of the block against every member, query by query
    (row-major), into `out[out_starts[b] - out_starts[first]:]`: `KEPT` when `fuzz.ratio` with
    the block's cut-off keeps the pair, else 0, or `UNDECIDED`.

    Block b's queries are `block_queries[query_starts[b]:query_starts[b + 1]]` (ids into the q_
    strings), its members `members[member_lo[b]:member_hi[b]]` (ids into the n_ strings); its
    cut-off is the table `kept[block_kept[b]]` of `kept_distances`. `ascii_names` says every n_
    string is ASCII, so that byte lengths are lengths and names no lane can reach are skipped."""
    most = 1
    for b in range(first, stop):
        most = max(most, (query_starts[b + 1] - query_starts[b] + LANES - 1) // LANES)
    pm = np.zeros((most, 128, LANES), dtype=np.uint64)
    lengths = np.zeros((most, LANES), dtype=np.int64)
    exact = np.zeros(most, dtype=np.bool_)
    lcs = np.zeros(LANES, dtype=np.int64)
    base = out_starts[first]
    touched = np.uint8(0)
    for b in range(first, stop):
        limit = kept[block_kept[b]]
        width = member_hi[b] - member_lo[b]
        groups = (query_starts[b + 1] - query_starts[b] + LANES - 1) // LANES
        for g in range(groups):
            q0 = query_starts[b] + g * LANES
            queries = block_queries[q0 : min(q0 + LANES, query_starts[b + 1])]
            exact[g] = _patterns(q_offsets, q_data, queries, pm[g], lengths[g])
        # Members in tiles that stay in cache while every group of queries passes over them.
        for t0 in range(0, width, MEMBER_TILE):
            t1 = min(width, t0 + MEMBER_TILE)
            # Touch the tile's names first: these loads do not wait on each other, so their cache
            # misses overlap; inside the bit loops below each would stall on its own.
            for j in range(t0, t1):
                n = members[member_lo[b] + j]
                if n_offsets[n + 1] > n_offsets[n]:
                    touched ^= n_data[n_offsets[n]] ^ n_data[n_offsets[n + 1] - 1]
            for g in range(groups):
                lanes = min(LANES, query_starts[b + 1] - query_starts[b] - g * LANES)
                row = out_starts[b] - base + g * LANES * width
                if not exact[g]:
                    for k in range(lanes):
                        out[row + k * width + t0 : row + k * width + t1] = UNDECIDED
                    continue
                pm_g, lengths_g = pm[g], lengths[g]  # views made once, not per name
                for j in range(t0, t1):
                    n = members[member_lo[b] + j]
                    n_lo, n_hi = n_offsets[n], n_offsets[n + 1]
                    if ascii_names:  # byte lengths are lengths: skip names too long or short for every lane
                        reachable = False
                        for k in range(lanes):
                            lensum = lengths_g[k] + n_hi - n_lo
                            if lensum >= len(limit) or abs(lengths_g[k] - (n_hi - n_lo)) <= limit[lensum]:
                                reachable = True
                        if not reachable:
                            continue
                    scored = _lcs4(pm_g, n_data, n_lo, n_hi, lengths_g, lcs)
                    for k in range(lanes):
                        lensum = lengths_g[k] + n_hi - n_lo
                        if not scored or lensum >= len(limit):
                            out[row + k * width + j] = UNDECIDED
                        elif lensum - 2 * lcs[k] <= limit[lensum]:
                            out[row + k * width + j] = KEPT
    return int(touched)  # returned only so that the touching loads are not optimised away


@njit(cache=True, nogil=True)
def pair_ratios(
    q_offsets: np.ndarray,
    q_data: np.ndarray,
    n_offsets: np.ndarray,
    n_data: np.ndarray,
    queries: np.ndarray,
    names: np.ndarray,
    out: np.ndarray,
) -> None:
    """out[i] = `fuzz.ratio` of (queries[i], names[i]) without a cut-off, or -1.0 where rapidfuzz
    must say. Pairs of one query should be adjacent: its pattern is built once per run of them."""
    pm = np.zeros((128, LANES), dtype=np.uint64)
    lengths = np.zeros(LANES, dtype=np.int64)
    lcs = np.zeros(LANES, dtype=np.int64)
    last = -1
    exact = False
    for i in range(len(queries)):
        if queries[i] != last:
            exact = _patterns(q_offsets, q_data, queries[i : i + 1], pm, lengths)
            last = queries[i]
        lo, hi = n_offsets[names[i]], n_offsets[names[i] + 1]
        if exact and _lcs4(pm, n_data, lo, hi, lengths, lcs):
            out[i] = ratio_with_cutoff(lcs[0], lengths[0] + hi - lo, 0.0)
        else:
            out[i] = -1.0
