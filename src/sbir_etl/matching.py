"""The matching cascade over one chunk of awards.

Each award ends in exactly one method, tried in order:
`uei-exact` -> `duns-exact` -> `name-exact` -> `name-fuzzy-auto` -> `name-fuzzy-candidate` -> `unmatched`.

Name evidence only joins when it identifies one recipient: a normalised name carried by several
recipients is settled by location (ZIP, then city and state, then state) and, failing that, left
a *candidate*. A fuzzy match joins only with a score of at least `fuzzy_auto_threshold`, a margin
over the best *other* company, and corroboration (location or parent identifiers) unless its score
reaches `fuzzy_uncorroborated_threshold`. A wrong join costs more than a candidate a human reviews.
"""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sbir_etl.columns import ResolvedAwardColumns
from sbir_etl.config import EnrichmentConfig
from sbir_etl.identifiers import clean_duns, clean_uei
from sbir_etl.names import normalize_names
from sbir_etl.recipients import RecipientIndex, clean_text_key, clean_zip5

UEI, DUNS, NAME_EXACT, FUZZY_AUTO, CANDIDATE, UNMATCHED = range(6)
METHOD_NAMES = np.array(["uei-exact", "duns-exact", "name-exact", "name-fuzzy-auto", "name-fuzzy-candidate", "unmatched"], dtype=object)
HIGH, MEDIUM, LOW, NONE = range(4)
CONFIDENCE_NAMES = np.array(["high", "medium", "low", "none"], dtype=object)

# Corroboration levels of a recipient against an award, strongest first.
PARENT, ZIP, CITY, STATE, UNCORROBORATED, CONFLICT = range(6)


@dataclass
class ChunkStats:
    """What the cascade decided beyond the methods: the ties, conflicts and invalid identifiers."""

    invalid_identifiers: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)

    def merge(self, other: "ChunkStats") -> None:
        self.invalid_identifiers.update(other.invalid_identifiers)
        self.events.update(other.events)


class FuzzyCache:
    """Candidate names per normalised award name, kept across chunks so each distinct name is scored once."""

    def __init__(self) -> None:
        self._by_name: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def get(self, names: list[str], index: RecipientIndex, config: EnrichmentConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        missing = sorted({n for n in names if n not in self._by_name})
        if missing:
            found = index.blocking.candidates(
                pa.array(missing, type=pa.string()),
                budget=config.blocking_max_candidates,
                prefilter_cutoff=config.prefilter_cutoff,
                keep_cutoff=config.prefilter_cutoff,
                top_k=4,
                workers=config.workers,
            )
            empty = (np.array([], dtype=np.int64), np.array([], dtype=np.float64))
            starts = np.searchsorted(found.query, np.arange(len(missing) + 1))
            for i, name in enumerate(missing):
                lo, hi = starts[i], starts[i + 1]
                self._by_name[name] = (found.name[lo:hi], found.score[lo:hi]) if hi > lo else empty
        return {n: self._by_name[n] for n in names}


@dataclass(frozen=True)
class AwardEvidence:
    """The cleaned identifiers, name and location of each award in a chunk."""

    uei: pa.Array
    duns: pa.Array
    name: pa.Array
    state: np.ndarray
    city: np.ndarray
    zip5: np.ndarray

    @classmethod
    def from_table(cls, awards: pa.Table, columns: ResolvedAwardColumns, stats: ChunkStats) -> "AwardEvidence":
        def col(name: str | None) -> pa.Array:
            return awards.column(name).combine_chunks() if name else pa.nulls(len(awards), pa.string())

        uei, duns = clean_uei(col(columns.uei)), clean_duns(col(columns.duns))
        stats.invalid_identifiers.update(uei.reason_counts("uei"))
        stats.invalid_identifiers.update(duns.reason_counts("duns"))
        to_np = lambda a: a.to_numpy(zero_copy_only=False)  # noqa: E731
        return cls(
            uei=uei.values,
            duns=duns.values,
            name=normalize_names(col(columns.company)),
            state=to_np(clean_text_key(col(columns.state))),
            city=to_np(clean_text_key(col(columns.city))),
            zip5=to_np(clean_zip5(col(columns.zip))),
        )


class _Corroborator:
    """Ranks recipients by how well an award's location and identifiers support them."""

    def __init__(self, index: RecipientIndex, evidence: AwardEvidence) -> None:
        t = index.table
        to_np = lambda name: t.column(name).to_numpy()  # noqa: E731
        self.r_state, self.r_city, self.r_zip = to_np("state"), to_np("city"), to_np("zip5")
        self.r_parent_uei, self.r_parent_duns = to_np("parent_uei"), to_np("parent_duns")
        self.e = evidence
        self.a_uei = evidence.uei.to_numpy(zero_copy_only=False)
        self.a_duns = evidence.duns.to_numpy(zero_copy_only=False)

    def level(self, row: int, recipient: int) -> int:
        e = self.e
        if (self.a_uei[row] is not None and self.a_uei[row] == self.r_parent_uei[recipient]) or (
            self.a_duns[row] is not None and self.a_duns[row] == self.r_parent_duns[recipient]
        ):
            return PARENT
        a_state, r_state = e.state[row], self.r_state[recipient]
        if a_state is not None and r_state is not None and a_state != r_state:
            return CONFLICT
        if e.zip5[row] is not None and e.zip5[row] == self.r_zip[recipient]:
            return ZIP
        if e.city[row] is not None and e.city[row] == self.r_city[recipient] and a_state is not None and a_state == r_state:
            return CITY
        if a_state is not None and a_state == r_state:
            return STATE
        return UNCORROBORATED

    def best(self, row: int, recipients: np.ndarray) -> tuple[int, int, bool]:
        """(recipient, its level, whether it is the only one at that level); recipients in hash order."""
        levels = [self.level(row, int(r)) for r in recipients]
        top = min(levels)
        winners = [int(r) for r, lv in zip(recipients, levels) if lv == top]
        return winners[0], top, len(winners) == 1


def match_chunk(
    awards: pa.Table, columns: ResolvedAwardColumns, index: RecipientIndex, config: EnrichmentConfig, cache: FuzzyCache
) -> tuple[pa.Table, ChunkStats]:
    """The columns the cascade adds for each award of `awards` (same order), and what it decided."""
    n = len(awards)
    stats = ChunkStats()
    ev = AwardEvidence.from_table(awards, columns, stats)
    method = np.full(n, UNMATCHED, dtype=np.int8)
    confidence = np.full(n, NONE, dtype=np.int8)
    score = np.full(n, np.nan)
    recipient = np.full(n, -1, dtype=np.int64)

    uei_row, uei_shared = index.uei.lookup(ev.uei)
    duns_row, duns_shared = index.duns.lookup(ev.duns)
    by_uei = uei_row >= 0
    method[by_uei], recipient[by_uei], score[by_uei], confidence[by_uei] = UEI, uei_row[by_uei], 100.0, HIGH
    conflict = by_uei & (duns_row >= 0) & (duns_row != uei_row)
    stats.events["uei-duns-conflict"] += int(conflict.sum())
    stats.events["uei-shared-by-several-recipients"] += int((by_uei & uei_shared).sum())
    confidence[conflict | (by_uei & uei_shared)] = MEDIUM

    by_duns = ~by_uei & (duns_row >= 0)
    method[by_duns], recipient[by_duns], score[by_duns], confidence[by_duns] = DUNS, duns_row[by_duns], 100.0, HIGH
    stats.events["duns-shared-by-several-recipients"] += int((by_duns & duns_shared).sum())
    confidence[by_duns & duns_shared] = MEDIUM

    corroborate = _Corroborator(index, ev)
    open_rows = np.flatnonzero(method == UNMATCHED)
    name_ids = np.full(n, -1, dtype=np.int64)
    if len(open_rows):
        name_ids[open_rows] = index.lookup_names(ev.name.take(pa.array(open_rows)))
    for row in np.flatnonzero(name_ids >= 0):
        members = index.members(int(name_ids[row]))
        chosen, level, unique = corroborate.best(int(row), members)
        score[row] = 100.0
        recipient[row] = chosen
        if level == CONFLICT or not unique:
            method[row], confidence[row] = CANDIDATE, LOW
            stats.events["name-exact-ambiguous" if level != CONFLICT else "name-exact-state-conflict"] += 1
        else:
            method[row] = NAME_EXACT
            confidence[row] = HIGH if level in (PARENT, ZIP, CITY) else MEDIUM

    fuzzy_rows = np.flatnonzero((method == UNMATCHED) & pc.is_valid(ev.name).to_numpy(zero_copy_only=False))
    if len(fuzzy_rows):
        names = ev.name.take(pa.array(fuzzy_rows)).to_pylist()
        found = cache.get(names, index, config)
        for row, name in zip(fuzzy_rows, names):
            cand_names, cand_scores = found[name]
            if len(cand_names) == 0:
                continue
            best = float(cand_scores[0])
            chosen, level, unique = corroborate.best(int(row), index.members(int(cand_names[0])))
            rivals = [float(s) for nid, s in zip(cand_names[1:], cand_scores[1:]) if chosen not in index.members(int(nid))]
            margin = best - (rivals[0] if rivals else 0.0)
            score[row] = best
            corroborated = level in (PARENT, ZIP, CITY, STATE)
            if (
                best >= config.fuzzy_auto_threshold
                and unique
                and level != CONFLICT
                and margin >= config.fuzzy_margin
                and (corroborated or best >= config.fuzzy_uncorroborated_threshold)
            ):
                method[row], recipient[row] = FUZZY_AUTO, chosen
                confidence[row] = HIGH if best >= config.fuzzy_uncorroborated_threshold and corroborated else MEDIUM
            elif best >= config.fuzzy_candidate_threshold:
                method[row], recipient[row], confidence[row] = CANDIDATE, chosen, LOW
                if best >= config.fuzzy_auto_threshold:
                    stats.events["fuzzy-held-back-as-candidate"] += 1
    return _output_columns(index, method, score, confidence, recipient), stats


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

    return pa.table({
        "match_method": pa.array(METHOD_NAMES[method], type=pa.string()),
        "match_score": pa.array(score, type=pa.float64(), from_pandas=True),
        "match_confidence": pa.array(CONFIDENCE_NAMES[confidence], type=pa.string()),
        "usaspending_recipient_hash": recipient_field("recipient_hash", joined),
        "usaspending_uei": recipient_field("uei", joined),
        "usaspending_duns": recipient_field("duns", joined),
        "usaspending_legal_business_name": recipient_field("legal_business_name", joined),
        "candidate_recipient_hash": recipient_field("recipient_hash", candidate),
    })
