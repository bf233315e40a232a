"""The matching cascade over one chunk of awards.

Each award ends in exactly one method, tried in order:
`uei-exact` -> `duns-exact` -> `name-exact` -> `name-fuzzy-auto` -> `name-fuzzy-candidate` -> `unmatched`.

Name evidence only joins when it identifies one recipient: a normalised name carried by several
recipients is settled by location (ZIP, then city and state, then state) and, failing that, left
a *candidate*; so is a name whose recipient is in another state, unless the ZIP agrees or the city
agrees and the file's own identified awards tie the name to that recipient (`IdentifiedNames`).
A fuzzy match joins only with a score of at least `fuzzy_auto_threshold`, a margin over any other
company the award's location does not rule out, corroboration by ZIP, city or parent identifiers
(unless its score reaches `fuzzy_uncorroborated_threshold`), and never when one name's words are
a subset of the other's by more than descriptor words ("acme" / "acme systems" may join).
A wrong join costs more than a candidate a human reviews; docs/matching.md has the measurements.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sbir_etl.columns import CONFIDENCE_LEVELS, MATCH_METHODS, MatchMethod, ResolvedAwardColumns
from sbir_etl.config import EnrichmentConfig
from sbir_etl.linkage.candidates import merge_candidates
from sbir_etl.linkage.identifiers import clean_duns, clean_uei
from sbir_etl.linkage.locations import clean_text_key, clean_zip5
from sbir_etl.linkage.names import DESCRIPTOR_WORDS, normalize_names
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.text_arrays import positions_in

METHOD_NAMES = np.array(MATCH_METHODS, dtype=object)  # indexed by MatchMethod


class Confidence(IntEnum):
    """`match_confidence`, indexed like CONFIDENCE_LEVELS."""

    HIGH = 0
    MEDIUM = 1
    LOW = 2
    NONE = 3


CONFIDENCE_NAMES = np.array(CONFIDENCE_LEVELS, dtype=object)


class Support(IntEnum):
    """How well a recipient's identifiers and location support an award, strongest first."""

    PARENT = 0  # the award's UEI/DUNS is the recipient's parent
    ZIP = 1
    CITY = 2  # city and state
    STATE = 3
    UNCORROBORATED = 4
    CITY_ELSEWHERE = 5  # same city, another state
    CONFLICT = 6  # both sides name a state and they differ, nothing else agrees


PARENT, ZIP, CITY, STATE, UNCORROBORATED, CITY_ELSEWHERE, CONFLICT = Support
UEI, DUNS, NAME_EXACT, FUZZY_AUTO, CANDIDATE, UNMATCHED = MatchMethod
HIGH, MEDIUM, LOW, NONE = Confidence


@dataclass
class ChunkStats:
    """What the cascade decided beyond the methods: the ties, conflicts and invalid identifiers."""

    invalid_identifiers: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)

    def merge(self, other: "ChunkStats") -> None:
        self.invalid_identifiers.update(other.invalid_identifiers)
        self.events.update(other.events)


TOP_K = 4  # candidate names kept per award name: the best, and its rivals


class FuzzyCache:
    """Candidate names per normalised award name, kept across chunks so each distinct name is scored once."""

    def __init__(self) -> None:
        self._by_name: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def get(
        self, names: list[str], index: RecipientIndex, config: EnrichmentConfig
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        missing = sorted({n for n in names if n not in self._by_name})
        if missing:
            self._score(missing, index, config)
        return {n: self._by_name[n] for n in names}

    def _score(self, missing: list[str], index: RecipientIndex, config: EnrichmentConfig) -> None:
        queries = pa.array(missing, type=pa.string())
        similar = index.blocking.candidates(
            queries,
            budget=config.blocking_max_candidates,
            prefilter_cutoff=config.prefilter_cutoff,
            top_k=TOP_K,
            workers=config.workers,
        )
        found = merge_candidates([similar, index.descriptor_variants.candidates(queries)], TOP_K)
        empty = (np.array([], dtype=np.int64), np.array([], dtype=np.float64))
        starts = np.searchsorted(found.query, np.arange(len(missing) + 1))
        for i, name in enumerate(missing):
            lo, hi = starts[i], starts[i + 1]
            self._by_name[name] = (found.name[lo:hi], found.score[lo:hi]) if hi > lo else empty


def _text_column(table: pa.Table, name: str | None) -> pa.Array:
    """A column as one array; all nulls when the file has no such column."""
    return table.column(name).combine_chunks() if name else pa.nulls(len(table), pa.string())


@dataclass(frozen=True)
class AwardEvidence:
    """The cleaned identifiers, name and location of each award in a chunk."""

    uei: pa.Array
    duns: pa.Array
    name: pa.Array
    state: pa.Array
    city: pa.Array
    zip5: pa.Array

    @classmethod
    def from_table(cls, awards: pa.Table, columns: ResolvedAwardColumns, stats: ChunkStats) -> "AwardEvidence":
        def col(name: str | None) -> pa.Array:
            return _text_column(awards, name)

        uei, duns = clean_uei(col(columns.uei)), clean_duns(col(columns.duns))
        stats.invalid_identifiers.update(uei.reason_counts("uei"))
        stats.invalid_identifiers.update(duns.reason_counts("duns"))
        return cls(
            uei=uei.values,
            duns=duns.values,
            name=normalize_names(col(columns.company)),
            state=clean_text_key(col(columns.state)),
            city=clean_text_key(col(columns.city)),
            zip5=clean_zip5(col(columns.zip)),
        )


@dataclass(frozen=True)
class IdentifiedNames:
    """Normalised company names that the award file itself ties to one recipient by UEI or DUNS.

    SBIR firms win repeatedly, and their awards carry identifiers unevenly. When every award
    joined by identifier under a name points at one recipient, that recipient is the one the
    file means by the name: evidence an award without identifiers can borrow. Only unambiguous
    identifiers vouch (not one several recipients share, not a UEI and DUNS that disagree).
    Collected over the whole file before matching, so no result depends on chunking.
    """

    names: pa.Array
    recipients: np.ndarray

    @classmethod
    def collect(
        cls, chunks: Iterable[pa.Table], columns: ResolvedAwardColumns, index: RecipientIndex
    ) -> "IdentifiedNames":
        pairs = []
        for chunk in chunks:
            uei_row, uei_shared = index.uei.lookup(clean_uei(_text_column(chunk, columns.uei)).values)
            duns_row, duns_shared = index.duns.lookup(clean_duns(_text_column(chunk, columns.duns)).values)
            row = np.where(uei_row >= 0, uei_row, duns_row)
            disagree = (uei_row >= 0) & (duns_row >= 0) & (uei_row != duns_row)
            keep = np.flatnonzero((row >= 0) & ~uei_shared & ~duns_shared & ~disagree)
            # Only the names of identified rows are normalised: about half of a typical file.
            names = normalize_names(_text_column(chunk, columns.company).take(pa.array(keep, type=pa.int64())))
            valid = pc.is_valid(names).to_numpy(zero_copy_only=False)
            pairs.append(
                pd.DataFrame(
                    {"name": names.filter(pa.array(valid)).to_pandas(), "recipient": row[keep][valid]}
                ).drop_duplicates()
            )
        if not pairs:
            return cls(pa.array([], pa.string()), np.array([], dtype=np.int64))
        frame = pd.concat(pairs, ignore_index=True).drop_duplicates()
        frame = frame[~frame["name"].duplicated(keep=False)]  # names the file ties to several recipients say nothing
        return cls(pa.array(frame["name"].to_numpy(), type=pa.string()), frame["recipient"].to_numpy(dtype=np.int64))

    def recipient_of(self, names: pa.Array) -> np.ndarray:
        """The recipient row each name is tied to, -1 where none."""
        pos = positions_in(names, self.names)
        if not len(self.recipients):
            return pos
        return np.where(pos >= 0, self.recipients[np.maximum(pos, 0)], -1)


NO_IDENTIFIED_NAMES = IdentifiedNames(pa.array([], pa.string()), np.array([], dtype=np.int64))


def _equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)


def corroboration_levels(
    index: RecipientIndex, ev: AwardEvidence, rows: np.ndarray, recipients: np.ndarray
) -> np.ndarray:
    """How well each award row's identifiers and location support each paired recipient.

    PARENT (the award's UEI/DUNS is the recipient's parent) > ZIP > CITY (with state) > STATE >
    UNCORROBORATED > CITY_ELSEWHERE (same city, another state) > CONFLICT (both sides name a
    state and they differ, nothing else agrees).

    A shared ZIP outranks differing states: a ZIP lies in one state, so one of the two state
    fields is wrong, and five agreeing digits are the more specific evidence.
    """
    at, rt = pa.array(rows), pa.array(recipients)
    t = index.table
    a_state, r_state = ev.state.take(at), t.column("state").take(rt)
    same_state = _equal(a_state, r_state)
    conflict = pc.and_(pc.is_valid(a_state), pc.is_valid(r_state)).to_numpy(zero_copy_only=False) & ~same_state
    parent = _equal(ev.uei.take(at), t.column("parent_uei").take(rt)) | _equal(
        ev.duns.take(at), t.column("parent_duns").take(rt)
    )
    same_zip = _equal(ev.zip5.take(at), t.column("zip5").take(rt))
    city = _equal(ev.city.take(at), t.column("city").take(rt))
    return np.select(
        [parent, same_zip, conflict & city, conflict, city & same_state, same_state],
        [PARENT, ZIP, CITY_ELSEWHERE, CONFLICT, CITY, STATE],
        UNCORROBORATED,
    )


@dataclass(frozen=True)
class Choice:
    """Per award row: the best-supported recipient among a group, its level, and whether it stands alone."""

    recipient: np.ndarray
    level: np.ndarray
    unique: np.ndarray


def choose_recipients(index: RecipientIndex, ev: AwardEvidence, rows: np.ndarray, name_ids: np.ndarray) -> Choice:
    """For each award row, pick among the recipients carrying `name_ids[i]` by corroboration level;
    ties at the best level go to the smallest recipient_hash and are flagged as not unique."""
    starts, ends = index.name_offsets[name_ids], index.name_offsets[name_ids + 1]
    counts = ends - starts
    pair_row = np.repeat(np.arange(len(rows)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pair_recipient = index.name_members[np.repeat(starts, counts) + within]
    levels = corroboration_levels(index, ev, rows[pair_row], pair_recipient)
    order = np.lexsort((within, levels, pair_row))  # members are stored in hash order, so `within` breaks ties
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_row[order][1:] != pair_row[order][:-1]
    best = order[first]
    best_level = levels[best]
    at_best = np.bincount(pair_row, weights=(levels == best_level[pair_row]), minlength=len(rows))
    return Choice(recipient=pair_recipient[best], level=best_level, unique=at_best == 1)


def _one_name_extends_the_other(a: str, b: str) -> bool:
    """ "bio instruments" vs "bio raar instruments": every word of one name inside the other, and
    an extra word that is not a descriptor. Different companies are named this way far more
    often than one company drops a distinctive word, so such pairs are never auto-joined however
    high they score. Dropping a descriptor ("acme" / "acme systems") is common and not caught here."""
    left, right = set(a.split()), set(b.split())
    return left != right and (left <= right or right <= left) and not (left ^ right) <= DESCRIPTOR_WORDS


def _rival_scores(
    index: RecipientIndex,
    ev: AwardEvidence,
    rows: np.ndarray,
    names: list[str],
    found: dict[str, tuple[np.ndarray, np.ndarray]],
    choice: Choice,
) -> np.ndarray:
    """Per row, the best score of another company's name that the award's evidence supports at
    least as well as the chosen recipient (0 when none). A near-identical name registered in
    another state does not hold back a join that the award's own city or ZIP confirms."""
    pair_row, pair_recipient, pair_score = [], [], []
    for i, name in enumerate(names):
        chosen = int(choice.recipient[i])
        for nid, sc in zip(found[name][0][1:], found[name][1][1:]):
            members = index.members(int(nid))
            if chosen in members:
                continue
            pair_row.extend([i] * len(members))
            pair_recipient.extend(members.tolist())
            pair_score.extend([float(sc)] * len(members))
    best = np.zeros(len(rows))
    if not pair_row:
        return best
    pair_row_arr = np.array(pair_row)
    levels = corroboration_levels(index, ev, rows[pair_row_arr], np.array(pair_recipient))
    counts = (levels <= choice.level[pair_row_arr]) | (levels == UNCORROBORATED) & (choice.level[pair_row_arr] >= STATE)
    counts &= levels != CONFLICT
    np.maximum.at(best, pair_row_arr[counts], np.array(pair_score)[counts])
    return best


@dataclass
class CascadeState:
    """One chunk on its way through the stages: the evidence, what the run shares, and the
    decision so far per award. Every award starts `unmatched`; a stage settles open rows."""

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

    def count(self, event: str, where: np.ndarray) -> None:
        self.stats.events[event] += int(where.sum())


Stage = Callable[[CascadeState], None]


def by_uei(state: CascadeState) -> None:
    """A valid UEI a recipient carries joins; a DUNS pointing elsewhere or a UEI several
    recipients share lowers the confidence."""
    uei_row, uei_shared = state.uei_hits
    duns_row, _ = state.duns_hits
    hit = uei_row >= 0
    state.method[hit], state.recipient[hit], state.score[hit], state.confidence[hit] = UEI, uei_row[hit], 100.0, HIGH
    conflict = hit & (duns_row >= 0) & (duns_row != uei_row)
    state.count("uei-duns-conflict", conflict)
    state.count("uei-shared-by-several-recipients", hit & uei_shared)
    state.confidence[conflict | (hit & uei_shared)] = MEDIUM


def by_duns(state: CascadeState) -> None:
    """A valid DUNS a recipient carries joins the awards the UEI left open."""
    duns_row, duns_shared = state.duns_hits
    hit = (state.method == UNMATCHED) & (duns_row >= 0)
    state.method[hit], state.recipient[hit], state.score[hit], state.confidence[hit] = DUNS, duns_row[hit], 100.0, HIGH
    state.count("duns-shared-by-several-recipients", hit & duns_shared)
    state.confidence[hit & duns_shared] = MEDIUM


def by_exact_name(state: CascadeState) -> None:
    """A normalised name recipients carry: joined when one of them is best supported and not in
    another state, unless the city agrees and the file's identified awards vouch; else a candidate."""
    ev, index = state.ev, state.index
    open_rows = state.open_rows()
    name_ids = index.lookup_names(ev.name.take(pa.array(open_rows)))
    rows, ids = open_rows[name_ids >= 0], name_ids[name_ids >= 0]
    if not len(rows):
        return
    choice = choose_recipients(index, ev, rows, ids)
    elsewhere = choice.level == CITY_ELSEWHERE
    vouched = state.identified.recipient_of(ev.name.take(pa.array(rows))) == choice.recipient
    joined = choice.unique & (choice.level != CONFLICT) & (~elsewhere | vouched)
    state.score[rows], state.recipient[rows] = 100.0, choice.recipient
    state.method[rows] = np.where(joined, NAME_EXACT, CANDIDATE)
    strong = np.isin(choice.level, (PARENT, ZIP, CITY))
    state.confidence[rows] = np.where(joined, np.where(strong, HIGH, MEDIUM), LOW)
    state.count("name-exact-ambiguous", ~choice.unique & (choice.level != CONFLICT) & ~elsewhere)
    state.count("name-exact-state-conflict", (choice.level == CONFLICT) | elsewhere & ~joined)
    state.count("name-exact-same-city-other-state", joined & elsewhere)


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
    corroborated = np.isin(level, (PARENT, ZIP, CITY))
    return (
        (best >= config.fuzzy_auto_threshold)
        & unique
        & ~np.isin(level, (CITY_ELSEWHERE, CONFLICT))
        & (best - rival >= config.fuzzy_margin)
        & (corroborated | (best >= config.fuzzy_uncorroborated_threshold))
        & ~extends
    )


def by_fuzzy_name(state: CascadeState) -> None:
    """The best-scoring similar recipient name: joined when `fuzzy_may_join`, else a candidate
    at `fuzzy_candidate_threshold` or above; below it the award stays unmatched with its score."""
    ev, index, config = state.ev, state.index, state.config
    open_rows = state.open_rows()
    rows = open_rows[pc.is_valid(ev.name.take(pa.array(open_rows))).to_numpy(zero_copy_only=False)]
    if not len(rows):
        return
    names = ev.name.take(pa.array(rows)).to_pylist()
    found = state.cache.get(names, index, config)
    has_candidate = np.array([len(found[name][0]) > 0 for name in names], dtype=bool)
    rows = rows[has_candidate]
    names = [name for name, ok in zip(names, has_candidate) if ok]
    if not len(rows):
        return
    top = np.array([found[name][0][0] for name in names], dtype=np.int64)
    best = np.array([found[name][1][0] for name in names], dtype=np.float64)
    choice = choose_recipients(index, ev, rows, top)
    rival = _rival_scores(index, ev, rows, names, found, choice)
    extends = np.array(
        [_one_name_extends_the_other(name, index.names[int(t)].as_py()) for name, t in zip(names, top)], dtype=bool
    )
    joins = fuzzy_may_join(best, choice.unique, choice.level, rival, extends, config)
    held = ~joins & (best >= config.fuzzy_candidate_threshold)
    state.score[rows] = best
    corroborated = np.isin(choice.level, (PARENT, ZIP, CITY))
    sure = corroborated & (best >= config.fuzzy_uncorroborated_threshold)
    state.method[rows[joins]], state.recipient[rows[joins]] = FUZZY_AUTO, choice.recipient[joins]
    state.confidence[rows[joins]] = np.where(sure[joins], HIGH, MEDIUM)
    state.method[rows[held]], state.recipient[rows[held]], state.confidence[rows[held]] = (
        CANDIDATE,
        choice.recipient[held],
        LOW,
    )
    held_back = held & (best >= config.fuzzy_auto_threshold)
    if held_back.any():
        state.count("fuzzy-held-back-as-candidate", held_back)


# The cascade, in the order it is tried: each stage settles some of the awards still open.
STAGES: tuple[Stage, ...] = (by_uei, by_duns, by_exact_name, by_fuzzy_name)


def match_chunk(
    awards: pa.Table,
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    config: EnrichmentConfig,
    cache: FuzzyCache,
    identified: IdentifiedNames = NO_IDENTIFIED_NAMES,
) -> tuple[pa.Table, ChunkStats]:
    """The columns the cascade adds for each award of `awards` (same order), and what it decided.

    `identified` (see `IdentifiedNames`) lets an exact name join across differing states when
    the award's city agrees and the file's own identified awards tie the name to that recipient.
    """
    stats = ChunkStats()
    state = CascadeState.start(
        AwardEvidence.from_table(awards, columns, stats), index, config, cache, identified, stats
    )
    for stage in STAGES:
        stage(state)
    return _output_columns(index, state.method, state.score, state.confidence, state.recipient), stats


def _output_columns(
    index: RecipientIndex, method: np.ndarray, score: np.ndarray, confidence: np.ndarray, recipient: np.ndarray
) -> pa.Table:
    joined = pa.array((method <= FUZZY_AUTO) & (recipient >= 0))
    candidate = pa.array(method == CANDIDATE)
    take = pa.array(np.where(recipient >= 0, recipient, 0))
    no_value = pa.scalar(None, pa.string())

    def recipient_field(name: str, where: pa.Array) -> pa.Array:
        if len(index.table) == 0:
            return pa.nulls(len(method), pa.string())
        return pc.if_else(where, index.table.column(name).combine_chunks().take(take), no_value)

    return pa.table(
        {
            "match_method": pa.array(METHOD_NAMES[method], type=pa.string()),
            "match_score": pa.array(score, type=pa.float64(), from_pandas=True),
            "match_confidence": pa.array(CONFIDENCE_NAMES[confidence], type=pa.string()),
            "usaspending_recipient_hash": recipient_field("recipient_hash", joined),
            "usaspending_uei": recipient_field("uei", joined),
            "usaspending_duns": recipient_field("duns", joined),
            "usaspending_legal_business_name": recipient_field("legal_business_name", joined),
            "candidate_recipient_hash": recipient_field("recipient_hash", candidate),
        }
    )
