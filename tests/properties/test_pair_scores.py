"""The compiled prefilter must give rapidfuzz's scores bit for bit: the enrichment's output is
promised identical to what `cdist` / `cpdist` produced, so any drift here is a regression."""

import numpy as np
import pyarrow as pa
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from sbir_etl.linkage import indel_kernel, pair_scores
from sbir_etl.linkage.candidates import BlockingIndex, NameCandidates, merge_candidates, token_sorted
from sbir_etl.linkage.pair_scores import BlockPlan, PairScorer, StringBytes, TextCache

# Few letters make long common subsequences, so scores land on and around every cut-off; "é" and
# "中" are outside ASCII (bytes are not code points there), and long strings pass the 64-byte word.
ascii_text = st.text(alphabet="abcde ", max_size=30)
any_text = st.one_of(
    ascii_text,
    st.text(alphabet="abé中 ", max_size=12),
    st.text(alphabet="ab", min_size=60, max_size=80),
)
cutoffs = st.one_of(st.sampled_from([0.0, 0.4, 0.5, 50.0, 60.0, 66.6667, 70.0, 75.0, 80.0, 100.0]), st.floats(0, 100))


def _kept_distance_mismatches(cutoff: float, longest: int) -> list[tuple[int, int]]:
    """(length sum, distance) where the table and rapidfuzz disagree. A pair with LCS l is
    'a' * l + 'c' * x against 'a' * l + 'b' * y, so every distance of every length sum is met."""
    cases = [(total, dist) for total in range(longest + 1) for dist in range(total % 2, total + 1, 2)]
    left = ["a" * ((t - d) // 2) + "c" * (d // 2) for t, d in cases]
    right = ["a" * ((t - d) // 2) + "b" * (d - d // 2) for t, d in cases]
    kept = process.cpdist(left, right, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8) > 0
    table = indel_kernel.kept_distances(cutoff, longest)
    return [(t, d) for (t, d), k in zip(cases, kept) if k != (d <= table[t])]


def test_the_kept_distance_table_is_cdists_verdict_at_every_round_cutoff():
    """Round cut-offs are where rapidfuzz's float rounding decides (80: 1 - 0.8 < 2 / 10)."""
    for cutoff in np.arange(0, 100.01, 0.5):
        assert _kept_distance_mismatches(float(cutoff), 130) == [], cutoff


@given(st.floats(0, 100))
@settings(max_examples=100, deadline=None)
def test_the_kept_distance_table_is_cdists_verdict_at_any_cutoff(cutoff):
    assert _kept_distance_mismatches(cutoff, 130) == []


def _buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    as_bytes = StringBytes.of(values)
    return as_bytes.offsets, as_bytes.data


def _one_block(queries: list[str], names: list[str], cutoff: float) -> BlockPlan:
    return BlockPlan.of(np.arange(len(queries)), np.zeros(len(queries), np.int64), np.full(len(queries), cutoff),
                        np.array([0, len(names)]))  # fmt: skip


@given(st.lists(any_text, min_size=1, max_size=14), st.lists(any_text, min_size=1, max_size=12), cutoffs)
@settings(max_examples=400, deadline=None)
def test_the_block_kernel_keeps_what_cdist_keeps_with_the_lcs(queries, names, cutoff):
    """Each verdict is rapidfuzz's (1 + the LCS when kept), or UNDECIDED exactly where bytes
    cannot stand for characters (a query or name outside ASCII) or a query passes 64 bytes."""
    _assert_block_verdicts(queries, names, cutoff)


@given(st.lists(ascii_text, min_size=30, max_size=90), st.lists(any_text, min_size=1, max_size=8), cutoffs)
@settings(max_examples=60, deadline=None)
def test_a_block_of_many_queries_spans_several_vectors_of_words(queries, names, cutoff):
    """Up to 90 queries pack into more words than one vector holds (`LANES`): every chain of
    words, the last one partly filled, must give the same verdicts."""
    _assert_block_verdicts(queries, names, cutoff)


@given(
    st.lists(st.text(alphabet="abc", min_size=1, max_size=3), min_size=20, max_size=70),
    st.lists(st.text(alphabet="abc ", min_size=1, max_size=8), min_size=1, max_size=8),
    cutoffs,
)
@settings(max_examples=60, deadline=None)
def test_words_full_of_short_queries_are_decided_round_by_round(queries, names, cutoff):
    """Queries of one to three bytes would fill a word sixteen at a time or more (`ROUNDS` caps
    it); with none empty or outside ASCII, every chain is decided by lanes."""
    _assert_block_verdicts(queries, names, cutoff)


def _assert_block_verdicts(queries: list[str], names: list[str], cutoff: float) -> None:
    plan = _one_block(queries, names, cutoff)
    q_bytes, n_bytes = StringBytes.of(pa.array(queries, pa.string())), StringBytes.of(pa.array(names, pa.string()))
    buffers = (q_bytes.offsets, q_bytes.data, n_bytes.offsets, n_bytes.data)
    longest = indel_kernel.WORD_BITS + max(len(n.encode()) for n in names)
    pairs = len(queries) * len(names)
    out = np.empty(pairs, np.int32), np.empty(pairs, np.int32), np.empty(pairs, np.uint8), np.empty(pairs, np.int32)
    count = indel_kernel.kept_pairs(
        *buffers, plan.queries, plan.query_starts, np.arange(len(names), dtype=np.int32), plan.member_lo,
        plan.member_hi, np.stack([indel_kernel.kept_distances(cutoff, longest)]), np.zeros(1, np.int64),
        all(n.isascii() for n in names), 0, 1, *out,
    )  # fmt: skip
    query, name, listed, block = (column[:count] for column in out)
    assert (block == 0).all() and len(set(zip(query.tolist(), name.tolist()))) == count  # each pair once
    verdict = np.zeros(pairs, np.uint8)
    verdict[query * len(names) + name] = listed
    kept = process.cdist(queries, names, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8) > 0
    for i, q in enumerate(queries):
        for j, n in enumerate(names):
            if not (q.isascii() and n.isascii() and len(q) <= 64):
                expected = indel_kernel.UNDECIDED
            else:
                expected = 1 + LCSseq.similarity(q, n) if kept[i, j] else 0
            assert verdict[i * len(names) + j] == expected, (q, n)


@given(st.lists(any_text, min_size=1, max_size=14), st.lists(any_text, min_size=1, max_size=12), cutoffs)
@settings(max_examples=300, deadline=None)
def test_prefiltered_pairs_and_ratios_are_cdists_to_the_bit(queries, names, cutoff):
    """Kernel and rapidfuzz paths together: the pairs `cdist` keeps, with `cpdist`'s float32 ratio."""
    queries, names = sorted(set(queries)), sorted(set(names))
    q_arr, n_arr = pa.array(queries, pa.string()), pa.array(names, pa.string())
    with PairScorer(q_arr, StringBytes.of(n_arr), TextCache(n_arr), workers=2) as scorer:
        q, n, ratio = scorer.prefiltered(_one_block(queries, names, cutoff), np.arange(len(names), dtype=np.int32))
    kept = np.argwhere(process.cdist(queries, names, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8) > 0)
    assert list(zip(q.tolist(), n.tolist())) == [tuple(p) for p in kept.tolist()]
    want = process.cpdist([queries[i] for i in q], [names[i] for i in n], scorer=fuzz.ratio) if len(q) else []
    assert ratio.dtype == np.float32 and ratio.tolist() == list(want)


def test_a_task_that_keeps_more_pairs_than_it_made_room_for_scores_them_again(monkeypatch):
    """Room is made for one kept pair in 16 (about 1 in 70 are kept at full scale); a block
    where every pair is kept overflows it, and the task runs again with room for all."""
    monkeypatch.setattr(pair_scores, "KEPT_ROOM", 0)
    queries = sorted({f"acme {w}" for w in ("a", "b", "c", "d", "e")})
    names = sorted({f"acme {w}{v}" for w in "abcdef" for v in "xyz"})
    q_arr, n_arr = pa.array(queries, pa.string()), pa.array(names, pa.string())
    with PairScorer(q_arr, StringBytes.of(n_arr), TextCache(n_arr), workers=1) as scorer:
        q, n, ratio = scorer.prefiltered(_one_block(queries, names, 0.0), np.arange(len(names), dtype=np.int32))
    assert len(q) == len(queries) * len(names)
    assert ratio.tolist() == process.cpdist([queries[i] for i in q], [names[i] for i in n], scorer=fuzz.ratio).tolist()


# Names as the index holds them: words sorted, sometimes repeated; plus what the kernel must hand
# back to rapidfuzz (a tab inside a word, a letter outside ASCII, joined differences over 64 bytes).
word = st.sampled_from(["a", "ab", "abc", "b", "ba", "acme", "acne", "x" * 40, "y" * 30])
sorted_words = st.lists(word, max_size=6).map(lambda ws: " ".join(sorted(ws)))
odd_text = st.sampled_from(["", " ", "a  b", "a\tb", "café x", "b a", "x" * 70, " a"])
set_text = st.one_of(sorted_words, sorted_words, sorted_words, odd_text)


@given(st.lists(st.tuples(set_text, set_text), min_size=1, max_size=40))
@settings(max_examples=400, deadline=None)
def test_token_set_ratios_are_cpdists_to_the_bit(pairs):
    queries, names = sorted({q for q, _ in pairs}), sorted({n for _, n in pairs})
    q_ids = np.array([queries.index(q) for q, _ in pairs], np.int64)
    n_ids = np.array([names.index(n) for _, n in pairs], np.int64)
    q_arr, n_arr = pa.array(queries, pa.string()), pa.array(names, pa.string())
    with PairScorer(q_arr, StringBytes.of(n_arr), TextCache(n_arr), workers=2) as scorer:
        got = scorer.set_ratios(q_ids, n_ids)
    want = process.cpdist([q for q, _ in pairs], [n for _, n in pairs], scorer=fuzz.token_set_ratio)
    assert got.dtype == np.float32 and got.tolist() == want.tolist()
    longest = max(StringBytes.of(q_arr).longest, StringBytes.of(n_arr).longest)
    raw = indel_kernel.token_set_ratios(*_buffers(q_arr), *_buffers(n_arr), q_ids, n_ids, longest)
    for (q, n), value in zip(pairs, raw):  # the kernel itself scored every pair it could
        plain = (
            q.isascii()
            and n.isascii()
            and "\t" not in q + n
            and q.split() == sorted(q.split())
            and n.split() == sorted(n.split())
        )
        assert np.isnan(value) != plain or len(q) > 64 or len(n) > 64, (q, n)


def _cdist_candidates(index: BlockingIndex, queries: pa.Array, budget: int, cutoff: float, top_k: int, rare_df: int):
    """What `BlockingIndex.candidates` returned when it scored every block with rapidfuzz's `cdist`."""
    texts = token_sorted(queries).to_pylist()
    names = index.sorted_names.to_pylist()
    keys = index.query_keys(queries, budget)
    found = set()
    for key in np.unique(keys.key):
        qs = keys.query[keys.key == key]
        members = index.members[index.offsets[key] : index.offsets[key + 1]]
        rare = key < len(index.tokens) and index.key_df[key] <= rare_df
        scores = process.cdist([texts[q] for q in qs], [names[m] for m in members], scorer=fuzz.ratio,
                               score_cutoff=min(cutoff, 50.0) if rare else cutoff, dtype=np.uint8)  # fmt: skip
        found |= {(int(qs[i]), int(members[j])) for i, j in zip(*np.nonzero(scores))}
    pairs = sorted(found)
    q = np.array([p[0] for p in pairs], np.int64)
    n = np.array([p[1] for p in pairs], np.int64)
    left, right = [texts[i] for i in q], [names[i] for i in n]
    sort_score = process.cpdist(left, right, scorer=fuzz.ratio) if pairs else np.zeros(0, np.float32)
    set_score = process.cpdist(left, right, scorer=fuzz.token_set_ratio) if pairs else np.zeros(0, np.float32)
    score = np.round((sort_score.astype(np.float64) + set_score) / 2.0, 2)
    keep = score >= cutoff
    return merge_candidates([NameCandidates(q[keep], n[keep], score[keep])], top_k)


words = st.sampled_from(["acme", "acne", "akme", "robotics", "robotic", "aero", "aerospace", "astro", "zeta", "zetta",
                         "dynamics", "dynamic", "labs", "lab", "quantum", "quantam", "x", "corp"])  # fmt: skip
company = st.lists(words, min_size=1, max_size=4).map(" ".join)


@given(
    st.lists(company, min_size=1, max_size=60, unique=True),
    st.lists(company, min_size=1, max_size=15, unique=True),
    st.sampled_from([40, 4000]),
    st.sampled_from([60.0, 70.0, 85.0]),
    st.sampled_from([1, 2, 4]),
    st.sampled_from([0, 5]),
)
@settings(max_examples=150, deadline=None)
def test_candidates_are_the_ones_cdist_gave(indexed, asked, budget, cutoff, top_k, rare_df):
    """Same pairs, same scores, same order, including the pairs whose token_set_ratio was skipped
    because they could not reach their query's best `top_k`."""
    index = BlockingIndex(pa.array(indexed, pa.string()), max_key_share=1.0)
    queries = pa.array(asked, pa.string())
    assume(len(index.query_keys(queries, budget).key))
    got = index.candidates(queries, budget=budget, prefilter_cutoff=cutoff, top_k=top_k, workers=2, rare_df=rare_df)
    want = _cdist_candidates(index, queries, budget, cutoff, top_k, rare_df)
    assert got.query.tolist() == want.query.tolist()
    assert got.name.tolist() == want.name.tolist()
    assert got.score.tolist() == want.score.tolist()


def test_a_query_over_64_bytes_or_outside_ascii_is_scored_by_rapidfuzz_and_found():
    long_name = "acme " + "advanced " * 8 + "robotics"
    indexed = pa.array([long_name, "acme advanced robotics", "société acme"], pa.string())
    index = BlockingIndex(indexed, max_key_share=1.0)
    queries = pa.array([long_name, "societe acme", "société acme"], pa.string())
    got = index.candidates(queries, budget=4000, prefilter_cutoff=70.0, top_k=4, workers=1)
    want = _cdist_candidates(index, queries, 4000, 70.0, 4, 0)
    assert (got.query.tolist(), got.name.tolist(), got.score.tolist()) == (
        want.query.tolist(),
        want.name.tolist(),
        want.score.tolist(),
    )
    assert (0, 0, 100.0) in zip(got.query.tolist(), got.name.tolist(), got.score.tolist())
    assert (2, 2, 100.0) in zip(got.query.tolist(), got.name.tolist(), got.score.tolist())
