"""Fuzzy company-name candidates without comparing every award to every recipient.

Blocking: every distinct recipient name is indexed under keys made from its tokens — the token
itself and, for tokens of five or more letters, its first and last four letters (so a typo in
the middle or at one end of a distinctive word still shares a key). Keys carried by more than
`max_key_share` of all names ("systems", "tech") are dropped: they say nothing about identity.
An award name is compared only with the names behind its rarest keys, up to a candidate budget.

Scoring, precision first: a cheap `token_sort_ratio` pass (computed as `ratio` over names whose
tokens were sorted once) with `score_cutoff` over each key's block, then `token_set_ratio` on the
survivors; the final score is their mean. The scores are rapidfuzz's, computed by
`pair_scores.PairScorer` from the Arrow bytes on every core.
`token_set_ratio` alone scores "acme" against "acme advanced robotics" as 100, which joins the
wrong company; the mean does not.

A second source, `DescriptorVariants`, proposes names that differ only by descriptor words
("acme" / "acme systems"), which the prefilter drops for short names; `merge_candidates` keeps
the best `top_k` of both per award name.
"""

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from sbir_etl.linkage.names import CANONICAL_WORDS, DESCRIPTOR_WORDS
from sbir_etl.linkage.pair_scores import BlockPlan, PairScorer, StringBytes, TextCache
from sbir_etl.linkage.sorted_arrays import narrowest_positions, sort_order, sorted_unique
from sbir_etl.linkage.text_arrays import StringLookup

AFFIX_LEN = 4
MIN_AFFIX_TOKEN_LEN = 5


@dataclass(frozen=True)
class NameCandidates:
    """Scored candidate pairs: `query` (index into the queried names), `name` (index into the
    indexed names) and `score` (0-100), sorted by query, score descending, name."""

    query: np.ndarray
    name: np.ndarray
    score: np.ndarray


def _tokens(names: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(owning name index per token, flat token array) of space-separated names."""
    lists = pc.split_pattern(names, " ")
    return pc.list_parent_indices(lists).to_numpy(), pc.list_flatten(lists)


def token_sorted(names: pa.Array) -> pa.Array:
    """Each name with its space-separated words in sorted order ("" for null), as
    `" ".join(sorted(name.split(" ")))` would write it, computed in Arrow."""
    lists = pc.split_pattern(names, " ")
    flat = pc.list_flatten(lists)
    if not len(flat):
        return pa.array([""] * len(names), type=pa.string())
    encoded = pc.dictionary_encode(flat)
    del flat
    words = encoded.dictionary
    by_text = pc.sort_indices(words).to_numpy()  # bytewise: code point order, as Python's sort
    rank = np.empty(len(words), dtype=np.int64)
    rank[by_text] = np.arange(len(words))
    owner = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    ordered = np.sort(owner * len(words) + rank[encoded.indices.to_numpy()])
    del owner
    sorted_words = words.take(pa.array(by_text[ordered % len(words)]))
    return pc.binary_join(pa.ListArray.from_arrays(lists.offsets, sorted_words), " ")


@dataclass(frozen=True)
class QueryKeys:
    """The blocking keys each query name is compared under, sorted by key then query."""

    query: np.ndarray
    key: np.ndarray


class BlockingIndex:
    """Key -> distinct-name postings over the recipient names, built once per run."""

    ARRAYS = ("sorted_names", "tokens", "prefixes", "suffixes", "key_df", "offsets", "members")
    LOOKUPS = ("tokens", "prefixes", "suffixes")

    def __init__(self, names: pa.Array, max_key_share: float) -> None:
        self.names = names
        # token_sort_ratio(a, b) == ratio(sorted(a), sorted(b)); sorting once here makes the
        # prefilter a plain `ratio`, four times cheaper per pair than re-sorting in every call.
        self.sorted_names = token_sorted(names)
        owner, flat = _tokens(names)
        owner = owner.astype(np.int32)
        encoded = pc.dictionary_encode(flat)
        del flat
        token_ids = encoded.indices.to_numpy().astype(np.int32)
        self.tokens: pa.Array = encoded.dictionary
        long_token = pc.greater_equal(pc.utf8_length(self.tokens), MIN_AFFIX_TOKEN_LEN).to_numpy(zero_copy_only=False)
        prefix = pc.dictionary_encode(pc.utf8_slice_codeunits(self.tokens, 0, AFFIX_LEN))
        suffix = pc.dictionary_encode(pc.utf8_slice_codeunits(self.tokens, -AFFIX_LEN))
        self.prefixes: pa.Array = prefix.dictionary
        self.suffixes: pa.Array = suffix.dictionary
        n_tok, n_pre = len(self.tokens), len(self.prefixes)
        n_keys = n_tok + n_pre + len(self.suffixes)
        # Key ids of each distinct token: itself, and its prefix/suffix keys (-1 for short tokens).
        token_df = np.bincount(token_ids, minlength=n_tok)
        token_prefix = np.where(long_token, prefix.indices.to_numpy() + n_tok, -1)
        token_suffix = np.where(long_token, suffix.indices.to_numpy() + n_tok + n_pre, -1)
        self.key_df = np.zeros(n_keys, dtype=np.int64)
        self.key_df[:n_tok] = token_df
        np.add.at(self.key_df, token_prefix[long_token], token_df[long_token])
        np.add.at(self.key_df, token_suffix[long_token], token_df[long_token])
        self.max_df = self.max_df_of(len(names), max_key_share)
        # Postings only for informative keys, assembled as sorted (key << 32 | name) integers.
        informative = self.key_df <= self.max_df
        postings = np.empty(0, dtype=np.int64)
        for key_of_token in (np.arange(n_tok), token_prefix, token_suffix):
            keys = key_of_token[token_ids]
            keep = keys >= 0
            keep[keep] = informative[keys[keep]]
            postings = np.concatenate([postings, (keys[keep].astype(np.int64) << 32) | owner[keep]])
            del keys, keep
        del token_ids, owner
        postings.sort()
        self.members = (postings & 0xFFFFFFFF).astype(np.int32)
        counts = np.bincount(postings >> 32, minlength=n_keys)
        del postings
        self.offsets = np.zeros(n_keys + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        self._prepare({name: StringLookup.build(getattr(self, name)) for name in self.LOOKUPS})

    @staticmethod
    def max_df_of(names: int, max_key_share: float) -> int:
        """Keys carried by more names than this have no postings."""
        return max(50, int(max_key_share * names))

    def _prepare(self, lookups: dict[str, StringLookup]) -> None:
        self.lookups = lookups
        self._prefix_base = len(self.tokens)
        self._suffix_base = len(self.tokens) + len(self.prefixes)
        self.n_keys = len(self.key_df)
        self.sorted_text = TextCache(self.sorted_names)
        self._sorted_bytes: StringBytes | None = None  # made by the first `candidates` call

    def arrays(self) -> dict[str, pa.Array | np.ndarray]:
        """Everything the index is made of, by name (to save it; `restore` reads it back)."""
        out: dict[str, pa.Array | np.ndarray] = {name: getattr(self, name) for name in self.ARRAYS}
        for name, lookup in self.lookups.items():
            out[f"{name}_hashes"], out[f"{name}_positions"] = lookup.hashes, lookup.positions
        return out

    @classmethod
    def restore(cls, names: pa.Array, max_df: int, arrays: dict[str, pa.Array | np.ndarray]) -> "BlockingIndex":
        """The index `arrays()` described, without building anything."""
        self = cls.__new__(cls)
        self.names, self.max_df = names, max_df
        for name in cls.ARRAYS:
            setattr(self, name, arrays[name])
        self._prepare(
            {
                name: StringLookup(arrays[name], arrays[f"{name}_hashes"], arrays[f"{name}_positions"])
                for name in cls.LOOKUPS
            }
        )
        return self

    def token_ids(self, tokens: pa.Array) -> np.ndarray:
        """Each token's id (-1 where no recipient name has it)."""
        return self.lookups["tokens"].find(tokens)

    def informative(self, tokens: list[str]) -> np.ndarray:
        """Per token: is it rare enough to say something about identity (see `max_key_share`)?"""
        pos = self.token_ids(pa.array(tokens, type=pa.string()))
        return (pos < 0) | (self.key_df[np.maximum(pos, 0)] <= self.max_df)

    def query_keys(self, queries: pa.Array, budget: int) -> QueryKeys:
        """The informative keys of each query name, rarest first, within the candidate budget."""
        owner, flat = _tokens(queries)
        long_token = pc.greater_equal(pc.utf8_length(flat), MIN_AFFIX_TOKEN_LEN).to_numpy(zero_copy_only=False)
        tok = self.token_ids(flat)
        pre = self.lookups["prefixes"].find(pc.utf8_slice_codeunits(flat, 0, AFFIX_LEN))
        suf = self.lookups["suffixes"].find(pc.utf8_slice_codeunits(flat, -AFFIX_LEN))
        query = np.concatenate([owner, owner[long_token], owner[long_token]]).astype(np.int64)
        key = np.concatenate([tok, pre[long_token], suf[long_token]])
        base = np.concatenate(
            [
                np.zeros(len(tok), np.int64),
                np.full(long_token.sum(), self._prefix_base),
                np.full(long_token.sum(), self._suffix_base),
            ]
        )
        found = key >= 0
        pair = sorted_unique((query[found] << 32) | (key[found] + base[found]))
        query, key = pair >> 32, pair & 0xFFFFFFFF
        df = self.key_df[key]
        useful = (df > 0) & (df <= self.max_df)
        query, key, df = query[useful], key[useful], df[useful]
        order = np.lexsort((key, df, query))
        query, key, df = query[order], key[order], df[order]
        spent = np.cumsum(df) - df
        first = np.r_[True, query[1:] != query[:-1]] if len(query) else np.zeros(0, dtype=bool)
        spent_before = spent - np.maximum.accumulate(np.where(first, spent, 0)) if len(query) else spent
        within = spent_before < budget
        query, key = query[within], key[within]
        order = np.lexsort((query, key))
        return QueryKeys(query[order], key[order])

    def candidates(
        self,
        queries: pa.Array,
        *,
        budget: int,
        prefilter_cutoff: float,
        top_k: int,
        workers: int,
        rare_df: int = 0,
        rare_prefilter_cutoff: float = 50.0,
    ) -> NameCandidates:
        """Best `top_k` indexed names per query name, scoring at least `prefilter_cutoff`.

        The names behind a query word that at most `rare_df` names carry pass a lower prefilter,
        `rare_prefilter_cutoff`: a rare word shared is evidence by itself ("aeroastro" / "comtech
        aeroastro" has a token_sort_ratio of 69), and the final score decides (see `distinctiveness`)."""
        keys = self.query_keys(queries, budget)
        rare = (keys.key < len(self.tokens)) & (self.key_df[keys.key] <= rare_df)
        cutoffs = np.where(rare, min(prefilter_cutoff, rare_prefilter_cutoff), prefilter_cutoff)
        plan = BlockPlan.of(keys.query, keys.key, cutoffs, self.offsets)
        threads = workers if workers > 0 else os.cpu_count() or 1
        if self._sorted_bytes is None:
            self._sorted_bytes = StringBytes.of(self.sorted_names)
        with PairScorer(token_sorted(queries), self._sorted_bytes, self.sorted_text, threads) as scorer:
            q, n, sort_score = scorer.prefiltered(plan, self.members)
            set_score = scorer.set_ratios(q, n)
        score = np.round((sort_score.astype(np.float64) + set_score) / 2.0, 2)
        keep = score >= prefilter_cutoff
        return merge_candidates([NameCandidates(q[keep], n[keep], score[keep])], top_k)


def load_kernels() -> None:
    """Load the compiled scoring kernels now, by scoring one name: on first use, numba's import
    and its cached code cost about 0.3 s, which a run rather spends in a thread while its index
    is built or loaded than before its first batch of names."""
    names = pa.array(["acme robotics", "acme systems"], type=pa.string())
    BlockingIndex(names, max_key_share=1.0).candidates(
        pa.array(["acme robotic"], type=pa.string()), budget=2, prefilter_cutoff=70.0, top_k=1, workers=1
    )


MIN_SNAP_LEN = 6
# Every spelling the normaliser knows for a descriptor, each pointing at the descriptor itself:
# a misspelt "technology" is closest to "technology", which normalises to "technologies".
_SNAP_PAIRS = sorted(
    {(form, target) for target, forms in CANONICAL_WORDS.items() for form in forms if len(form) >= MIN_SNAP_LEN}
    | {(word, word) for word in DESCRIPTOR_WORDS}
)
SNAP_FORMS = [form for form, _ in _SNAP_PAIRS]
SNAP_TARGETS = [target for _, target in _SNAP_PAIRS]


_DESCRIPTORS = pa.array(sorted(DESCRIPTOR_WORDS), type=pa.string())
if len(_DESCRIPTORS) > 63:
    raise AssertionError("descriptor_bits gives each descriptor word one bit of an int64")


class DescriptorVariants:
    """Names that differ only by descriptor words: "acme" <-> "acme systems", found by their shared core.

    The prefilter drops such pairs when the name is short ("acme" vs "acme systems" has a
    token_sort_ratio of 50), yet a company often drops or adds a descriptor between registries,
    and award names are typed by applicants: a misspelt descriptor ("technloogy") is read as the
    descriptor it is closest to (`fuzz.ratio` >= `snap_cutoff`, words of six letters or more).
    Each descriptor one name has and the other lacks, and each misspelt one, costs `penalty`
    points from 100. Pairs whose extra words are not all descriptors, or that differ both ways
    ("acme robotics" vs "acme systems"), are never produced here; nor are pairs whose core is
    made only of common words ("applied" / "applied research associates"): a rare word must
    carry the identity. An *extra* misspelt descriptor ("acme technloogy" vs "acme") is
    proposed, but the cascade's subset guard sees the raw word and keeps it a candidate.
    """

    def __init__(
        self,
        names: pa.Array,
        blocking: BlockingIndex,
        penalty: float = 5.0,
        max_differences: int = 2,
        snap_cutoff: float = 85.0,
    ) -> None:
        self.names = names
        self.blocking = blocking
        self.penalty = penalty
        self.max_differences = max_differences
        self.snap_cutoff = snap_cutoff
        step = 250_000  # slices bound the transient word lists
        sorted_names = blocking.sorted_names
        cores = pa.concat_arrays(
            [without_descriptors(sorted_names.slice(i, step)) for i in range(0, len(names), step)]
            or [pa.array([], pa.string())]
        )
        encoded = pc.dictionary_encode(cores)
        del cores
        self.cores: pa.Array = encoded.dictionary
        ids = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        has_core = np.flatnonzero(ids >= 0)
        order = sort_order(ids[has_core])
        self.members = has_core[order].astype(np.int32)
        offsets = np.zeros(len(self.cores) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ids[has_core], minlength=len(self.cores)), out=offsets[1:])
        self.offsets = narrowest_positions(offsets, len(self.members) + 1)
        self.core_lookup = StringLookup.build(self.cores)

    def arrays(self) -> dict[str, pa.Array | np.ndarray]:
        """Everything built from the names, by name (to save it; `restore` reads it back)."""
        return {
            "cores": self.cores,
            "members": self.members,
            "offsets": self.offsets,
            "core_hashes": self.core_lookup.hashes,
            "core_positions": self.core_lookup.positions,
        }

    @classmethod
    def restore(
        cls, names: pa.Array, blocking: BlockingIndex, arrays: dict[str, pa.Array | np.ndarray]
    ) -> "DescriptorVariants":
        """The variants `arrays()` described (default penalty and limits), without building anything."""
        self = cls.__new__(cls)
        defaults = cls.__init__.__defaults__ or ()
        self.names, self.blocking = names, blocking
        self.penalty, self.max_differences, self.snap_cutoff = defaults
        self.cores, self.members, self.offsets = arrays["cores"], arrays["members"], arrays["offsets"]
        self.core_lookup = StringLookup(self.cores, arrays["core_hashes"], arrays["core_positions"])
        return self

    def _snap(self, queries: list[str]) -> tuple[list[str], list[int]]:
        """Each query with misspelt descriptors replaced, and how many were replaced."""
        words = sorted({w for q in queries for w in q.split() if len(w) >= MIN_SNAP_LEN and w not in DESCRIPTOR_WORDS})
        snapped: dict[str, str] = {}
        if words:
            scores = process.cdist(words, SNAP_FORMS, scorer=fuzz.ratio, score_cutoff=self.snap_cutoff, dtype=np.uint8)
            best = scores.argmax(axis=1)
            for i in np.flatnonzero(scores.max(axis=1) > 0):
                snapped[words[i]] = SNAP_TARGETS[int(best[i])]
        out, counts = [], []
        for q in queries:
            tokens = q.split()
            out.append(" ".join(snapped.get(w, w) for w in tokens))
            counts.append(sum(w in snapped for w in tokens))
        return out, counts

    def candidates(self, queries: pa.Array) -> NameCandidates:
        """Indexed names whose words are a superset or subset of a query's, differing only by descriptors."""
        texts, snaps = self._snap([q or "" for q in queries.to_pylist()])
        core_ids = self.core_lookup.find(core_names(pa.array(texts, type=pa.string())))
        hits = np.flatnonzero(core_ids >= 0)
        core_words = {qi: [w for w in texts[qi].split() if w not in DESCRIPTOR_WORDS] for qi in hits}
        vocabulary = sorted({w for words in core_words.values() for w in words})
        rare = dict(zip(vocabulary, self.blocking.informative(vocabulary))) if vocabulary else {}
        asking = [int(qi) for qi in hits if any(rare[w] for w in core_words[qi])]
        spans = [(int(self.offsets[core_ids[qi]]), int(self.offsets[core_ids[qi] + 1])) for qi in asking]
        member_ids = np.concatenate([self.members[a:b] for a, b in spans]) if spans else np.zeros(0, np.int32)
        # A member shares the query's core, so their words differ only by descriptors: one
        # bit each. Superset or subset, and how many differ, are then bit operations.
        per_query = np.array([b - a for a, b in spans], dtype=np.int64)
        query = np.repeat(np.array(asking, dtype=np.int64), per_query)
        mine = np.repeat(descriptor_bits(pa.array([texts[qi] for qi in asking], type=pa.string())), per_query)
        theirs = descriptor_bits(self.names.take(pa.array(member_ids)))
        nested = ((mine & ~theirs) == 0) | ((theirs & ~mine) == 0)
        differences = _bits_set(mine ^ theirs) + np.array(snaps, dtype=np.int64)[query]
        kept = np.flatnonzero(nested & (differences > 0) & (differences <= self.max_differences))
        return NameCandidates(query[kept], member_ids[kept].astype(np.int64), 100.0 - self.penalty * differences[kept])


def _bits_set(values: np.ndarray) -> np.ndarray:
    """How many bits each non-negative int64 has set (`np.bitwise_count` needs NumPy 2, which
    pandas 2.2 does not require)."""
    as_bytes = values.astype("<i8").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1, dtype=np.int64)


def descriptor_bits(names: pa.Array) -> np.ndarray:
    """Per name (int64), one bit for each descriptor word it has: bit k for `_DESCRIPTORS[k]`."""
    lists = pc.split_pattern(names, " ")
    which = pc.index_in(pc.list_flatten(lists), value_set=_DESCRIPTORS)
    found = pc.is_valid(which).to_numpy(zero_copy_only=False)
    bits = np.zeros(len(names), dtype=np.int64)
    np.bitwise_or.at(
        bits,
        pc.list_parent_indices(lists).to_numpy()[found],
        np.left_shift(1, which.to_numpy(zero_copy_only=False)[found].astype(np.int64)),
    )
    return bits


def core_names(names: pa.Array) -> pa.Array:
    """Each normalised name's words other than descriptors, sorted (word order says nothing, as
    in the token-sorted scores); null when nothing else is left."""
    return without_descriptors(token_sorted(names))


def without_descriptors(sorted_names: pa.Array) -> pa.Array:
    """`core_names` of names whose words are already sorted (`token_sorted`): the index has them,
    so its 2.6M cores need no sort of their own (Arrow's sort by name and word took 0.6 s)."""
    lists = pc.split_pattern(sorted_names, " ")
    words = pc.list_flatten(lists)
    keep = pc.and_(pc.invert(pc.is_in(words, value_set=_DESCRIPTORS)), pc.not_equal(words, ""))
    counts = np.bincount(
        pc.list_parent_indices(lists).to_numpy()[keep.to_numpy(zero_copy_only=False)], minlength=len(sorted_names)
    )
    offsets = np.zeros(len(sorted_names) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    cores = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words.filter(keep)), " ")
    return pc.if_else(pa.array(counts > 0), cores, pa.scalar(None, pa.string()))


SCORE_BITS, NAME_BITS = 14, 32  # a score in hundredths (0..10000), a name id
QUERY_BITS = 63 - NAME_BITS - SCORE_BITS
SCORE_MASK, NAME_MASK = (1 << SCORE_BITS) - 1, (1 << NAME_BITS) - 1


def _packed_by_pair(query: np.ndarray, name: np.ndarray, score: np.ndarray) -> np.ndarray | None:
    """Each candidate as one integer that sorts by query, name, then score descending; None when
    they do not fit (scores not in hundredths, ids too large).

    Scores are hundredths (`np.round(..., 2)`), so a candidate usually packs into 63 bits, and
    sorting integers is many times faster than sorting indices by several keys."""
    hundredths = np.round(score * 100.0)
    fits = (
        query.min() >= 0
        and query.max() < 1 << QUERY_BITS
        and name.min() >= 0
        and name.max() < 1 << NAME_BITS
        and hundredths.min() >= 0
        and hundredths.max() <= SCORE_MASK
        and bool(np.array_equal(hundredths / 100.0, score))
    )
    if not fits:
        return None
    worse = SCORE_MASK - hundredths.astype(np.int64)
    return (query << (NAME_BITS + SCORE_BITS)) | (name << SCORE_BITS) | worse


def _best_per_pair(query: np.ndarray, name: np.ndarray, score: np.ndarray) -> NameCandidates:
    """Each (query, name) once, with its highest score, sorted by query, score descending, then name."""
    by_pair = _packed_by_pair(query, name, score) if len(query) else None
    if by_pair is None:
        order = np.lexsort((name, -score, query))
        query, name, score = query[order], name[order], score[order]
        # The first of each (query, name) in this order carries its highest score.
        _, first = np.unique((query << 32) | name, return_index=True)
        best = np.zeros(len(query), dtype=bool)
        best[first] = True
        return NameCandidates(query[best], name[best], score[best])
    by_pair = np.sort(by_pair)
    pair, worse = by_pair >> SCORE_BITS, by_pair & SCORE_MASK
    first = np.r_[True, pair[1:] != pair[:-1]]  # a pair's highest score sorts first
    pair, worse = pair[first], worse[first]
    by_score = np.sort((pair >> NAME_BITS << (NAME_BITS + SCORE_BITS)) | (worse << NAME_BITS) | (pair & NAME_MASK))
    hundredths = SCORE_MASK - ((by_score >> NAME_BITS) & SCORE_MASK)
    return NameCandidates(by_score >> (NAME_BITS + SCORE_BITS), by_score & NAME_MASK, hundredths / 100.0)


def merge_candidates(parts: list[NameCandidates], top_k: int) -> NameCandidates:
    """The best `top_k` names per query over several candidate sources (a name's highest score counts).

    Sorted by query, score descending, then name."""
    query = np.concatenate([p.query for p in parts]).astype(np.int64)
    name = np.concatenate([p.name for p in parts]).astype(np.int64)
    score = np.concatenate([p.score for p in parts]).astype(np.float64)
    best = _best_per_pair(query, name, score)
    query, name, score = best.query, best.name, best.score
    starts = np.flatnonzero(np.r_[True, query[1:] != query[:-1]]) if len(query) else np.zeros(0, np.int64)
    rank = np.arange(len(query)) - np.repeat(starts, np.diff(np.r_[starts, len(query)]))
    keep = rank < top_k
    return NameCandidates(query[keep], name[keep], score[keep])
