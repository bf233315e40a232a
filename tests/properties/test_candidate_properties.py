"""Properties of the candidate sources and exact-identifier codes the cascade relies on."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from sbir_etl.linkage import text_arrays
from sbir_etl.linkage.candidates import (
    BlockingIndex,
    DescriptorVariants,
    NameCandidates,
    merge_candidates,
    token_sorted,
)
from sbir_etl.linkage.recipients import identifier_codes
from sbir_etl.linkage.text_arrays import StringLookup

# Distinctive words far from every descriptor (so none is read as a misspelt one), and descriptors.
DISTINCT = ["zork", "quib", "vexa", "ploom", "tarn"]
DESCRIPTORS = ["systems", "technologies", "laboratories", "robotics", "group"]
names = st.lists(st.sampled_from(DISTINCT + DESCRIPTORS), min_size=1, max_size=4, unique=True).map(" ".join)


@given(st.lists(names, min_size=1, max_size=12, unique=True), st.lists(names, min_size=1, max_size=6, unique=True))
@settings(max_examples=200, deadline=None)
def test_descriptor_variants_differ_only_by_descriptors_and_none_is_missed(indexed, queries):
    names_array = pa.array(indexed, type=pa.string())
    variants = DescriptorVariants(names_array, BlockingIndex(names_array, max_key_share=0.005))
    found = variants.candidates(pa.array(queries, type=pa.string()))
    produced = {(queries[q], indexed[n]): s for q, n, s in zip(found.query, found.name, found.score)}
    expected = {}
    for query in queries:
        for name in indexed:
            mine, theirs = set(query.split()), set(name.split())
            extra = mine ^ theirs
            has_core = bool(mine - set(DESCRIPTORS))
            if (
                has_core
                and extra
                and extra <= set(DESCRIPTORS)
                and (mine <= theirs or theirs <= mine)
                and len(extra) <= 2
            ):
                expected[(query, name)] = 100.0 - 5.0 * len(extra)
    assert produced == expected


identifiers = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)


@given(st.lists(identifiers, unique=True, max_size=50))
def test_identifier_codes_never_collide(values):
    codes = identifier_codes(pa.array(values, type=pa.string())).tolist()
    assert len(set(codes)) == len(values) and 0 not in codes


# Words with spaces doubled, empty names and non-ASCII letters: the cases a vectorised rewrite gets wrong.
texts = st.one_of(st.none(), st.text(alphabet=st.sampled_from(["a", "b", "é", "ß", "中", " ", "1"]), max_size=12))


@given(st.lists(texts, max_size=30))
def test_token_sorted_writes_each_name_as_python_sorts_its_words(values):
    result = token_sorted(pa.array(values, type=pa.string())).to_pylist()
    assert result == [" ".join(sorted(v.split(" "))) if v else "" for v in values]


@given(st.lists(texts, max_size=30), st.lists(texts, max_size=30))
def test_string_lookup_finds_what_index_in_finds(value_set, queries):
    values, asked = pa.array(value_set, type=pa.string()), pa.array(queries, type=pa.string())
    expected = pc.fill_null(pc.index_in(asked, value_set=values, skip_nulls=True), -1).to_numpy(zero_copy_only=False)
    assert StringLookup.build(values).find(asked).tolist() == expected.tolist()


@given(st.lists(texts, max_size=30), st.lists(texts, max_size=30))
def test_string_lookup_is_right_when_every_hash_collides(value_set, queries):
    values, asked = pa.array(value_set, type=pa.string()), pa.array(queries, type=pa.string())
    expected = pc.fill_null(pc.index_in(asked, value_set=values, skip_nulls=True), -1).to_numpy(zero_copy_only=False)
    real = text_arrays.string_hashes
    text_arrays.string_hashes = lambda strings: real(strings) & np.uint64(1)  # two hash values in all
    try:
        found = StringLookup.build(values).find(asked)
    finally:
        text_arrays.string_hashes = real
    assert found.tolist() == expected.tolist()


@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab\x00cé", max_size=20)), max_size=40), st.integers(0, 3))
def test_text_sort_order_sorts_as_arrow_does_and_marks_each_repeat(strings, cut):
    """Bytes order, nulls last, equal strings in row order; a repeat equals the string before it
    (a null the null before it). Strings of shared prefixes longer than a word, and sliced arrays."""
    column = pa.array([s if s is None else "prefix-shared " + s for s in strings], type=pa.string())
    column = column.slice(min(cut, len(column)))
    order, repeats = text_arrays.text_sort_order(column)
    assert order.tolist() == pc.sort_indices(column).to_numpy().tolist()
    ordered = column.take(pa.array(order, type=pa.int64())).to_pylist()
    assert repeats.dtype == bool
    assert repeats.tolist() == [after == before for before, after in zip(ordered, ordered[1:])]


def test_text_sort_order_keeps_equal_strings_in_row_order_and_a_prefix_first():
    # Large enough for NumPy's unstable sort to mix equal keys; "a" and "a\0" tie in every word.
    column = pa.array(["b", "a", "a\x00", None, "a", "abcdefgh", "abcdefgh\x00", "b"] * 400, type=pa.string())
    order, repeats = text_arrays.text_sort_order(column)
    assert order.tolist() == pc.sort_indices(column).to_numpy().tolist()
    assert int(repeats.sum()) == len(column) - 6


EXPECTED_HASHES = [17280346270528514342, 3790113332099880225, 357692473007937778, 9223555758494001480]


def test_string_hashes_are_fixed_across_processes_and_versions():
    # Saved indexes carry these hashes: a change to the function must come with a new index format.
    hashes = text_arrays.string_hashes(pa.array(["", "acme", "acme systems inc", "société générale"]))
    assert [int(h) for h in hashes] == EXPECTED_HASHES


def _merge_reference(parts, top_k):
    """merge_candidates as it was written with pandas (sort, first of each pair, top k per query)."""
    frame = pd.concat([pd.DataFrame({"query": p.query, "name": p.name, "score": p.score}) for p in parts])
    frame = frame.sort_values(["query", "score", "name"], ascending=[True, False, True], kind="stable")
    frame = frame.drop_duplicates(["query", "name"])
    frame = frame[frame.groupby("query").cumcount() < top_k]
    return frame["query"].tolist(), frame["name"].tolist(), frame["score"].tolist()


candidate = st.tuples(
    st.integers(0, 5), st.integers(0, 8), st.one_of(st.integers(0, 10000).map(lambda h: h / 100), st.floats(0, 100))
)


in_hundredths = st.tuples(st.integers(0, 5), st.integers(0, 8), st.integers(0, 10000).map(lambda h: h / 100))


@given(st.lists(st.lists(candidate, max_size=20), min_size=1, max_size=3), st.integers(1, 4))
def test_merge_candidates_keeps_the_best_names_of_each_query(parts, top_k):
    _assert_merged_as_reference(parts, top_k)


@given(st.lists(st.lists(in_hundredths, max_size=20), min_size=1, max_size=3), st.integers(1, 4))
def test_merge_candidates_of_scores_in_hundredths_sorts_them_packed(parts, top_k):
    """Scores as the blocking index makes them (hundredths) take the packed-integer path."""
    _assert_merged_as_reference(parts, top_k)


def _assert_merged_as_reference(parts, top_k):
    as_candidates = [
        NameCandidates(
            np.array([q for q, _, _ in p], dtype=np.int64),
            np.array([n for _, n, _ in p], dtype=np.int64),
            np.array([s for _, _, s in p], dtype=np.float64),
        )
        for p in parts
    ]
    merged = merge_candidates(as_candidates, top_k)
    assert (merged.query.tolist(), merged.name.tolist(), merged.score.tolist()) == _merge_reference(
        as_candidates, top_k
    )
