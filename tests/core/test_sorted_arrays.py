"""The integer-array steps the index and the cascade share, against their plain definitions."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sbir_etl.linkage.sorted_arrays import expand_ranges, narrowest_positions, positions_in, sort_order, sorted_unique

INTS = st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=200)


@given(INTS)
def test_sorted_unique_is_numpys_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    assert np.array_equal(sorted_unique(array), np.unique(array))
    assert sorted_unique(array).dtype == np.int64


@given(st.one_of(st.lists(st.integers(0, 30), max_size=200), INTS))
def test_sort_order_is_a_stable_argsort(values: list[int]) -> None:
    """Small values (repeated, so that stability shows) take the packed path; large or negative
    ones the plain `argsort`."""
    array = np.array(values, dtype=np.int64)
    assert sort_order(array).tolist() == np.argsort(array, kind="stable").tolist()


@given(
    st.lists(st.integers(0, 50), max_size=100),
    st.lists(st.integers(-5, 55), min_size=1, max_size=30),
    st.integers(1, 120),
)
def test_positions_in_is_searchsorted_for_few_needles_and_many(
    values: list[int], needles: list[int], times: int
) -> None:
    """Past 1,024 needles they are searched in sorted order, and put back in theirs."""
    haystack = np.sort(np.array(values, dtype=np.uint64 if min(needles) >= 0 else np.int64))
    many = np.array(needles * times, dtype=haystack.dtype)
    assert positions_in(haystack, many).tolist() == np.searchsorted(haystack, many).tolist()


@given(st.lists(st.tuples(st.integers(0, 1_000), st.integers(0, 20)), max_size=50))
def test_expand_ranges_lists_every_position_of_every_range_in_order(ranges: list[tuple[int, int]]) -> None:
    starts = np.array([s for s, _ in ranges], dtype=np.int64)
    counts = np.array([c for _, c in ranges], dtype=np.int64)
    expected = [p for s, c in ranges for p in range(s, s + c)]
    assert expand_ranges(starts, counts).tolist() == expected


def test_positions_are_int32_while_their_bound_fits_and_int64_past_it() -> None:
    positions = np.array([0, 5, 2**31 - 2], dtype=np.int64)
    narrow = narrowest_positions(positions, 2**31 - 1)
    assert narrow.dtype == np.int32
    assert np.array_equal(narrow, positions)
    assert narrowest_positions(positions, 2**31).dtype == np.int32
    wide = narrowest_positions(np.array([0, 2**31], dtype=np.int64), 2**31 + 1)
    assert wide.dtype == np.int64
    assert wide[-1] == 2**31


def test_a_saved_index_stores_its_row_and_position_arrays_as_int32(tmp_path) -> None:
    from sbir_etl.config import EnrichmentConfig
    from sbir_etl.evaluation.synthetic import generate
    from sbir_etl.linkage import RecipientIndex

    config = EnrichmentConfig()
    index = RecipientIndex.build(generate(n_awards=10, n_recipients=500, seed=3).recipients, config.recipient_columns)
    narrowed = [
        name for name in index.arrays() if name.endswith(("rows", "positions", "name_offsets", "variants.offsets"))
    ]
    assert len(narrowed) >= 6, narrowed
    assert {name: str(index.arrays()[name].dtype) for name in narrowed} == {name: "int32" for name in narrowed}
