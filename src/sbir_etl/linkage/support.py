"""The evidence the cascade weighs for each award: its cleaned fields, the file's own
identified names, and how well a recipient's identifiers and location support it (`Support`)."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sbir_etl.columns import ResolvedAwardColumns
from sbir_etl.errors import InvariantError
from sbir_etl.linkage import rules
from sbir_etl.linkage.identifiers import CleanedIdentifiers, clean_duns, clean_uei
from sbir_etl.linkage.locations import clean_text_key, clean_zip5, metro_areas
from sbir_etl.linkage.names import cut_at_registry_width, normalize_names, second_names
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.text_arrays import StringLookup


class Support(IntEnum):
    """How well a recipient's identifiers and location support an award, strongest first."""

    PARENT = 0  # the award's UEI/DUNS is the recipient's parent
    ZIP = 1
    CITY = 2  # city and state
    STATE = 3
    METRO = 4  # another state, but one metropolitan area that spans the state line (`CROSS_STATE_METROS`)
    UNCORROBORATED = 5
    CITY_ELSEWHERE = 6  # same city, another state
    CONFLICT = 7  # both sides name a state and they differ, nothing else agrees


PARENT, ZIP, CITY, STATE, METRO, UNCORROBORATED, CITY_ELSEWHERE, CONFLICT = Support
# What `match_reason` calls each level.
SUPPORT_CODES: tuple[str, ...] = (
    "parent",
    "zip",
    "city",
    "state",
    "metro-area",
    "no-location",
    "same-city-other-state",
    "other-state",
)
CORROBORATING = (PARENT, ZIP, CITY)  # a shared state alone is weak: one in fifty for unrelated firms
OTHER_STATE = (CITY_ELSEWHERE, CONFLICT)


@dataclass
class ChunkStats:
    """What the cascade decided beyond the methods: the ties, conflicts and invalid identifiers."""

    invalid_identifiers: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)

    def merge(self, other: "ChunkStats") -> None:
        self.invalid_identifiers.update(other.invalid_identifiers)
        self.events.update(other.events)


def _text_column(table: pa.Table, name: str | None) -> pa.Array:
    """A column as one array; all nulls when the file has no such column."""
    return table.column(name).combine_chunks() if name else pa.nulls(len(table), pa.string())


@dataclass(frozen=True)
class AwardEvidence:
    """The cleaned identifiers, names and location of each award in a chunk: `name` is the
    normalised company name, `second_name` the other name a remark gives ("X DBA Y"), `cut`
    whether the raw name is as long as a registry's name field (perhaps cut short)."""

    uei: pa.Array
    duns: pa.Array
    name: pa.Array
    second_name: pa.Array
    cut: np.ndarray
    state: pa.Array
    city: pa.Array
    zip5: pa.Array

    @classmethod
    def from_table(
        cls, awards: pa.Table, columns: ResolvedAwardColumns, stats: ChunkStats, keys: "AwardKeys | None" = None
    ) -> "AwardEvidence":
        """`keys`: these awards' `AwardKeys`, when a run read them already."""

        def col(name: str | None) -> pa.Array:
            return _text_column(awards, name)

        keys = keys if keys is not None else AwardKeys.of_chunk(awards, columns)
        if len(keys.names) != awards.num_rows:
            raise InvariantError(f"{len(keys.names)} award keys handed a chunk of {awards.num_rows} awards")
        stats.invalid_identifiers.update(keys.uei.reason_counts("uei"))
        stats.invalid_identifiers.update(keys.duns.reason_counts("duns"))
        company = col(columns.company)
        return cls(
            uei=keys.uei.values,
            duns=keys.duns.values,
            name=keys.names,
            second_name=second_names(company),
            cut=cut_at_registry_width(company).to_numpy(zero_copy_only=False),
            state=clean_text_key(col(columns.state)),
            city=clean_text_key(col(columns.city)),
            zip5=clean_zip5(col(columns.zip)),
        )


@dataclass(frozen=True)
class AwardKeys:
    """The cleaned UEI and DUNS and the normalised company name of every award in a file: what
    `IdentifiedNames` needs of the awards, and the costliest part of each chunk's `AwardEvidence`.
    Nothing here depends on the recipient index, so a run that builds its index reads these
    beside the build (`IdentifiedNames.of_keys`) and hands each chunk its slice."""

    uei: CleanedIdentifiers
    duns: CleanedIdentifiers
    names: pa.Array

    @classmethod
    def collect(cls, chunks: Iterable[pa.Table], columns: ResolvedAwardColumns, workers: int | None = 1) -> "AwardKeys":
        """`workers`: threads for the name normalisation (`normalize_names`; None: every core)."""
        parts = [cls.of_chunk(chunk, columns, workers) for chunk in chunks]
        if not parts:
            nothing = pa.array([], pa.string())
            return cls(clean_uei(nothing), clean_duns(nothing), nothing)
        return cls(
            CleanedIdentifiers.concat([k.uei for k in parts]),
            CleanedIdentifiers.concat([k.duns for k in parts]),
            pa.concat_arrays([k.names for k in parts]),
        )

    @classmethod
    def of_chunk(cls, chunk: pa.Table, columns: ResolvedAwardColumns, workers: int | None = None) -> "AwardKeys":
        return cls(
            clean_uei(_text_column(chunk, columns.uei)),
            clean_duns(_text_column(chunk, columns.duns)),
            normalize_names(_text_column(chunk, columns.company), workers),
        )

    def slice(self, start: int, rows: int) -> "AwardKeys":
        """The keys of awards `start` to `start + rows` (in file order, unreadable rows left out)."""
        if start + rows > len(self.names):
            raise InvariantError(f"award keys for rows {start}-{start + rows} asked of {len(self.names)} awards")
        return AwardKeys(self.uei.slice(start, rows), self.duns.slice(start, rows), self.names.slice(start, rows))


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
        """From the award chunks: only the names of identified rows are normalised (about half
        of a typical file)."""
        pairs = []
        for chunk in chunks:
            uei, duns = (
                clean_uei(_text_column(chunk, columns.uei)).values,
                clean_duns(_text_column(chunk, columns.duns)).values,
            )
            keep, row = _identified_rows(index, uei, duns)
            names = normalize_names(_text_column(chunk, columns.company).take(pa.array(keep, type=pa.int64())))
            pairs.append(_pairs(names, row[keep]))
        return cls._of(pairs)

    @classmethod
    def of_keys(cls, keys: AwardKeys, index: RecipientIndex) -> "IdentifiedNames":
        """The same as `collect`, from keys read before the index existed."""
        keep, row = _identified_rows(index, keys.uei.values, keys.duns.values)
        return cls._of([_pairs(keys.names.take(pa.array(keep, type=pa.int64())), row[keep])])

    @classmethod
    def _of(cls, pairs: list[pd.DataFrame]) -> "IdentifiedNames":
        if not pairs:
            return cls(pa.array([], pa.string()), np.array([], dtype=np.int64))
        frame = pd.concat(pairs, ignore_index=True).drop_duplicates()
        frame = frame[~frame["name"].duplicated(keep=False)]  # names the file ties to several recipients say nothing
        return cls(pa.array(frame["name"].to_numpy(), type=pa.string()), frame["recipient"].to_numpy(dtype=np.int64))

    def recipient_of(self, names: pa.Array) -> np.ndarray:
        """The recipient row each name is tied to, -1 where none."""
        pos = self._lookup.find(names)
        if not len(self.recipients):
            return pos
        return np.where(pos >= 0, self.recipients[np.maximum(pos, 0)], -1)

    @cached_property
    def _lookup(self) -> StringLookup:
        return StringLookup.build(self.names)


def _identified_rows(index: RecipientIndex, uei: pa.Array, duns: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(the award rows an unambiguous identifier joins, the recipient row of every award or -1)."""
    uei_row, uei_shared = index.uei.lookup(uei)
    duns_row, duns_shared = index.duns.lookup(duns)
    row = np.where(uei_row >= 0, uei_row, duns_row)
    disagree = (uei_row >= 0) & (duns_row >= 0) & (uei_row != duns_row)
    return np.flatnonzero((row >= 0) & ~uei_shared & ~duns_shared & ~disagree), row


def _pairs(names: pa.Array, recipients: np.ndarray) -> pd.DataFrame:
    """The distinct (normalised name, recipient row) pairs, names that normalise to nothing left out."""
    valid = pc.is_valid(names).to_numpy(zero_copy_only=False)
    return pd.DataFrame(
        {"name": names.filter(pa.array(valid)).to_pandas(), "recipient": recipients[valid]}
    ).drop_duplicates()


NO_IDENTIFIED_NAMES = IdentifiedNames(pa.array([], pa.string()), np.array([], dtype=np.int64))


def _equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)


def corroboration_levels(
    index: RecipientIndex, ev: AwardEvidence, rows: np.ndarray, recipients: np.ndarray
) -> np.ndarray:
    """How well each award row's identifiers and location support each paired recipient (`Support`).

    PARENT (the award's UEI/DUNS is the recipient's parent) > ZIP > CITY (with state) > STATE >
    METRO (another state, one metropolitan area) > UNCORROBORATED > CITY_ELSEWHERE (same city,
    another state) > CONFLICT (both sides name a state and they differ, nothing else agrees).

    A shared ZIP outranks differing states: a ZIP lies in one state, so one of the two state
    fields is wrong, and five agreeing digits are the more specific evidence.
    """
    at, rt = pa.array(rows), pa.array(recipients)
    a_state, r_state = ev.state.take(at), index.text("state", rt)
    same_state = _equal(a_state, r_state)
    conflict = pc.and_(pc.is_valid(a_state), pc.is_valid(r_state)).to_numpy(zero_copy_only=False) & ~same_state
    parent = _equal(ev.uei.take(at), index.text("parent_uei", rt)) | _equal(
        ev.duns.take(at), index.text("parent_duns", rt)
    )
    same_zip = _equal(ev.zip5.take(at), index.text("zip5", rt))
    r_city = index.text("city", rt)
    city = _equal(ev.city.take(at), r_city)
    metro = conflict & _same_metro(ev.city.take(at), a_state, r_city, r_state)
    return np.select(
        [parent, same_zip, metro, conflict & city, conflict, city & same_state, same_state],
        [PARENT, ZIP, METRO, CITY_ELSEWHERE, CONFLICT, CITY, STATE],
        UNCORROBORATED,
    )


def _same_metro(a_city: pa.Array, a_state: pa.Array, r_city: pa.Array, r_state: pa.Array) -> np.ndarray | bool:
    if not rules.enabled("cross-state metro areas"):
        return False
    award_metro = metro_areas(a_city, a_state)
    return (award_metro >= 0) & (award_metro == metro_areas(r_city, r_state))


@dataclass(frozen=True)
class Choice:
    """Per award row: the best-supported recipient among a group, its level, and whether it stands alone."""

    recipient: np.ndarray
    level: np.ndarray
    unique: np.ndarray


def choose_recipients(index: RecipientIndex, ev: AwardEvidence, rows: np.ndarray, name_ids: np.ndarray) -> Choice:
    """For each award row, pick among the recipients carrying `name_ids[i]` by corroboration level;
    ties at the best level go to the smallest recipient_hash and are flagged as not unique."""
    pair_row, pair_recipient = index.members_of(name_ids)
    levels = corroboration_levels(index, ev, rows[pair_row], pair_recipient)
    # Members are in hash order within each row's run, so their position breaks ties.
    order = np.lexsort((np.arange(len(pair_row)), levels, pair_row))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_row[order][1:] != pair_row[order][:-1]
    best = order[first]
    best_level = levels[best]
    at_best = np.bincount(pair_row, weights=(levels == best_level[pair_row]), minlength=len(rows))
    return Choice(recipient=pair_recipient[best], level=best_level, unique=at_best == 1)
