"""Fuzzy company-name candidates without comparing every award to every recipient.

Blocking: every distinct recipient name is indexed under keys made from its tokens — the token
itself and, for tokens of five or more letters, its first and last four letters (so a typo in
the middle or at one end of a distinctive word still shares a key). Keys carried by more than
`max_key_share` of all names ("systems", "tech") are dropped: they say nothing about identity.
An award name is compared only with the names behind its rarest keys, up to a candidate budget.

Scoring, precision first: a cheap `token_sort_ratio` pass (computed as `ratio` over names whose
tokens were sorted once) with `score_cutoff` over each key's block (rapidfuzz's `cdist`, GIL
released, both cores), then `token_set_ratio` on the survivors; the final score is their mean.
`token_set_ratio` alone scores "acme" against "acme advanced robotics" as 100, which joins the
wrong company; the mean does not.

A second source, `DescriptorVariants`, proposes names that differ only by descriptor words
("acme" / "acme systems"), which the prefilter drops for short names; `merge_candidates` keeps
the best `top_k` of both per award name.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from sbir_etl.linkage.names import CANONICAL_WORDS, DESCRIPTOR_WORDS
from sbir_etl.linkage.text_arrays import positions_in

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


def _token_sorted(names: pa.Array, slice_rows: int = 250_000) -> np.ndarray:
    out = np.empty(len(names), dtype=object)
    for start in range(0, len(names), slice_rows):  # slices bound the transient Python lists
        part = names.slice(start, slice_rows).to_pylist()
        out[start : start + len(part)] = [" ".join(sorted(n.split(" "))) if n else "" for n in part]
    return out


class BlockingIndex:
    """Key -> distinct-name postings over the recipient names, built once per run."""

    def __init__(self, names: pa.Array, max_key_share: float) -> None:
        self.names = names
        # token_sort_ratio(a, b) == ratio(sorted(a), sorted(b)); sorting once here makes the
        # prefilter a plain `ratio`, four times cheaper per pair than re-sorting in every call.
        self.sorted_names = _token_sorted(names)
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
        self._prefix_base, self._suffix_base = n_tok, n_tok + n_pre
        self.n_keys = n_tok + n_pre + len(self.suffixes)
        # Key ids of each distinct token: itself, and its prefix/suffix keys (-1 for short tokens).
        token_df = np.bincount(token_ids, minlength=n_tok)
        token_prefix = np.where(long_token, prefix.indices.to_numpy() + self._prefix_base, -1)
        token_suffix = np.where(long_token, suffix.indices.to_numpy() + self._suffix_base, -1)
        self.key_df = np.zeros(self.n_keys, dtype=np.int64)
        self.key_df[:n_tok] = token_df
        np.add.at(self.key_df, token_prefix[long_token], token_df[long_token])
        np.add.at(self.key_df, token_suffix[long_token], token_df[long_token])
        self.max_df = max(50, int(max_key_share * len(names)))
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
        counts = np.bincount(postings >> 32, minlength=self.n_keys)
        del postings
        self.offsets = np.zeros(self.n_keys + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])

    def informative(self, tokens: list[str]) -> np.ndarray:
        """Per token: is it rare enough to say something about identity (see `max_key_share`)?"""
        pos = positions_in(pa.array(tokens, type=pa.string()), self.tokens)
        return (pos < 0) | (self.key_df[np.maximum(pos, 0)] <= self.max_df)

    def query_keys(self, queries: pa.Array, budget: int) -> pd.DataFrame:
        """The informative keys of each query name, rarest first, within the candidate budget."""
        owner, flat = _tokens(queries)
        tok = pc.index_in(flat, value_set=self.tokens).to_numpy(zero_copy_only=False)
        pre = pc.index_in(pc.utf8_slice_codeunits(flat, 0, AFFIX_LEN), value_set=self.prefixes).to_numpy(
            zero_copy_only=False
        )
        suf = pc.index_in(pc.utf8_slice_codeunits(flat, -AFFIX_LEN), value_set=self.suffixes).to_numpy(
            zero_copy_only=False
        )
        long_token = pc.greater_equal(pc.utf8_length(flat), MIN_AFFIX_TOKEN_LEN).to_numpy(zero_copy_only=False)
        frames = [
            pd.DataFrame({"query": owner, "key": tok}),
            pd.DataFrame({"query": owner[long_token], "key": pre[long_token] + self._prefix_base}),
            pd.DataFrame({"query": owner[long_token], "key": suf[long_token] + self._suffix_base}),
        ]
        keys = pd.concat(frames, ignore_index=True).dropna()
        keys["key"] = keys["key"].astype(np.int64)
        keys = keys.drop_duplicates()
        keys["df"] = self.key_df[keys["key"].to_numpy()]
        keys = keys[(keys["df"] > 0) & (keys["df"] <= self.max_df)]
        keys = keys.sort_values(["query", "df", "key"], kind="stable")
        spent_before = keys.groupby("query")["df"].cumsum() - keys["df"]
        return keys[spent_before < budget]

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
        query_objects = _token_sorted(queries)
        keys = self.query_keys(queries, budget)
        if keys.empty:
            empty = np.array([], dtype=np.int64)
            return NameCandidates(empty, empty, np.array([], dtype=np.float64))
        grouped = keys.groupby("key", sort=True)["query"]
        blocks = [(int(k), q.to_numpy()) for k, q in grouped]

        def score_block(block: tuple[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            key, qs = block
            members = self.members[self.offsets[key] : self.offsets[key + 1]]
            rare = key < len(self.tokens) and self.key_df[key] <= rare_df
            scores = process.cdist(
                query_objects[qs],
                self.sorted_names[members],
                scorer=fuzz.ratio,
                score_cutoff=min(prefilter_cutoff, rare_prefilter_cutoff) if rare else prefilter_cutoff,
                dtype=np.uint8,
                workers=1,
            )
            qi, mi = np.nonzero(scores)
            return qs[qi], members[mi], scores[qi, mi]

        with ThreadPoolExecutor(max_workers=workers if workers > 0 else os.cpu_count()) as pool:
            parts = list(pool.map(score_block, blocks, chunksize=64))
        q = np.concatenate([p[0] for p in parts]).astype(np.int64)
        n = np.concatenate([p[1] for p in parts]).astype(np.int64)
        pair = np.sort((q << 32) | n)
        if len(pair):
            pair = pair[np.concatenate(([True], pair[1:] != pair[:-1]))]
        q, n = pair >> 32, pair & 0xFFFFFFFF
        if len(pair) == 0:
            return NameCandidates(q, n, np.array([], dtype=np.float64))
        left, right = query_objects[q], self.sorted_names[n]
        sort_score = process.cpdist(left, right, scorer=fuzz.ratio, workers=workers)
        set_score = process.cpdist(left, right, scorer=fuzz.token_set_ratio, workers=workers)
        score = np.round((sort_score.astype(np.float64) + set_score) / 2.0, 2)
        keep = score >= prefilter_cutoff
        return merge_candidates([NameCandidates(q[keep], n[keep], score[keep])], top_k)


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
        step = 250_000  # slices bound the transient word tables of `core_names`
        cores = pa.concat_arrays(
            [core_names(names.slice(i, step)) for i in range(0, len(names), step)] or [pa.array([], pa.string())]
        )
        encoded = pc.dictionary_encode(cores)
        del cores
        self.cores: pa.Array = encoded.dictionary
        ids = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        has_core = np.flatnonzero(ids >= 0)
        order = np.argsort(ids[has_core], kind="stable")
        self.members = has_core[order].astype(np.int32)
        self.offsets = np.zeros(len(self.cores) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ids[has_core], minlength=len(self.cores)), out=self.offsets[1:])

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
        core_ids = positions_in(core_names(pa.array(texts, type=pa.string())), self.cores)
        hits = np.flatnonzero(core_ids >= 0)
        core_words = {qi: [w for w in texts[qi].split() if w not in DESCRIPTOR_WORDS] for qi in hits}
        vocabulary = sorted({w for words in core_words.values() for w in words})
        rare = dict(zip(vocabulary, self.blocking.informative(vocabulary))) if vocabulary else {}
        q_out, n_out, s_out = [], [], []
        for qi in hits:
            if not any(rare[w] for w in core_words[qi]):
                continue
            mine = set(texts[qi].split())
            core = int(core_ids[qi])
            for name_id in self.members[self.offsets[core] : self.offsets[core + 1]]:
                theirs = set(self.names[int(name_id)].as_py().split())
                if not (mine <= theirs or theirs <= mine):
                    continue
                differences = len(mine ^ theirs) + snaps[qi]
                if 0 < differences <= self.max_differences:
                    q_out.append(int(qi))
                    n_out.append(int(name_id))
                    s_out.append(100.0 - self.penalty * differences)
        return NameCandidates(
            np.array(q_out, dtype=np.int64), np.array(n_out, dtype=np.int64), np.array(s_out, dtype=np.float64)
        )


def core_names(names: pa.Array) -> pa.Array:
    """Each normalised name's words other than descriptors, sorted (word order says nothing, as
    in the token-sorted scores); null when nothing else is left."""
    lists = pc.split_pattern(names, " ")
    words = pa.table({"name": pc.list_parent_indices(lists), "word": pc.list_flatten(lists)})
    keep = pc.and_(pc.invert(pc.is_in(words["word"], value_set=_DESCRIPTORS)), pc.not_equal(words["word"], ""))
    words = words.filter(keep).sort_by([("name", "ascending"), ("word", "ascending")])
    counts = np.bincount(words["name"].to_numpy(), minlength=len(names))
    offsets = np.zeros(len(names) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    cores = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words["word"].combine_chunks()), " ")
    return pc.if_else(pa.array(counts > 0), cores, pa.scalar(None, pa.string()))


def merge_candidates(parts: list[NameCandidates], top_k: int) -> NameCandidates:
    """The best `top_k` names per query over several candidate sources (a name's highest score counts)."""
    frame = pd.concat(
        [pd.DataFrame({"query": p.query, "name": p.name, "score": p.score}) for p in parts], ignore_index=True
    )
    frame = frame.sort_values(["query", "score", "name"], ascending=[True, False, True], kind="stable")
    frame = frame.drop_duplicates(["query", "name"])
    frame = frame[frame.groupby("query").cumcount() < top_k]
    return NameCandidates(
        frame["query"].to_numpy(dtype=np.int64),
        frame["name"].to_numpy(dtype=np.int64),
        frame["score"].to_numpy(dtype=np.float64),
    )
