"""The USAspending recipient index: built once per run, queried chunk by chunk.

Recipients are ordered by `recipient_hash` first, so every tie (two recipients behind one UEI,
DUNS or normalised name) resolves to the same recipient whatever order the file came in, and is
counted rather than silently decided by "last one wins".
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sbir_etl.columns import RecipientColumns
from sbir_etl.linkage.candidates import BlockingIndex, DescriptorVariants
from sbir_etl.linkage.identifiers import CleanedIdentifiers, clean_duns, clean_uei
from sbir_etl.linkage.locations import clean_text_key, clean_zip5
from sbir_etl.linkage.names import cut_at_registry_width, normalize_names, second_names
from sbir_etl.linkage.sorted_arrays import expand_ranges, narrowest_positions, positions_in, sorted_unique
from sbir_etl.linkage.text_arrays import StringLookup, as_string_array, compact_text, string_bytes, text_sort_order

ALTERNATE_NAME_SEPARATOR = r"\s*[|;]\s*"
RECIPIENT_FIELDS = (
    "recipient_hash",
    "legal_business_name",
    "uei",
    "duns",
    "state",
    "city",
    "zip5",
    "parent_uei",
    "parent_duns",
)


CODE_WIDTH = 12  # a UEI's length; DUNS (9 digits) fit too
_NOT_BASE36 = 255
_BASE36 = np.full(256, _NOT_BASE36, dtype=np.uint8)
_BASE36[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = np.arange(36)


def identifier_codes(identifiers: pa.Array) -> np.ndarray:
    """Each cleaned identifier (up to 12 of 0-9/A-Z) as a distinct uint64; 0 for null.

    Read as base-36 digits plus 36**length, so "0123" and "123" stay apart. Lookups then
    become a binary search in a sorted integer array, built once: hashing the 3M-value set
    again on every chunk cost about 0.4 s per lookup.
    """
    arr = pc.fill_null(identifiers, "")
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.string())
    if len(arr) and not pc.all(pc.string_is_ascii(arr)).as_py():
        raise ValueError("identifier with a non-ASCII character: clean identifiers before indexing them")
    lengths = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(arr) and lengths.max() > CODE_WIDTH:
        raise ValueError(f"identifier longer than {CODE_WIDTH} characters: clean identifiers before indexing them")
    _, _, data = string_bytes(pc.utf8_lpad(arr, CODE_WIDTH, "0"))
    digits = _BASE36[data].reshape(-1, CODE_WIDTH)  # uint8: 12 bytes per identifier
    if (digits == _NOT_BASE36).any():
        raise ValueError("identifier with a character outside 0-9/A-Z: clean identifiers before indexing them")
    codes = np.zeros(len(digits), dtype=np.uint64)
    for position in range(CODE_WIDTH):
        codes = codes * np.uint64(36) + digits[:, position]
    codes += np.power(np.uint64(36), lengths.astype(np.uint64))
    codes[lengths == 0] = 0
    return codes


@dataclass(frozen=True)
class ExactLookup:
    """Unique valid identifier values -> recipient row, and whether several recipients shared it."""

    codes: np.ndarray  # sorted unique `identifier_codes`
    rows: np.ndarray
    shared: np.ndarray  # bool per value: more than one recipient carried it

    @classmethod
    def build(cls, identifiers: pa.Array, row_of_rank: np.ndarray) -> "ExactLookup":
        """`row_of_rank` lists recipient rows in tie-break order: the first (smallest recipient_hash) wins."""
        in_rank_order = identifier_codes(identifiers)[row_of_rank]
        valid = np.flatnonzero(in_rank_order != 0)
        by_code = valid[np.argsort(in_rank_order[valid], kind="stable")]  # ties stay in rank order
        code = in_rank_order[by_code]
        first = np.ones(len(code), dtype=bool)
        first[1:] = code[1:] != code[:-1]
        per_value = np.diff(np.append(np.flatnonzero(first), len(code)))
        rows = narrowest_positions(row_of_rank[by_code[first]], len(row_of_rank))
        return cls(codes=code[first], rows=rows, shared=per_value > 1)

    def lookup(self, identifiers: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(recipient row or -1, shared flag) per identifier."""
        codes = identifier_codes(identifiers)
        if not len(self.codes):
            return np.full(len(codes), -1, dtype=np.int64), np.zeros(len(codes), dtype=bool)
        pos = np.minimum(positions_in(self.codes, codes), len(self.codes) - 1)
        found = (codes != 0) & (self.codes[pos] == codes)
        return np.where(found, self.rows[pos].astype(np.int64), -1), found & self.shared[pos]


@dataclass(frozen=True)
class _HashOrder:
    """The recipient rows in recipient_hash order, and which rows repeat an earlier row's hash.

    A recipient_hash names one recipient: later rows repeating a hash are the same recipient
    listed again, and would otherwise make its own name look ambiguous, so they are dropped
    (the first row stays). Found from the sort the index needs anyway: a repeat sits right after
    its first row in the (stable) sorted order.
    """

    by_hash: np.ndarray  # the kept rows, numbered as after dropping, in recipient_hash order
    keep: np.ndarray | None  # bool per row of the file; None when no hash repeats

    @classmethod
    def of(cls, hashes: pa.Array) -> "_HashOrder":
        order, repeats = text_sort_order(hashes)
        if not repeats.any():
            return cls(order.astype(np.int32), None)
        first = np.concatenate(([True], ~repeats))
        keep = np.zeros(len(hashes), dtype=bool)
        keep[order[first]] = True
        renumbered = np.cumsum(keep, dtype=np.int64) - 1
        return cls(renumbered[order[first]].astype(np.int32), keep)

    @property
    def repeated_rows(self) -> int:
        return 0 if self.keep is None else int(len(self.keep) - self.keep.sum())


@dataclass
class _SourceColumns:
    """The recipient table's columns by role, each handed out once (`take`) so it can be freed."""

    columns: dict[str, pa.ChunkedArray]
    rows: int
    keep: pa.Array | None = None  # once `drop_repeats` ran: the rows every column keeps

    @classmethod
    def of(cls, raw: pa.Table, columns: RecipientColumns) -> "_SourceColumns":
        resolved = columns.resolve(raw.column_names, "recipients")
        return cls({role: raw.column(name) for role, name in resolved.items() if name}, len(raw))

    def drop_repeats(self, order: _HashOrder) -> None:
        """Columns taken from now on leave out the rows that repeat a recipient_hash."""
        if order.keep is not None:
            self.keep, self.rows = pa.array(order.keep), len(order.by_hash)

    def take(self, role: str) -> pa.Array:
        """The column of `role` (all null when the file has none), no longer held here."""
        column = self.columns.pop(role, None)
        if column is None:
            return pa.nulls(self.rows, pa.string())
        return column.combine_chunks() if self.keep is None else column.filter(self.keep).combine_chunks()


@dataclass
class _CleanedColumns:
    """The recipient columns in the form the cascade compares, and the recipient_hash order."""

    table: pa.Table  # the identity columns of RECIPIENT_FIELDS (no locations yet), in file order
    legal_names: pa.Array  # as written
    without_name: int  # recipients whose legal name normalises to nothing
    uei: CleanedIdentifiers
    duns: CleanedIdentifiers
    by_hash: np.ndarray  # recipient rows sorted by recipient_hash
    repeated_rows: int  # rows dropped for repeating an earlier row's recipient_hash


def _clean_columns(source: _SourceColumns) -> tuple[_CleanedColumns, pa.Array]:
    """The cleaned columns, and the normalised legal names (returned apart: they are freed first)."""
    hashes, legal_names = source.take("recipient_hash"), source.take("legal_business_name")
    with ThreadPoolExecutor(1) as background:  # Arrow's sort releases the GIL: overlap it with cleaning
        ordering = background.submit(_HashOrder.of, hashes)
        uei, duns = clean_uei(source.take("uei")), clean_duns(source.take("duns"))
        legal = normalize_names(legal_names)
        order = ordering.result()
    source.drop_repeats(order)
    if source.keep is not None:
        hashes, legal_names, legal = (column.filter(source.keep) for column in (hashes, legal_names, legal))
        uei, duns = uei.filter(source.keep), duns.filter(source.keep)
    table = pa.table(
        {"recipient_hash": hashes, "legal_business_name": legal_names, "uei": uei.values, "duns": duns.values}
    )
    cleaned = _CleanedColumns(table, legal_names, legal.null_count, uei, duns, order.by_hash, order.repeated_rows)
    return cleaned, legal


def _location_columns(source: _SourceColumns) -> dict[str, pa.Array]:
    """The columns that corroborate a match, cleaned: no name or identifier step needs them, so
    the build cleans them in a thread beside the names (Arrow kernels release the GIL)."""
    # Few distinct values each: stored compactly, read through `RecipientIndex.text`.
    return {
        "state": compact_text(clean_text_key(source.take("state"))),
        "city": compact_text(clean_text_key(source.take("city"))),
        "zip5": compact_text(clean_zip5(source.take("zip5"))),
        "parent_uei": compact_text(clean_uei(source.take("parent_uei")).values),
        "parent_duns": compact_text(clean_duns(source.take("parent_duns")).values),
    }


def _known_names(legal_names: pa.Array, legal: pa.Array, alternates: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Every (normalised name, recipient row) pair, nulls left out: the legal names first (in row
    order), then the second names of legal names with a remark ("X (FKA Y)", "X DBA Y"), then the
    alternate names."""
    rows = np.arange(len(legal), dtype=np.int32)
    name_parts, row_parts = [legal], [rows]
    second = second_names(legal_names)
    if second.null_count < len(second):
        has_second = pc.is_valid(second).to_numpy(zero_copy_only=False)
        name_parts.append(second.filter(pa.array(has_second)))
        row_parts.append(rows[has_second])
    del second
    if alternates.null_count < len(alternates):
        split = pc.split_pattern_regex(alternates, ALTERNATE_NAME_SEPARATOR)
        name_parts.append(normalize_names(pc.list_flatten(split)))
        row_parts.append(rows[pc.list_parent_indices(split).to_numpy()])
    del alternates
    names, owners = pa.concat_arrays(name_parts), np.concatenate(row_parts)
    del name_parts, row_parts
    keep = pc.is_valid(names).to_numpy(zero_copy_only=False)
    return names.filter(pa.array(keep)), owners[keep]


@dataclass
class _NameGroups:
    """The distinct names and, per name, its recipients in recipient_hash order (CSR)."""

    names: pa.Array
    offsets: np.ndarray
    members: np.ndarray
    cut: np.ndarray  # per name: a legal name carrying it was cut at a registry's width

    @classmethod
    def of(
        cls, names: pa.Array, owners: np.ndarray, cleaned: _CleanedColumns, legal_valid: np.ndarray
    ) -> "_NameGroups":
        """`names`/`owners` as `_known_names` lists them; `legal_valid`: which legal names are not null."""
        n, by_hash = len(cleaned.table), cleaned.by_hash
        encoded = pc.dictionary_encode(names)
        # Legal names come first in `encoded`: flag the names some registry cut at its width.
        cut = np.zeros(len(encoded.dictionary), dtype=bool)
        legal_ids = encoded.indices.slice(0, int(legal_valid.sum())).to_numpy()
        cut[legal_ids[cut_at_registry_width(cleaned.legal_names).to_numpy(zero_copy_only=False)[legal_valid]]] = True
        rank = np.empty(n, dtype=np.int32)
        rank[by_hash] = np.arange(n, dtype=np.int32)
        # Unique (name, recipient) pairs; within a name, recipients in recipient_hash order.
        pair = sorted_unique(encoded.indices.to_numpy().astype(np.int64) * (n + 1) + rank[owners])
        name_ids, members = pair // (n + 1), by_hash[pair % (n + 1)]
        del pair
        offsets = np.zeros(len(encoded.dictionary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(name_ids, minlength=len(encoded.dictionary)), out=offsets[1:])
        return cls(encoded.dictionary, narrowest_positions(offsets, len(members) + 1), members, cut)


def _lookups(cleaned: _CleanedColumns, names: pa.Array) -> tuple["ExactLookup", "ExactLookup", StringLookup]:
    """The UEI and DUNS lookups and the name lookup: what the build makes beside the blocking index."""
    return (
        ExactLookup.build(cleaned.uei.values, cleaned.by_hash),
        ExactLookup.build(cleaned.duns.values, cleaned.by_hash),
        StringLookup.build(names),
    )


def _build_stats(
    source: _SourceColumns, cleaned: _CleanedColumns, uei: "ExactLookup", duns: "ExactLookup"
) -> dict[str, int]:
    """What the build found in the recipient table (`EnrichmentSummary.recipient_stats`)."""
    reasons = cleaned.uei.reason_counts("uei") | cleaned.duns.reason_counts("duns")
    return {
        "recipients": source.rows,
        "recipients_without_name": int(cleaned.without_name),
        "repeated_recipient_rows_dropped": cleaned.repeated_rows,
        "duplicate_uei_values": int(uei.shared.sum()),
        "duplicate_duns_values": int(duns.shared.sum()),
    } | {f"recipients_{k}": v for k, v in reasons.items()}


@dataclass
class RecipientIndex:
    """Everything the cascade asks of the recipient table.

    Its parts are Arrow and NumPy arrays only (`arrays()`), so a saved index is read back by
    memory map (`restore`) and processes that load one file share its pages.
    """

    table: pa.Table  # RECIPIENT_FIELDS, cleaned, in file order
    uei: ExactLookup
    duns: ExactLookup
    names: pa.Array  # distinct normalised names (legal and alternate)
    name_lookup: StringLookup  # finds a normalised name among `names`
    name_offsets: np.ndarray  # CSR: recipients carrying names[i] are name_members[offsets[i]:offsets[i+1]]
    name_members: np.ndarray
    blocking: BlockingIndex
    descriptor_variants: DescriptorVariants
    cut_names: np.ndarray  # per distinct name: a legal name carrying it was cut at a registry's width
    stats: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls, raw: pa.Table, columns: RecipientColumns | None = None, max_key_share: float = 0.005
    ) -> "RecipientIndex":
        """Index a recipient table whose columns are text (see `tables.read_text_table`): clean its
        columns, list every name each recipient is known by, group the recipients of each distinct
        name, and index those names for the fuzzy stages."""
        source = _SourceColumns.of(raw, columns or RecipientColumns())
        del raw  # each column is released as soon as its cleaned form exists
        cleaned, legal = _clean_columns(source)
        with ThreadPoolExecutor(1) as background:
            locations = background.submit(_location_columns, source)
            legal_valid = pc.is_valid(legal).to_numpy(zero_copy_only=False)
            names, owners = _known_names(cleaned.legal_names, legal, source.take("alternate_names"))
            del legal
            grouped = _NameGroups.of(names, owners, cleaned, legal_valid)
            del names, owners
            # NumPy sorts release the GIL: the lookups are built beside the blocking index.
            lookups = background.submit(_lookups, cleaned, grouped.names)
            blocking = BlockingIndex(grouped.names, max_key_share)
            pa.default_memory_pool().release_unused()  # the blocking build's scratch, before the next one's
            variants = DescriptorVariants(grouped.names, blocking)
            uei, duns, name_lookup = lookups.result()
            table = cleaned.table
            for name, column in locations.result().items():
                table = table.append_column(name, column)
        return cls(
            table=table,
            uei=uei,
            duns=duns,
            names=grouped.names,
            name_lookup=name_lookup,
            name_offsets=grouped.offsets,
            name_members=grouped.members,
            blocking=blocking,
            descriptor_variants=variants,
            cut_names=grouped.cut,
            stats=_build_stats(source, cleaned, uei, duns),
        )

    def arrays(self) -> dict[str, pa.Array | np.ndarray]:
        """Every part of the index as a named Arrow or NumPy array (`restore` reads them back)."""
        out: dict[str, pa.Array | np.ndarray] = {
            f"table.{name}": self.table.column(name).combine_chunks() for name in self.table.column_names
        }
        for which, lookup in (("uei", self.uei), ("duns", self.duns)):
            out |= {f"{which}.codes": lookup.codes, f"{which}.rows": lookup.rows, f"{which}.shared": lookup.shared}
        out |= {
            "names": self.names,
            "name_hashes": self.name_lookup.hashes,
            "name_positions": self.name_lookup.positions,
            "name_offsets": self.name_offsets,
            "name_members": self.name_members,
            "cut_names": self.cut_names,
        }
        out |= {f"blocking.{k}": v for k, v in self.blocking.arrays().items()}
        out |= {f"variants.{k}": v for k, v in self.descriptor_variants.arrays().items()}
        return out

    def text(self, column: str, rows: pa.Array) -> pa.Array:
        """Column `column` of the recipient table at `rows`, as plain strings whatever its storage."""
        return as_string_array(self.table.column(column).take(rows))

    def scalars(self) -> dict[str, int | dict[str, int]]:
        """The few plain values that go with `arrays()`."""
        return {"max_df": self.blocking.max_df, "stats": dict(self.stats)}

    @classmethod
    def restore(cls, arrays: dict[str, pa.Array | np.ndarray], scalars: dict) -> "RecipientIndex":
        """The index `arrays()` and `scalars()` described, built from nothing (the arrays may be memory-mapped)."""

        def part(prefix: str) -> dict[str, pa.Array | np.ndarray]:
            return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}

        names = arrays["names"]
        blocking = BlockingIndex.restore(names, int(scalars["max_df"]), part("blocking."))
        table = pa.table({name: arrays[f"table.{name}"] for name in RECIPIENT_FIELDS})
        return cls(
            table=table,
            uei=ExactLookup(**part("uei.")),
            duns=ExactLookup(**part("duns.")),
            names=names,
            name_lookup=StringLookup(names, arrays["name_hashes"], arrays["name_positions"]),
            name_offsets=arrays["name_offsets"],
            name_members=arrays["name_members"],
            blocking=blocking,
            descriptor_variants=DescriptorVariants.restore(names, blocking, part("variants.")),
            cut_names=arrays["cut_names"],
            stats=dict(scalars["stats"]),
        )

    def members(self, name_id: int) -> np.ndarray:
        """Recipient rows carrying distinct name `name_id`, in recipient_hash order."""
        return self.name_members[self.name_offsets[name_id] : self.name_offsets[name_id + 1]]

    def members_of(self, name_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every recipient row carrying each of `name_ids`, flattened in order: (the position in
        `name_ids` it belongs to, the recipient row); within a name, in recipient_hash order."""
        starts = self.name_offsets[name_ids]
        counts = self.name_offsets[name_ids + 1] - starts
        return np.repeat(np.arange(len(name_ids)), counts), self.name_members[expand_ranges(starts, counts)]

    def lookup_names(self, normalised: pa.Array) -> np.ndarray:
        """Distinct-name id per normalised award name, -1 where no recipient carries it."""
        return self.name_lookup.find(normalised)
