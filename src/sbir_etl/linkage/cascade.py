"""The matching cascade over one chunk of awards: a declared sequence of stages (`STAGES`).

Each award ends in exactly one method, tried in order:
`uei-exact` -> `duns-exact` -> `name-exact` -> `name-fuzzy-auto` -> `name-fuzzy-candidate` -> `unmatched`,
and `match_reason` says what evidence carried a join, or why a candidate was held back.

Name evidence only joins when it identifies one recipient: a normalised name carried by several
recipients is settled by location (ZIP, then city and state, then state) and, failing that, left
a *candidate*; so is a name whose recipient is in a distant state, unless the ZIP agrees, the
city agrees and the file's own identified awards tie the name to that recipient
(`IdentifiedNames`), or the name is *distinctive* (`distinctiveness`: its rare words belong to
that recipient alone). Another state within one metropolitan area (`CROSS_STATE_METROS`) does
not hold an exact name back, unless a similar name is in the award's own state. The other name a
remark gives ("X DBA Y") is tried exactly when the name itself found nothing.

A fuzzy match joins (`fuzzy_may_join`) only with a score of at least `fuzzy_auto_threshold`, a
margin over any other company the award's location does not rule out, corroboration by ZIP,
city or parent identifiers (unless its score reaches `fuzzy_uncorroborated_threshold`), and
never when one name's words are a subset of the other's by more than descriptor words ("acme" /
"acme systems" may join). A distinctive pair needs less (`distinctive_may_join`). A name cut at a
registry's width ("COMBUSTION RESEARCH AND FLOW T") scores `TRUNCATED_SCORE` against the names it
is the head of. A wrong join costs more than a candidate a human reviews; docs/matching.md has
the measurements.
"""

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sbir_etl.columns import CONFIDENCE_LEVELS, MATCH_METHODS, MatchMethod, ResolvedAwardColumns
from sbir_etl.config import EnrichmentConfig
from sbir_etl.linkage import rules
from sbir_etl.linkage.candidates import merge_candidates
from sbir_etl.linkage.distinctiveness import RARE_WORD_DF, assess
from sbir_etl.linkage.names import DESCRIPTOR_WORDS
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.support import (
    CITY_ELSEWHERE,
    CONFLICT,
    CORROBORATING,
    METRO,
    NO_IDENTIFIED_NAMES,
    OTHER_STATE,
    STATE,
    SUPPORT_CODES,
    UNCORROBORATED,
    AwardEvidence,
    AwardKeys,
    Choice,
    ChunkStats,
    IdentifiedNames,
    choose_recipients,
    corroboration_levels,
)

__all__ = [
    "STAGES",
    "CascadeState",
    "ChunkStats",
    "FuzzyCache",
    "IdentifiedNames",
    "NO_IDENTIFIED_NAMES",
    "begin_chunk",
    "end_chunk",
    "match_chunk",
    "score_names",
]

METHOD_NAMES = np.array(MATCH_METHODS, dtype=object)  # indexed by MatchMethod


class Confidence(IntEnum):
    """`match_confidence`, indexed like CONFIDENCE_LEVELS."""

    HIGH = 0
    MEDIUM = 1
    LOW = 2
    NONE = 3


CONFIDENCE_NAMES = np.array(CONFIDENCE_LEVELS, dtype=object)
UEI, DUNS, NAME_EXACT, FUZZY_AUTO, CANDIDATE, UNMATCHED = MatchMethod
HIGH, MEDIUM, LOW, NONE = Confidence

TOP_K = 4  # candidate names kept per award name: the best, and its rivals
# A name cut at a registry's width against a name it is the head of: above the score that joins
# without location support, so a cut name joins on its own when it is the head of one company's
# name; two companies with that head tie, and the margin holds it back.
TRUNCATED_SCORE = 98.0

Candidates = tuple[np.ndarray, np.ndarray]  # (distinct-name ids, scores), best first


class FuzzyCache:
    """Candidate names per normalised award name, kept across chunks so each distinct name is scored once.

    With `background`, names handed to `prefetch` are scored in one background thread, a batch
    at a time in the order given, while the caller goes on (the scoring itself releases the GIL);
    `get` waits for the batches it needs. A name's candidates do not depend on the other names
    scored with it, so what `get` returns is the same either way. `close` stops the thread.
    """

    def __init__(self, background: bool = False) -> None:
        self._by_name: dict[str, Candidates] = {}
        self._pending: dict[str, Future[dict[str, Candidates]]] = {}
        self._background = ThreadPoolExecutor(1, thread_name_prefix="fuzzy-cache") if background else None

    def prefetch(self, names: list[str], index: RecipientIndex, config: EnrichmentConfig) -> None:
        """Start scoring the names not yet known (only with `background`; otherwise `get` scores them)."""
        if self._background is None:
            return
        missing = self._missing(names)
        if missing:
            # The thread runs in a copy of this context, so rules switched off here stay off there.
            future = self._background.submit(contextvars.copy_context().run, score_names, missing, index, config)
            self._pending |= dict.fromkeys(missing, future)

    def get(self, names: list[str], index: RecipientIndex, config: EnrichmentConfig) -> dict[str, Candidates]:
        for future in {self._pending[n] for n in names if n in self._pending}:
            self._keep(future.result())
        missing = self._missing(names)
        if missing:
            self._keep(score_names(missing, index, config))
        return {n: self._by_name[n] for n in names}

    def close(self) -> None:
        """Stop the background thread (after the batch it is scoring; queued batches are dropped)."""
        if self._background is not None:
            self._background.shutdown(wait=True, cancel_futures=True)

    def _missing(self, names: list[str]) -> list[str]:
        return sorted({n for n in names if n not in self._by_name and n not in self._pending})

    def _keep(self, found: dict[str, Candidates]) -> None:
        self._by_name |= found
        for name in found:
            self._pending.pop(name, None)


def score_names(names: list[str], index: RecipientIndex, config: EnrichmentConfig) -> dict[str, Candidates]:
    """The candidate names of each of `names` (distinct normalised award names), best first."""
    queries = pa.array(names, type=pa.string())
    similar = index.blocking.candidates(
        queries,
        budget=config.blocking_max_candidates,
        prefilter_cutoff=config.prefilter_cutoff,
        top_k=TOP_K,
        workers=config.workers,
        rare_df=RARE_WORD_DF if rules.enabled("distinctive names") else 0,
    )
    found = merge_candidates([similar, index.descriptor_variants.candidates(queries)], TOP_K)
    empty = (np.array([], dtype=np.int64), np.array([], dtype=np.float64))
    starts = np.searchsorted(found.query, np.arange(len(names) + 1))
    return {
        name: (found.name[lo:hi], found.score[lo:hi]) if hi > lo else empty
        for name, lo, hi in zip(names, starts[:-1], starts[1:])
    }


@dataclass
class CascadeState:
    """One chunk on its way through the stages: the evidence, what the run shares, and the
    decision so far per award. Every award starts `unmatched`; a stage settles open rows and
    records its reason (`match_reason`) and, for name matches, the margin over the runner-up."""

    ev: AwardEvidence
    index: RecipientIndex
    config: EnrichmentConfig
    cache: FuzzyCache
    identified: IdentifiedNames
    stats: ChunkStats
    method: np.ndarray
    confidence: np.ndarray
    score: np.ndarray
    recipient: np.ndarray
    reason: np.ndarray
    margin: np.ndarray

    @classmethod
    def start(
        cls,
        ev: AwardEvidence,
        index: RecipientIndex,
        config: EnrichmentConfig,
        cache: FuzzyCache,
        identified: IdentifiedNames,
        stats: ChunkStats,
    ) -> "CascadeState":
        n = len(ev.name)
        return cls(
            ev=ev,
            index=index,
            config=config,
            cache=cache,
            identified=identified,
            stats=stats,
            method=np.full(n, UNMATCHED, dtype=np.int8),
            confidence=np.full(n, NONE, dtype=np.int8),
            score=np.full(n, np.nan),
            recipient=np.full(n, -1, dtype=np.int64),
            reason=np.full(n, None, dtype=object),
            margin=np.full(n, np.nan),
        )

    @cached_property
    def uei_hits(self) -> tuple[np.ndarray, np.ndarray]:
        """(recipient row or -1, shared by several recipients) per award UEI."""
        return self.index.uei.lookup(self.ev.uei)

    @cached_property
    def duns_hits(self) -> tuple[np.ndarray, np.ndarray]:
        return self.index.duns.lookup(self.ev.duns)

    def open_rows(self) -> np.ndarray:
        """Awards no stage has settled yet."""
        return np.flatnonzero(self.method == UNMATCHED)

    def open_names(self) -> tuple[np.ndarray, list[str]]:
        """The open awards that have a (normalised) name, and their names."""
        open_rows = self.open_rows()
        rows = open_rows[pc.is_valid(self.ev.name.take(pa.array(open_rows))).to_numpy(zero_copy_only=False)]
        return rows, self.ev.name.take(pa.array(rows)).to_pylist()

    def count(self, event: str, where: np.ndarray) -> None:
        self.stats.events[event] += int(where.sum())

    def record(self, decision: "Decision") -> None:
        """Write a name stage's decision for the rows it settles; count its events."""
        keep = decision.settled
        at = decision.rows[keep]
        for column in ("method", "recipient", "confidence", "score", "reason", "margin"):
            getattr(self, column)[at] = getattr(decision, column)[keep]
        for event, where in decision.events.items():
            if where.any():
                self.count(event, where)


@dataclass(frozen=True)
class Decision:
    """What a name stage decided for its `rows` (arrays aligned with them); only the `settled`
    rows are recorded, the others stay open for the next stage."""

    rows: np.ndarray
    method: np.ndarray
    recipient: np.ndarray
    confidence: np.ndarray
    score: np.ndarray
    reason: np.ndarray
    margin: np.ndarray
    settled: np.ndarray
    events: dict[str, np.ndarray]


Stage = Callable[[CascadeState], None]


def by_uei(state: CascadeState) -> None:
    """A valid UEI a recipient carries joins; a DUNS pointing elsewhere or a UEI several
    recipients share lowers the confidence."""
    uei_row, uei_shared = state.uei_hits
    duns_row, _ = state.duns_hits
    hit = uei_row >= 0
    state.method[hit], state.recipient[hit], state.score[hit], state.confidence[hit] = UEI, uei_row[hit], 100.0, HIGH
    state.reason[hit] = "uei"
    conflict = hit & (duns_row >= 0) & (duns_row != uei_row)
    state.count("uei-duns-conflict", conflict)
    state.count("uei-shared-by-several-recipients", hit & uei_shared)
    state.confidence[conflict | (hit & uei_shared)] = MEDIUM


def by_duns(state: CascadeState) -> None:
    """A valid DUNS a recipient carries joins the awards the UEI left open."""
    duns_row, duns_shared = state.duns_hits
    hit = (state.method == UNMATCHED) & (duns_row >= 0)
    state.method[hit], state.recipient[hit], state.score[hit], state.confidence[hit] = DUNS, duns_row[hit], 100.0, HIGH
    state.reason[hit] = "duns"
    state.count("duns-shared-by-several-recipients", hit & duns_shared)
    state.confidence[hit & duns_shared] = MEDIUM


def _distinctive(
    state: CascadeState, where: np.ndarray, awards: list[str], names: list[str], chosen: np.ndarray
) -> np.ndarray:
    """`distinctiveness.assess` for the pairs `where` marks (only those: it walks postings)."""
    out = np.zeros(len(where), dtype=bool)
    if rules.enabled("distinctive names") and where.any():
        at = np.flatnonzero(where)
        found = assess(state.index, [awards[i] for i in at], [names[i] for i in at], chosen[at])
        out[at] = found.distinctive
    return out


def _support_codes(levels: np.ndarray) -> np.ndarray:
    return np.array(SUPPORT_CODES, dtype=object)[levels]


def _decide_exact(state: CascadeState, rows: np.ndarray, names: pa.Array, evidence: str, hold: bool) -> Decision:
    """Award `rows` whose normalised `names` recipients carry exactly: joined when one of them is
    best supported and not in another state; across a state line only within one metro area
    (and no similar name in the award's own state), with the city and the file's identified
    awards vouching, or when the name is distinctive. Otherwise a candidate when `hold`, else
    left open for the next stage."""
    ids = state.index.lookup_names(names)
    found = ids >= 0
    rows, ids, names = rows[found], ids[found], names.filter(pa.array(found))
    choice = choose_recipients(state.index, state.ev, rows, ids)
    level, unique = choice.level, choice.unique
    texts = names.to_pylist()
    vouched = unique & (level == CITY_ELSEWHERE) & (state.identified.recipient_of(names) == choice.recipient)
    located = unique & ~np.isin(level, OTHER_STATE)
    metro = unique & (level == METRO)
    distinctive = _distinctive(state, unique & ~located & ~vouched, texts, texts, choice.recipient)
    # Within a metro area across a state line, a similar name in the award's own state is doubt
    # enough. (Not for a distinctive name: at full scale 16 of the 17 it held back were right.)
    rival = _located_rival(state, rows, texts, choice, metro)
    near_rival = metro & (rival >= state.config.fuzzy_auto_threshold)
    joined = located & ~near_rival | vouched | distinctive
    reason = np.char.add(f"{evidence}+", _support_codes(level).astype(str)).astype(object)
    reason[vouched] = reason[vouched] + "+identified"
    reason[distinctive] = reason[distinctive] + "+distinctive"
    held_because = np.where(near_rival, "rival-in-award-state", _support_codes(level))
    reason[~joined] = np.where(unique, held_because, "ambiguous")[~joined]
    prefix = "name-exact" if evidence == "exact" else "second-name"
    return Decision(
        rows=rows,
        method=np.where(joined, NAME_EXACT, CANDIDATE),
        recipient=choice.recipient,
        confidence=np.where(joined, np.where(np.isin(level, CORROBORATING), HIGH, MEDIUM), LOW),
        score=np.full(len(rows), 100.0),
        reason=reason,
        margin=np.where(unique, np.where(rival > 0, 100.0 - rival, np.nan), 0.0),
        settled=joined | hold,
        events={
            f"{prefix}-ambiguous": ~unique & ~np.isin(level, OTHER_STATE),
            f"{prefix}-state-conflict": np.isin(level, OTHER_STATE) & ~joined,
            f"{prefix}-same-city-other-state": vouched,
            f"{prefix}-same-metro-area-other-state": metro & joined,
            f"{prefix}-distinctive-other-state": distinctive,
            f"{prefix}-held-for-a-rival-in-the-award-state": near_rival,
        },
    )


def _located_rival(
    state: CascadeState, rows: np.ndarray, names: list[str], choice: Choice, where: np.ndarray
) -> np.ndarray:
    """For the rows `where` marks, the best score of another company's similar name that the
    award's location does not rule out (in its state, or with no state); 0 elsewhere."""
    out = np.zeros(len(rows))
    if not where.any():
        return out
    at = np.flatnonzero(where)
    by_name = state.cache.get([names[i] for i in at], state.index, state.config)
    found = [by_name[names[i]] for i in at]
    # Every candidate is a rival here (the exact name itself is skipped: the chosen recipient carries it).
    found = [(np.concatenate(([-1], ids)), np.concatenate(([100.0], scores))) for ids, scores in found]
    located = Choice(recipient=choice.recipient[at], level=np.full(len(at), UNCORROBORATED), unique=choice.unique[at])
    out[at] = _rival_scores(state, rows[at], found, located)
    return out


def by_exact_name(state: CascadeState) -> None:
    """The normalised company name, exactly as recipients carry it (`_decide_exact`)."""
    rows = state.open_rows()
    if len(rows):
        state.record(_decide_exact(state, rows, state.ev.name.take(pa.array(rows)), "exact", hold=True))


def by_second_name(state: CascadeState) -> None:
    """The other name a remark gives ("EPIC SALES DBA EPIC SYSTEMS"), exactly; only joins: an
    unsure second name leaves the award to the fuzzy stage."""
    if not rules.enabled("second names"):
        return
    rows = state.open_rows()
    second = state.ev.second_name.take(pa.array(rows))
    has = pc.is_valid(second).to_numpy(zero_copy_only=False)
    if has.any():
        state.record(_decide_exact(state, rows[has], second.filter(pa.array(has)), "second-name", hold=False))


def _one_name_extends_the_other(a: str, b: str) -> bool:
    """ "bio instruments" vs "bio raar instruments": every word of one name inside the other, and
    an extra word that is not a descriptor. Different companies are named this way far more
    often than one company drops a distinctive word, so such pairs are never auto-joined on
    their score alone. Dropping a descriptor ("acme" / "acme systems") is common and not caught here."""
    left, right = set(a.split()), set(b.split())
    return left != right and (left <= right or right <= left) and not (left ^ right) <= DESCRIPTOR_WORDS


# Words that name a company's structure rather than its business: "HARMONIA HOLDINGS GROUP" and
# "HARMONIA INC" may be a holding company and its operating firm, two registrants.
STRUCTURE_WORDS: frozenset[str] = frozenset(
    {"holdings", "holding", "group", "partners", "partner", "ventures", "venture", "capital", "trust", "fund"}
)


def _look_alikes(a: str, b: str) -> bool:
    """Names of one family that are different companies as often as not: twins in two lines of
    business ("quorvex robotics" / "quorvex systems": each has a descriptor the other lacks), or
    a structure word on one side only ("harmonia holdings group" / "harmonia")."""
    left, right = set(a.split()), set(b.split())
    twins = bool((left - right) & DESCRIPTOR_WORDS) and bool((right - left) & DESCRIPTOR_WORDS)
    return twins or bool((left ^ right) & STRUCTURE_WORDS)


def _with_cut_names(
    state: CascadeState, rows: np.ndarray, names: list[str], found: list[Candidates]
) -> tuple[list[Candidates], np.ndarray]:
    """Candidates rescored for names cut at a registry's width: a cut award name against the
    names it is the head of, and an award name against the cut names that are its head, score
    `TRUNCATED_SCORE`; the best comes first again. Also per row: is the best such a head?"""
    out, top_is_head = list(found), np.zeros(len(found), dtype=bool)
    if not rules.enabled("truncated names") or not found:
        return out, top_is_head
    cut_award = state.ev.cut[rows]
    lengths = np.array([len(ids) for ids, _ in found])
    flat_cut = state.index.cut_names[np.concatenate([ids for ids, _ in found])]
    any_cut = np.zeros(len(found), dtype=bool)
    any_cut[np.repeat(np.arange(len(found)), lengths)[flat_cut]] = True
    todo = np.flatnonzero(cut_award | any_cut)
    if not len(todo):
        return out, top_is_head
    todo_ids = [found[i][0] for i in todo]
    todo_texts = state.index.names.take(pa.array(np.concatenate(todo_ids))).to_pylist()  # one take, not one per row
    bounds = np.cumsum([0] + [len(ids) for ids in todo_ids])
    for j, i in enumerate(todo):
        ids, scores = found[i]
        cut_candidate = state.index.cut_names[ids]
        texts = todo_texts[bounds[j] : bounds[j + 1]]
        name = names[i]
        heads = np.array(
            [
                t != name and ((cut_award[i] and t.startswith(name)) or (bool(c) and name.startswith(t)))
                for t, c in zip(texts, cut_candidate)
            ],
            dtype=bool,
        )
        if heads.any():
            rescored = np.where(heads, np.maximum(scores, TRUNCATED_SCORE), scores)
            order = np.lexsort((ids, -rescored))
            out[i] = (ids[order], rescored[order])
            top_is_head[i] = heads[order[0]]
    return out, top_is_head


def _rival_scores(state: CascadeState, rows: np.ndarray, found: list[Candidates], choice: Choice) -> np.ndarray:
    """Per row, the best score of another company's name that the award's evidence supports at
    least as well as the chosen recipient (0 when none). A near-identical name registered in
    another state does not hold back a join that the award's own city or ZIP confirms."""
    index = state.index
    best = np.zeros(len(rows))
    lengths = np.array([max(len(ids) - 1, 0) for ids, _ in found], dtype=np.int64)
    if not lengths.sum():
        return best
    # Each other name of each row, then each recipient carrying it: (row, name, recipient) pairs.
    name_row = np.repeat(np.arange(len(found)), lengths)
    name = np.concatenate([ids[1:] for ids, _ in found]).astype(np.int64)
    name_score = np.concatenate([np.asarray(scores[1:], dtype=np.float64) for _, scores in found])
    of_name, recipient = index.members_of(name)
    recipient = recipient.astype(np.int64)
    # A name the chosen recipient carries too is not another company's.
    carries_chosen = np.zeros(len(name), dtype=bool)
    carries_chosen[of_name[recipient == choice.recipient[name_row[of_name]]]] = True
    keep = ~carries_chosen[of_name]
    if not keep.any():
        return best
    pair_row, pair_recipient, pair_score = name_row[of_name][keep], recipient[keep], name_score[of_name][keep]
    levels = corroboration_levels(index, state.ev, rows[pair_row], pair_recipient)
    supported = (levels <= choice.level[pair_row]) | (levels == UNCORROBORATED) & (choice.level[pair_row] >= STATE)
    supported &= levels != CONFLICT
    np.maximum.at(best, pair_row[supported], pair_score[supported])
    return best


def fuzzy_may_join(
    best: np.ndarray,
    unique: np.ndarray,
    level: np.ndarray,
    rival: np.ndarray,
    extends: np.ndarray,
    config: EnrichmentConfig,
) -> np.ndarray:
    """The fuzzy join rule, per award: a high score, one recipient behind the name, not in another
    state, a margin over every rival the award's location does not rule out, corroboration by
    ZIP, city or parent identifiers (a shared state alone is weak evidence: one in fifty for
    unrelated firms) unless the score alone is very high, and neither name a subset of the other."""
    return (
        (best >= config.fuzzy_auto_threshold)
        & unique
        & ~np.isin(level, OTHER_STATE)
        & (best - rival >= config.fuzzy_margin)
        & (np.isin(level, CORROBORATING) | (best >= config.fuzzy_uncorroborated_threshold))
        & ~extends
    )


def distinctive_may_join(
    best: np.ndarray,
    unique: np.ndarray,
    level: np.ndarray,
    rival: np.ndarray,
    extends: np.ndarray,
    distinctive: np.ndarray | bool,
    look_alikes: np.ndarray,
    config: EnrichmentConfig,
) -> np.ndarray:
    """The rule for a distinctive pair (its shared rare words belong to the candidate alone), with
    the same margin over rivals and never between look-alikes (`_look_alikes`): a candidate
    score with ZIP, city or parent support ("AEROASTRO" / "COMTECH AEROASTRO" in Ashburn VA); and
    when neither name extends the other, an auto score without location against it ("KENT STATE
    UNIVERSTIY") or a very high score against a differing state (a company that moved)."""
    eligible = unique & (best - rival >= config.fuzzy_margin) & distinctive & ~look_alikes
    return eligible & (
        np.isin(level, CORROBORATING) & (best >= config.fuzzy_candidate_threshold)
        | ~extends & np.isin(level, (STATE, UNCORROBORATED)) & (best >= config.fuzzy_auto_threshold)
        | ~extends & np.isin(level, OTHER_STATE) & (best >= config.fuzzy_uncorroborated_threshold)
    )


def _held_back_reason(
    best: np.ndarray,
    unique: np.ndarray,
    level: np.ndarray,
    rival: np.ndarray,
    extends: np.ndarray,
    config: EnrichmentConfig,
) -> np.ndarray:
    """Why a fuzzy match that is not joined was held back: the first condition it fails."""
    return np.select(
        [
            ~unique,
            best - rival < config.fuzzy_margin,
            np.isin(level, OTHER_STATE),
            extends,
            best < config.fuzzy_auto_threshold,
        ],
        ["ambiguous", "rival-within-margin", "other-state", "name-extends-other", "score-below-auto"],
        "no-corroboration",
    ).astype(object)


def _similar_names(state: CascadeState) -> tuple[np.ndarray, list[str], list[Candidates]]:
    """The open awards with a name, their names and candidates (cut names rescored); awards
    without a candidate are marked `no-similar-name` and left out."""
    rows, names = state.open_names()
    by_name = state.cache.get(names, state.index, state.config) if names else {}
    has_candidate = np.array([len(by_name[name][0]) > 0 for name in names], dtype=bool)
    state.reason[rows[~has_candidate]] = "no-similar-name"
    names = [name for name, ok in zip(names, has_candidate) if ok]
    return rows[has_candidate], names, [by_name[name] for name in names]


def _decide_fuzzy(state: CascadeState, rows: np.ndarray, names: list[str], found: list[Candidates]) -> Decision:
    """Each award's best-scoring similar name: joined when `fuzzy_may_join` or
    `distinctive_may_join`, else a candidate at `fuzzy_candidate_threshold` or above; below it
    the award stays unmatched with its score."""
    config = state.config
    found, truncated = _with_cut_names(state, rows, names, found)
    top = np.array([ids[0] for ids, _ in found], dtype=np.int64)
    best = np.array([scores[0] for _, scores in found], dtype=np.float64)
    top_names = state.index.names.take(pa.array(top)).to_pylist()
    choice = choose_recipients(state.index, state.ev, rows, top)
    level, unique = choice.level, choice.unique
    rival = _rival_scores(state, rows, found, choice)
    extends = np.array([_one_name_extends_the_other(a, b) for a, b in zip(names, top_names)], dtype=bool)
    look_alikes = np.array([_look_alikes(a, b) for a, b in zip(names, top_names)], dtype=bool)
    standard = fuzzy_may_join(best, unique, level, rival, extends, config)
    maybe = ~standard & distinctive_may_join(best, unique, level, rival, extends, True, look_alikes, config)
    distinctive = _distinctive(state, maybe, names, top_names, choice.recipient)
    by_rarity = ~standard & distinctive_may_join(best, unique, level, rival, extends, distinctive, look_alikes, config)
    joins = standard | by_rarity
    held = ~joins & (best >= config.fuzzy_candidate_threshold)
    evidence = np.where(by_rarity, "distinctive", np.where(truncated, "truncated", "fuzzy")).astype(object)
    reason = np.where(
        joins, evidence + "+" + _support_codes(level), _held_back_reason(best, unique, level, rival, extends, config)
    )
    reason[~joins & ~held] = "score-below-candidate"
    sure = np.isin(level, CORROBORATING) & (best >= config.fuzzy_uncorroborated_threshold)
    return Decision(
        rows=rows,
        method=np.select([joins, held], [FUZZY_AUTO, CANDIDATE], UNMATCHED),
        recipient=np.where(joins | held, choice.recipient, -1),
        confidence=np.select([joins & sure, joins, held], [HIGH, MEDIUM, LOW], NONE),
        score=best,
        reason=reason,
        margin=best - rival,
        settled=np.ones(len(rows), dtype=bool),
        events={
            "fuzzy-held-back-as-candidate": held & (best >= config.fuzzy_auto_threshold),
            "fuzzy-joined-as-distinctive": by_rarity,
        },
    )


def by_fuzzy_name(state: CascadeState) -> None:
    """The best-scoring similar recipient name (`_decide_fuzzy`)."""
    rows, names, found = _similar_names(state)
    if len(rows):
        state.record(_decide_fuzzy(state, rows, names, found))


# The cascade, in the order it is tried: each stage settles some of the awards still open. Only
# the last scores names against the index; the ones before it decide which names it must score.
STAGES: tuple[Stage, ...] = (by_uei, by_duns, by_exact_name, by_second_name, by_fuzzy_name)


def begin_chunk(
    awards: pa.Table,
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    config: EnrichmentConfig,
    cache: FuzzyCache,
    identified: IdentifiedNames = NO_IDENTIFIED_NAMES,
    keys: AwardKeys | None = None,
) -> CascadeState:
    """A chunk through every stage but the last; the names still open go to `cache.prefetch`,
    so a background cache scores them while the caller finishes an earlier chunk (`end_chunk`).

    `identified` (see `IdentifiedNames`) lets an exact name join across differing states when
    the award's city agrees and the file's own identified awards tie the name to that recipient.
    `keys`: the chunk's `AwardKeys`, when the caller read them already.
    """
    stats = ChunkStats()
    state = CascadeState.start(
        AwardEvidence.from_table(awards, columns, stats, keys), index, config, cache, identified, stats
    )
    for stage in STAGES[:-1]:
        stage(state)
    _, names = state.open_names()
    cache.prefetch(names, index, config)
    return state


def end_chunk(state: CascadeState) -> tuple[pa.Table, ChunkStats]:
    """The last stage on a begun chunk: the columns the cascade adds for each award (in the
    chunk's order), and what it decided."""
    STAGES[-1](state)
    return _output_columns(state), state.stats


def match_chunk(
    awards: pa.Table,
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    config: EnrichmentConfig,
    cache: FuzzyCache,
    identified: IdentifiedNames = NO_IDENTIFIED_NAMES,
) -> tuple[pa.Table, ChunkStats]:
    """The columns the cascade adds for each award of `awards` (same order), and what it decided
    (`begin_chunk` then `end_chunk`)."""
    return end_chunk(begin_chunk(awards, columns, index, config, cache, identified))


def _output_columns(state: CascadeState) -> pa.Table:
    index, method, recipient = state.index, state.method, state.recipient
    joined = (method <= FUZZY_AUTO) & (recipient >= 0)
    candidate = method == CANDIDATE
    rows = np.where(recipient >= 0, recipient, 0)  # as before: an award without one reads row 0

    def recipient_field(name: str, where: np.ndarray) -> pa.Array:
        """The recipient's `name` where `where`, null elsewhere: only those rows are read from
        the (memory-mapped) recipient table, at random."""
        nothing = pa.nulls(len(method), pa.string())
        if len(index.table) == 0 or not where.any():
            return nothing
        return pc.replace_with_mask(nothing, pa.array(where), index.text(name, pa.array(rows[where])))

    return pa.table(
        {
            "match_method": pa.array(METHOD_NAMES[method], type=pa.string()),
            "match_score": pa.array(state.score, type=pa.float64(), from_pandas=True),
            "match_confidence": pa.array(CONFIDENCE_NAMES[state.confidence], type=pa.string()),
            "usaspending_recipient_hash": recipient_field("recipient_hash", joined),
            "usaspending_uei": recipient_field("uei", joined),
            "usaspending_duns": recipient_field("duns", joined),
            "usaspending_legal_business_name": recipient_field("legal_business_name", joined),
            "candidate_recipient_hash": recipient_field("recipient_hash", candidate),
            "match_reason": pa.array(state.reason, type=pa.string()),
            "match_margin": pa.array(np.round(state.margin, 2), type=pa.float64(), from_pandas=True),
        }
    )
