"""Enrich SBIR awards with USAspending recipients: in memory (`enrich_frame`) or streaming (`enrich_files`).

`enrich_files` builds the recipient index once, then reads, matches and writes awards chunk by
chunk, so peak memory follows the chunk size and the recipient table, not the number of awards.
Output rows keep input order. At the end every run checks its invariant — rows in = rows out +
rows rejected, and the output holds exactly the input's award keys — and raises if it is broken.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sbir_etl.columns import FLOAT_OUTPUT_COLUMNS, JOINED_METHODS, MATCH_METHODS, OUTPUT_COLUMNS, ResolvedAwardColumns
from sbir_etl.config import EnrichmentConfig
from sbir_etl.errors import InputSchemaError, InvariantError
from sbir_etl.evaluation.quality import match_rate
from sbir_etl.io.checkpoints import CheckpointStore, run_fingerprint
from sbir_etl.io.tables import (
    RejectSink,
    TableWriter,
    atomic_path,
    iter_text_chunks,
    read_header,
    read_text_table,
    table_format,
)
from sbir_etl.linkage.cascade import NO_IDENTIFIED_NAMES, ChunkStats, FuzzyCache, IdentifiedNames, match_chunk
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.monitoring.performance import current_rss_bytes, measure

log = logging.getLogger("sbir_etl.enrichment")
MIN_CHUNK = 1_000


@dataclass
class EnrichmentSummary:
    """What one enrichment run did. `as_dict()` holds plain Python values only."""

    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    counts_by_method: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MATCH_METHODS, 0))
    invalid_identifiers: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    recipients: int = 0
    recipients_rejected: int = 0
    recipient_stats: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    index_build_s: float = 0.0
    peak_rss_mib: float = 0.0
    peak_rss_growth_mib: float = 0.0
    out_path: str | None = None
    rejects_path: str | None = None
    resumed_rows: int = 0
    """Awards a resumed run found already enriched by the run it continued."""

    @property
    def matched(self) -> int:
        return sum(self.counts_by_method[m] for m in JOINED_METHODS)

    @property
    def match_rate(self) -> float:
        """Joined awards / awards written (0.0 when none were). Candidates are not matches."""
        return match_rate(self.counts_by_method) or 0.0

    @property
    def records_per_s(self) -> float:
        return self.rows_in / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(match_rate=self.match_rate, matched=self.matched, records_per_s=self.records_per_s)
        return out


def build_recipient_index(recipients_path: str | Path, config: EnrichmentConfig, rejects: RejectSink) -> RecipientIndex:
    """Read the recipient file (only the columns the core uses) and index it."""
    header = read_header(recipients_path)
    resolved = config.recipient_columns.resolve(header, recipients_path)
    wanted = [name for name in resolved.values() if name is not None]
    # The raw table is handed over, not kept here, so the index build can free it column by column.
    index = RecipientIndex.build(
        read_text_table(recipients_path, rejects, columns=wanted),
        config.recipient_columns,
        config.blocking_max_key_share,
    )
    pa.default_memory_pool().release_unused()  # hand freed pages back before awards stream in
    return index


def _resolve_awards(header: list[str], path: str | Path, config: EnrichmentConfig) -> ResolvedAwardColumns:
    clash = [c for c in OUTPUT_COLUMNS if c in header]
    if clash:
        raise InputSchemaError(
            path, [], header, hint=f"it already has enrichment output column(s) {clash}; pass the raw awards file"
        )
    return config.award_columns.resolve(header, path)


def enrich_table(
    awards: pa.Table,
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    config: EnrichmentConfig,
    cache: FuzzyCache,
    identified: IdentifiedNames = NO_IDENTIFIED_NAMES,
) -> tuple[pa.Table, ChunkStats]:
    """One chunk: the award columns unchanged, followed by the added match columns."""
    added, stats = match_chunk(awards, columns, index, config, cache, identified)
    for name in added.column_names:
        awards = awards.append_column(name, added.column(name))
    return awards, stats


def enrich_frame(
    awards: pd.DataFrame, recipients: pd.DataFrame, config: EnrichmentConfig | None = None
) -> pd.DataFrame:
    """Enrich in memory. Every column is treated as text, as `enrich_files` reads it."""
    config = config or EnrichmentConfig()
    as_text = lambda df: pa.table({c: pa.array(df[c].astype("string"), type=pa.string()) for c in df.columns})  # noqa: E731
    index = RecipientIndex.build(as_text(recipients), config.recipient_columns, config.blocking_max_key_share)
    columns = _resolve_awards(list(awards.columns), "awards DataFrame", config)
    table = as_text(awards)
    identified = IdentifiedNames.collect([table], columns, index)
    table, _ = enrich_table(table, columns, index, config, FuzzyCache(), identified)
    return table.to_pandas(types_mapper=pd.ArrowDtype).set_axis(awards.index)


def _key_fingerprint(table: pa.Table, key: tuple[str, ...]) -> tuple[int, int]:
    """(row count, order-independent sum of key hashes): equal multisets of keys give equal prints."""
    if not key or table.num_rows == 0:
        return table.num_rows, 0
    frame = table.select(list(key)).to_pandas(types_mapper=pd.ArrowDtype)
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return table.num_rows, int(hashes.sum(dtype="uint64"))


def _read_back_keys(path: Path, fmt: str, key: tuple[str, ...]) -> tuple[int, int]:
    if fmt == "parquet":
        if not key:
            return pq.ParquetFile(path).metadata.num_rows, 0
        return _key_fingerprint(pq.read_table(path, columns=list(key)), key)
    if not key:
        return sum(
            b.num_rows for b in pacsv.open_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        ), 0
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=list(key),
            column_types={k: pa.string() for k in key},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    return _key_fingerprint(table, key)


def enrich_files(
    awards_path: str | Path,
    recipients_path: str | Path,
    out_path: str | Path,
    config: EnrichmentConfig | None = None,
    rejects_path: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    resume: bool = False,
) -> EnrichmentSummary:
    """Enrich an award file into `out_path` (CSV or Parquet by extension), streaming in chunks.

    Unreadable rows of either input go to `rejects_path` (default: `<out>.rejects.csv`).
    With `resume`, completed chunks are checkpointed beside the output and a rerun over the same
    inputs and settings continues after the last one (see `checkpoints.py`).
    Raises `InputSchemaError` for missing columns, `InvariantError` if awards were lost or duplicated.
    """
    config = config or EnrichmentConfig()
    awards_path, out_path = Path(awards_path), Path(out_path)
    rejects_path = Path(rejects_path) if rejects_path else out_path.with_name(out_path.stem + ".rejects.csv")
    summary = EnrichmentSummary(out_path=str(out_path))
    rejects = RejectSink()
    header = read_header(awards_path)
    columns = _resolve_awards(header, awards_path, config) if header else None
    out_format = table_format(out_path)
    with measure() as usage:
        started = time.perf_counter()
        index = build_recipient_index(recipients_path, config, rejects)
        summary.index_build_s = time.perf_counter() - started
        summary.recipients = len(index.table)
        summary.recipients_rejected = rejects.count(recipients_path)
        summary.recipient_stats = dict(index.stats)
        log.info(
            "recipient index: %d recipients, %d distinct names, built in %.1f s",
            summary.recipients,
            len(index.names),
            summary.index_build_s,
        )
        cache = FuzzyCache()
        # A first, read-only pass: which recipient the file's identified awards give each name.
        # It reads every column, so it rejects exactly the rows the main pass rejects (an
        # undecodable byte in any column); the main pass counts them.
        identified = IdentifiedNames.collect(
            iter_text_chunks(awards_path, config.chunk_size, RejectSink()) if columns else (), columns, index
        )
        totals = ChunkStats()
        methods: Counter = Counter()
        in_print = (0, 0)
        chunk_rows = config.chunk_size
        store = (
            CheckpointStore(out_path, run_fingerprint(awards_path, recipients_path, settings=config.as_dict()))
            if resume
            else None
        )
        for part in store.resume() if store else ():
            methods.update(part.methods)
            totals.invalid_identifiers.update(part.invalid_identifiers)
            totals.events.update(part.events)
            in_print = (in_print[0] + part.rows, (in_print[1] + part.key_hash) % (1 << 64))
        summary.resumed_rows = skip = in_print[0]
        if skip:
            log.info("resuming after %d awards already enriched by an earlier run", skip)
        schema = pa.schema(
            [(c, pa.string()) for c in header]
            + [(c, pa.float64() if c in FLOAT_OUTPUT_COLUMNS else pa.string()) for c in OUTPUT_COLUMNS]
        )
        with atomic_path(out_path) as tmp:
            writer = TableWriter(tmp, out_format)
            done = skip
            for chunk in iter_text_chunks(awards_path, config.chunk_size, rejects) if columns else ():
                if skip >= chunk.num_rows:  # enriched by the run being resumed; still read for its rejects
                    skip -= chunk.num_rows
                    continue
                chunk, skip = chunk.slice(skip), 0
                offset = 0
                while offset < chunk.num_rows:
                    part = chunk.slice(offset, chunk_rows)
                    offset += part.num_rows
                    enriched, stats = enrich_table(part, columns, index, config, cache, identified)
                    n, h = _key_fingerprint(part, columns.key)
                    in_print = (in_print[0] + n, (in_print[1] + h) % (1 << 64))
                    part_methods = Counter(enriched.column("match_method").to_pylist())
                    if store:
                        store.add(enriched, h, part_methods, stats.invalid_identifiers, stats.events)
                    else:
                        writer.write(enriched)
                    totals.merge(stats)
                    methods.update(part_methods)
                    done += part.num_rows
                    if progress:
                        progress(part.num_rows)
                    elapsed = time.perf_counter() - started
                    log.info("enriched %d awards (%.0f/s)", done, done / elapsed if elapsed else 0.0)
                    if (
                        config.memory_ceiling_mib
                        and current_rss_bytes() > config.memory_ceiling_mib << 20
                        and chunk_rows > MIN_CHUNK
                    ):
                        chunk_rows = max(MIN_CHUNK, chunk_rows // 2)
                        log.warning(
                            "RSS above memory_ceiling_mib=%d: chunk size lowered to %d",
                            config.memory_ceiling_mib,
                            chunk_rows,
                        )
                        totals.events["chunk-size-lowered"] += 1
            for table in store.tables() if store else ():
                writer.write(table)
            writer.close(schema)
            summary.rows_rejected = rejects.count(awards_path)
            summary.rows_in = in_print[0] + summary.rows_rejected
            out_print = _read_back_keys(tmp, out_format, columns.key if columns else ())
            summary.rows_out = out_print[0]
            summary.counts_by_method = {m: int(methods.get(m, 0)) for m in MATCH_METHODS}
            _check_invariant(summary, in_print, out_print, awards_path)  # before the output appears
    summary.invalid_identifiers = dict(sorted(totals.invalid_identifiers.items()))
    summary.events = dict(sorted(totals.events.items()))
    summary.wall_s, summary.cpu_s = usage.wall_s, usage.cpu_s
    summary.peak_rss_mib, summary.peak_rss_growth_mib = usage.peak_rss_mib, usage.peak_rss_growth_mib
    if rejects.rows:
        rejects.write(rejects_path)
        summary.rejects_path = str(rejects_path)
    else:
        rejects_path.unlink(missing_ok=True)
    if store:
        store.remove()
    return summary


def _check_invariant(
    summary: EnrichmentSummary, in_print: tuple[int, int], out_print: tuple[int, int], path: Path
) -> None:
    if summary.rows_in != summary.rows_out + summary.rows_rejected:
        raise InvariantError(
            f"{path}: {summary.rows_in} rows in != {summary.rows_out} out + {summary.rows_rejected} rejected"
        )
    if in_print[1] != out_print[1] or sum(summary.counts_by_method.values()) != summary.rows_out:
        raise InvariantError(
            f"{path}: the award keys written differ from the award keys read (lost or duplicated awards)"
        )
