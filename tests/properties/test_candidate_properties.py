"""Properties of the candidate sources and exact-identifier codes the cascade relies on."""

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sbir_etl.linkage.candidates import BlockingIndex, DescriptorVariants
from sbir_etl.linkage.recipients import identifier_codes

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
