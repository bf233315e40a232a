"""Enrichment in award shards: the output of `enrich_files`, computed by independent workers.

A run splits the awards into N contiguous row ranges (`plan_shards`). The file-wide evidence
every shard needs — which recipient the file's identified awards tie each name to — is computed
once, before any shard (`collect_identified_names`), and saved beside the output. Each shard then
enriches its range against the recipient index and that evidence into its own part file
(`enrich_shard`), and `combine_shards` writes the parts in shard order into one output, checking
that every award came out exactly once. Contiguous ranges written in order, and results that
depend on no chunking, make the combined output the unsharded one, row for row.

The award file here is the job's Parquet copy (`validated_sbir_awards`): every row of it is
readable, so a shard's rows are addressed by position and none is ever rejected.
"""

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sbir_etl.columns import MATCH_METHODS
from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import (
    AwardFile,
    ChunkLoop,
    EnrichmentSummary,
    KeyPrint,
    Tally,
    identified_names,
    output_schema,
)
from sbir_etl.errors import InvariantError
from sbir_etl.io.outputs import atomic_path
from sbir_etl.io.tables import TableWriter, iter_parquet_rows, table_format
from sbir_etl.linkage.cascade import IdentifiedNames
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.monitoring.performance import measure
from sbir_etl.recipient_index import load_index

__all__ = [
    "ShardRange",
    "ShardResult",
    "check_shards",
    "collect_identified_names",
    "combine_shards",
    "enrich_shard",
    "load_identified_names",
    "open_recipient_index",
    "plan_shards",
    "save_identified_names",
]


@dataclass(frozen=True)
class ShardRange:
    """Shard `number`: award rows `start` to `stop` (0-based, stop excluded) of the award file."""

    number: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def __str__(self) -> str:
        return f"shard {self.number} (award rows {self.start}-{self.stop})"


def plan_shards(rows: int, shards: int) -> list[ShardRange]:
    """`shards` contiguous ranges covering rows 0..rows once, sizes differing by at most one."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    bounds = [rows * i // shards for i in range(shards + 1)]
    return [ShardRange(i, bounds[i], bounds[i + 1]) for i in range(shards)]


def open_recipient_index(index_path: str | Path, config: EnrichmentConfig) -> RecipientIndex:
    """The saved recipient index a shard matches against, memory-mapped (`load_index`): every
    worker on a machine that loads one file shares its pages instead of holding a copy."""
    return load_index(index_path, config).index


def collect_identified_names(
    awards_path: str | Path, index: RecipientIndex, config: EnrichmentConfig
) -> IdentifiedNames:
    """The file-wide identified-names evidence (`IdentifiedNames`) of the whole award file."""
    return identified_names(AwardFile.open(awards_path, config), index, config)


IDENTIFIED_SCHEMA = pa.schema([("name", pa.string()), ("recipient_row", pa.int64())])


def save_identified_names(identified: IdentifiedNames, path: str | Path) -> None:
    """Write the evidence as a two-column Parquet (normalised name, recipient row of the index)."""
    table = pa.table([identified.names, pa.array(identified.recipients, pa.int64())], schema=IDENTIFIED_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def load_identified_names(path: str | Path) -> IdentifiedNames:
    table = pq.read_table(path, schema=IDENTIFIED_SCHEMA)
    return IdentifiedNames(
        table.column("name").combine_chunks(), table.column("recipient_row").to_numpy().astype(np.int64)
    )


@dataclass(frozen=True)
class ShardResult:
    """What one shard wrote (plain values: it travels between worker processes and machines)."""

    shard: ShardRange
    path: str
    rows: int
    key_hash: int
    methods: dict[str, int]
    invalid_identifiers: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    peak_rss_mib: float = 0.0


def enrich_shard(
    awards_path: str | Path,
    shard: ShardRange,
    index: RecipientIndex,
    identified: IdentifiedNames,
    out_path: str | Path,
    config: EnrichmentConfig,
) -> ShardResult:
    """Enrich the award rows of `shard` into the Parquet `out_path` (written whole or not at all)."""
    awards = AwardFile.open(awards_path, config)
    tally = Tally()
    with measure() as usage, atomic_path(out_path) as tmp:
        writer = TableWriter(tmp, "parquet")
        chunks = iter_parquet_rows(awards_path, shard.start, shard.stop, config.chunk_size)
        loop = ChunkLoop(awards.columns, index, config, identified, tally, None, writer, None, time.perf_counter())
        loop.run((0, chunk) for chunk in chunks)  # an award's position matters only to checkpoints
        writer.close(output_schema(awards.header))
    return ShardResult(
        shard=shard,
        path=str(out_path),
        rows=tally.keys.rows,
        key_hash=tally.keys.key_hash,
        methods={m: int(tally.methods.get(m, 0)) for m in MATCH_METHODS},
        invalid_identifiers=dict(sorted(tally.stats.invalid_identifiers.items())),
        events=dict(sorted(tally.stats.events.items())),
        wall_s=float(usage.wall_s),
        peak_rss_mib=float(usage.peak_rss_mib),
    )


def check_shards(results: Sequence[ShardResult], award_rows: int) -> list[ShardResult]:
    """The results in shard order, if they are exactly the plan's shards over `award_rows` rows,
    each having written every row of its range; `InvariantError` naming the shard otherwise."""
    plan = plan_shards(award_rows, len(results)) if results else []
    ordered = sorted(results, key=lambda r: r.shard.number)
    if [r.shard for r in ordered] != plan:
        got = ", ".join(str(r.shard) for r in ordered)
        raise InvariantError(f"the shards do not cover the {award_rows} awards exactly once: got {got}")
    for result in ordered:
        written = pq.ParquetFile(result.path).metadata.num_rows
        if not result.rows == written == result.shard.rows:
            raise InvariantError(
                f"{result.shard}: {result.shard.rows} awards in, {result.rows} enriched, "
                f"{written} rows in its part {result.path}"
            )
    return ordered


def combine_shards(
    awards_path: str | Path, results: Sequence[ShardResult], out_path: str | Path, config: EnrichmentConfig
) -> EnrichmentSummary:
    """Write the shards' parts, in shard order, to `out_path` (CSV or Parquet by extension).

    Checks the row invariant across shards before the output appears: the shards tile the award
    file, each wrote its whole range, and the award keys written are the award keys read (no
    award lost or written twice). Raises `InvariantError` naming what is off. The parts are
    removed once the output is in place.
    """
    awards_path, out_path = Path(awards_path), Path(out_path)
    started = time.perf_counter()
    awards = AwardFile.open(awards_path, config)
    award_rows = pq.ParquetFile(awards_path).metadata.num_rows
    ordered = check_shards(results, award_rows)
    out_format = table_format(out_path)
    summary = EnrichmentSummary(out_path=str(out_path))
    with atomic_path(out_path) as tmp:
        writer = TableWriter(tmp, out_format)
        for result in ordered:
            for batch in pq.ParquetFile(result.path).iter_batches(batch_size=config.chunk_size):
                writer.write(pa.Table.from_batches([batch]))
        writer.close(output_schema(awards.header))
        read = KeyPrint.of_file(awards_path, "parquet", awards.columns.key)
        shards = sum((KeyPrint(r.rows, r.key_hash) for r in ordered), KeyPrint())
        written = KeyPrint.of_file(tmp, out_format, awards.columns.key)
        _account_shards(summary, ordered, read, shards, written, awards_path)
    for result in ordered:
        Path(result.path).unlink(missing_ok=True)
    summary.wall_s = time.perf_counter() - started
    return summary


def _account_shards(
    summary: EnrichmentSummary,
    ordered: Sequence[ShardResult],
    read: KeyPrint,
    shards: KeyPrint,
    written: KeyPrint,
    awards_path: Path,
) -> None:
    methods: Counter = Counter()
    invalid: Counter = Counter()
    events: Counter = Counter()
    for result in ordered:
        methods.update(result.methods)
        invalid.update(result.invalid_identifiers)
        events.update(result.events)
    summary.rows_in, summary.rows_out = read.rows, written.rows
    summary.counts_by_method = {m: int(methods.get(m, 0)) for m in MATCH_METHODS}
    summary.invalid_identifiers = dict(sorted(invalid.items()))
    summary.events = dict(sorted(events.items()))
    if not read == shards == written or sum(summary.counts_by_method.values()) != written.rows:
        raise InvariantError(
            f"{awards_path}: {read.rows} awards read, {shards.rows} enriched by {len(ordered)} shards, "
            f"{written.rows} written; the award keys written differ from the keys read (lost or duplicated awards)"
        )
