"""The integer-array steps the index and the cascade share, against their plain definitions."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sbir_etl.linkage.sorted_arrays import expand_ranges, sorted_unique

INTS = st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=200)


@given(INTS)
def test_sorted_unique_is_numpys_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    assert np.array_equal(sorted_unique(array), np.unique(array))
    assert sorted_unique(array).dtype == np.int64


@given(st.lists(st.tuples(st.integers(0, 1_000), st.integers(0, 20)), max_size=50))
def test_expand_ranges_lists_every_position_of_every_range_in_order(ranges: list[tuple[int, int]]) -> None:
    starts = np.array([s for s, _ in ranges], dtype=np.int64)
    counts = np.array([c for _, c in ranges], dtype=np.int64)
    expected = [p for s, c in ranges for p in range(s, s + c)]
    assert expand_ranges(starts, counts).tolist() == expected
