"""Integer-array steps the index and the cascade share: distinct values by sorting, and the
positions of many CSR ranges at once.

`np.unique` on a plain integer array hashes in NumPy 2.x, which measured 10-60x slower here than
sorting (2.96 s vs 0.04 s for 2 million values): the blocking prefilter calls it on tens of
millions of (query, name) pairs per run.
"""

import numpy as np

__all__ = ["expand_ranges", "narrowest_positions", "sort_order", "sorted_unique"]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D integer array, ascending (what `np.unique` returns)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return ordered[first]


def sort_order(values: np.ndarray) -> np.ndarray:
    """The order that sorts integers stably (`np.argsort(values, kind="stable")`).

    Where the values are not negative and each fits in 63 bits with its position, this sorts
    the packed integers instead, which measured 15x faster than a stable `argsort` of 1.5
    million values."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    position_bits = (len(values) - 1).bit_length()
    if values.min() < 0 or int(values.max()).bit_length() + position_bits > 63:
        return np.argsort(values, kind="stable")
    packed = np.sort((values.astype(np.int64) << position_bits) | np.arange(len(values)))
    return packed & ((1 << position_bits) - 1)


def positions_in(values: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """`np.searchsorted(values, needles)` (the left insertion points), the needles searched in
    sorted order: NumPy starts each search where the one before ended, so 533,000 award codes
    are placed among 3M recipient codes in 0.03 s rather than 0.39 s, most of it cache misses."""
    if len(needles) < 1024:
        return np.searchsorted(values, needles)
    order = np.argsort(needles)
    out = np.empty(len(needles), dtype=np.intp)
    out[order] = np.searchsorted(values, needles[order])
    return out


def narrowest_positions(values: np.ndarray, bound: int) -> np.ndarray:
    """`values`, positions or counts below `bound`, as int32 when `bound` fits in it, else int64.

    The saved index holds several such arrays of millions of entries, and a run that touches them
    at random maps nearly all their pages: int32 halves what they cost it. Code reading them widens
    what it picks (`expand_ranges`, `int()`), so the narrow type never reaches arithmetic that
    could overflow it."""
    return values.astype(np.int32 if bound <= np.iinfo(np.int32).max + 1 else np.int64)


def expand_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """starts[0] .. starts[0]+counts[0]-1, then the same for each next range, as one int64 array:
    every position of a CSR array's rows `starts` (e.g. `offsets[rows]`) in one step."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    range_start = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - range_start, counts) + np.arange(total)
