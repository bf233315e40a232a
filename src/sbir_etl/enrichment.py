"""Enrich SBIR awards with USAspending recipients: in memory (`enrich_frame`) or streaming (`enrich_files`).

`enrich_files` builds the recipient index once, then reads, matches and writes awards chunk by
chunk, so peak memory follows the chunk size and the recipient table, not the number of awards.
Output rows keep input order. At the end every run checks its invariant — rows in = rows out +
rows rejected, and the output holds exactly the input's award keys — and raises if it is broken.
The same enrichment also runs in award shards on separate workers, with the same output
(`sbir_etl.shards`, built from the pieces here).
"""

import contextvars
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sbir_etl.columns import FLOAT_OUTPUT_COLUMNS, JOINED_METHODS, MATCH_METHODS, OUTPUT_COLUMNS, ResolvedAwardColumns
from sbir_etl.config import EnrichmentConfig
from sbir_etl.errors import ConfigError, InputFormatError, InputSchemaError, InvariantError
from sbir_etl.evaluation.quality import match_rate
from sbir_etl.incremental import (
    Reuse,
    nothing_reused,
    plan_reuse,
    previous_state_matches,
    run_state,
    state_path,
    write_state,
)
from sbir_etl.io.array_files import content_digest, file_identity
from sbir_etl.io.checkpoints import CheckpointStore, PartRecord, remove_checkpoints, run_fingerprint
from sbir_etl.io.outputs import atomic_path, claim_outputs, default_rejects_path
from sbir_etl.io.tables import (
    RejectSink,
    TableWriter,
    iter_text_chunks,
    read_header,
    table_format,
)
from sbir_etl.linkage.candidates import load_kernels
from sbir_etl.linkage.cascade import (
    NO_IDENTIFIED_NAMES,
    CascadeState,
    ChunkStats,
    FuzzyCache,
    IdentifiedNames,
    begin_chunk,
    end_chunk,
    match_chunk,
)
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.support import AwardKeys
from sbir_etl.linkage.text_arrays import row_hashes
from sbir_etl.monitoring.performance import current_rss_bytes, measure
from sbir_etl.recipient_index import build_recipient_index, load_index, save_index

__all__ = [
    "EnrichmentSummary",
    "build_recipient_index",
    "enrich_files",
    "enrich_frame",
    "enrich_table",
    "load_index",
    "save_index",
]

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
    """Seconds to build the recipient index, or to load it when `index_path` is set."""
    index_path: str | None = None
    """The saved index the run used (None: built from the recipient file)."""
    peak_rss_mib: float = 0.0
    peak_rss_growth_mib: float = 0.0
    out_path: str | None = None
    rejects_path: str | None = None
    resumed_rows: int = 0
    """Awards a resumed run found already enriched by the run it continued."""
    incremental: dict[str, int] = field(default_factory=dict)
    """An incremental run's rows kept from the previous output and enriched (see `incremental.py`)."""

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


def resolve_awards(header: list[str], path: str | Path, config: EnrichmentConfig) -> ResolvedAwardColumns:
    clash = [c for c in OUTPUT_COLUMNS if c in header]
    if clash:
        raise InputSchemaError(
            path, [], header, hint=f"it already has enrichment output column(s) {clash}; pass the raw awards file"
        )
    return config.award_columns.resolve(header, path)


@dataclass(frozen=True)
class AwardFile:
    """An award file, its header, and the award columns the settings find in that header."""

    path: Path
    header: list[str]
    columns: ResolvedAwardColumns

    @classmethod
    def open(cls, path: str | Path, config: EnrichmentConfig) -> "AwardFile":
        path = Path(path)
        header = read_header(path)
        return cls(path, header, resolve_awards(header, path, config))

    def check_unchanged(self, identity: tuple[int, ...]) -> None:
        """A run reads the file more than once: refuse to finish one that read two versions
        (`identity`: its `file_identity` before the first read)."""
        if file_identity(self.path) != identity:
            raise InputFormatError(
                f"{self.path}: the file changed while this run was reading it; "
                "run again once whatever writes it has finished"
            )


def enrich_table(
    awards: pa.Table,
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    config: EnrichmentConfig,
    cache: FuzzyCache,
    identified: IdentifiedNames = NO_IDENTIFIED_NAMES,
    begun: CascadeState | None = None,
) -> tuple[pa.Table, ChunkStats]:
    """One chunk: the award columns unchanged, followed by the added match columns. `begun`: the
    chunk already through `begin_chunk`, which is then only ended here."""
    added, stats = end_chunk(begun) if begun else match_chunk(awards, columns, index, config, cache, identified)
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
    columns = resolve_awards(list(awards.columns), "awards DataFrame", config)
    table = as_text(awards)
    identified = IdentifiedNames.collect([table], columns, index)
    table, _ = enrich_table(table, columns, index, config, FuzzyCache(), identified)
    return table.to_pandas(types_mapper=pd.ArrowDtype).set_axis(awards.index)


# -- the pieces of `enrich_files` ----------------------------------------------------------------


@dataclass(frozen=True)
class KeyPrint:
    """Row count and order-independent sum of award-key hashes (mod 2**64).

    Equal multisets of keys give equal prints, so comparing the print of the awards read with
    the print of the file written proves that no award was lost or duplicated on the way.
    """

    rows: int = 0
    key_hash: int = 0

    def __add__(self, other: "KeyPrint") -> "KeyPrint":
        return KeyPrint(self.rows + other.rows, (self.key_hash + other.key_hash) % (1 << 64))

    @classmethod
    def of(cls, table: pa.Table, key: tuple[str, ...]) -> "KeyPrint":
        if not key or table.num_rows == 0:
            return cls(table.num_rows, 0)
        return cls(table.num_rows, int(row_hashes(table, list(key)).sum(dtype=np.uint64)))

    @classmethod
    def of_file(cls, path: Path, fmt: str, key: tuple[str, ...]) -> "KeyPrint":
        """The print of a written output, read back from disk (only the key columns)."""
        if fmt == "parquet":
            if not key:
                return cls(pq.ParquetFile(path).metadata.num_rows, 0)
            return cls.of(pq.read_table(path, columns=list(key)), key)
        parse = pacsv.ParseOptions(newlines_in_values=True)
        if not key:
            return cls(sum(b.num_rows for b in pacsv.open_csv(path, parse_options=parse)), 0)
        convert = pacsv.ConvertOptions(
            include_columns=list(key),
            column_types={k: pa.string() for k in key},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        return cls.of(pacsv.read_csv(path, convert_options=convert, parse_options=parse), key)


@dataclass
class Tally:
    """What the enriched awards add up to so far: their key print, match methods and cascade stats."""

    keys: KeyPrint = KeyPrint()
    methods: Counter = field(default_factory=Counter)
    stats: ChunkStats = field(default_factory=ChunkStats)

    def add(self, keys: KeyPrint, methods: Mapping[str, int], stats: ChunkStats) -> None:
        self.keys += keys
        self.methods.update(methods)
        self.stats.merge(stats)

    @classmethod
    def replay(cls, parts: Iterable[PartRecord]) -> "Tally":
        """The tally of the checkpointed parts a resumed run starts from."""
        tally = cls()
        for part in parts:
            stats = ChunkStats(Counter(part.invalid_identifiers), Counter(part.events))
            tally.add(KeyPrint(part.rows, part.key_hash), part.methods, stats)
        return tally


@dataclass
class ChunkSizer:
    """Adaptive chunk size: halved (down to `MIN_CHUNK`) after a chunk that left RSS above the ceiling."""

    rows: int
    ceiling_mib: int | None

    def parts(self, chunk: pa.Table) -> Iterator[tuple[int, pa.Table]]:
        """(offset, slice) of the chunk in slices of the current size (which may shrink between slices)."""
        offset = 0
        while offset < chunk.num_rows:
            part = chunk.slice(offset, self.rows)
            yield offset, part
            offset += part.num_rows

    def after_part(self, stats: ChunkStats) -> None:
        if not self.ceiling_mib or self.rows <= MIN_CHUNK or current_rss_bytes() <= self.ceiling_mib << 20:
            return
        self.rows = max(MIN_CHUNK, self.rows // 2)
        log.warning("RSS above memory_ceiling_mib=%d: chunk size lowered to %d", self.ceiling_mib, self.rows)
        stats.events["chunk-size-lowered"] += 1


def _index_recipients(
    recipients: "RecipientInput", config: EnrichmentConfig, rejects: RejectSink, summary: EnrichmentSummary
) -> tuple[RecipientIndex, str | None]:
    """Build the recipient index once (or load the saved one) and note its size, rejects and time in
    the summary. Also returns the recipient file's SHA-256 when a saved index records it."""
    started = time.perf_counter()
    digest = None
    if recipients.index_path is not None:
        saved = load_index(recipients.index_path, config, recipients.recipients_path)
        index, summary.recipients_rejected = saved.index, saved.recipients_rejected
        summary.index_path, digest = str(recipients.index_path), saved.source.sha256
    else:
        assert recipients.recipients_path is not None
        index = build_recipient_index(recipients.recipients_path, config, rejects)
        summary.recipients_rejected = rejects.count(recipients.recipients_path)
    summary.index_build_s = time.perf_counter() - started
    summary.recipients = len(index.table)
    summary.recipient_stats = dict(index.stats)
    log.info(
        "recipient index: %d recipients, %d distinct names, %s in %.1f s",
        summary.recipients,
        len(index.names),
        "loaded" if summary.index_path else "built",
        summary.index_build_s,
    )
    return index, digest


def identified_names(awards: AwardFile, index: RecipientIndex, config: EnrichmentConfig) -> IdentifiedNames:
    """A first, read-only pass: which recipient the file's identified awards give each name.

    It reads every column, so it rejects exactly the rows the main pass rejects (an undecodable
    byte in any column); the main pass counts them.
    """
    chunks = iter_text_chunks(awards.path, config.chunk_size, RejectSink())
    return IdentifiedNames.collect(chunks, awards.columns, index)


def _index_and_identified_names(
    run: "_Run", summary: EnrichmentSummary
) -> tuple[RecipientIndex, IdentifiedNames, AwardKeys]:
    """The recipient index, the award file's identified names (`identified_names`), and every
    award's keys (`AwardKeys`), which the chunks reuse instead of cleaning and normalising again.

    The keys need no index. A cold run reads them in a thread beside the index build, which takes
    most of its first half (Arrow kernels release the GIL); a loaded index is there at once, so
    then they are read first, on every core. Either way, the scoring kernels load meanwhile
    (`load_kernels`): after the build, whose peak they would raise, or while the keys are read.
    """
    awards = iter_text_chunks(run.awards.path, run.config.chunk_size, RejectSink())  # the main pass counts rejects
    with ThreadPoolExecutor(1) as background:
        if run.recipients.index_path is not None:
            loading = background.submit(load_kernels)
            index, _ = _index_recipients(run.recipients, run.config, run.rejects, summary)
            keys = AwardKeys.collect(awards, run.awards.columns, workers=None)
        else:
            # In a copy of this context, so the name rules switched off here stay off there.
            reading = background.submit(contextvars.copy_context().run, AwardKeys.collect, awards, run.awards.columns)
            index, _ = _index_recipients(run.recipients, run.config, run.rejects, summary)
            loading = background.submit(load_kernels)  # after the build: numba's 60 MiB stay off its peak
            keys = reading.result()
        identified = IdentifiedNames.of_keys(keys, index)
        loading.result()
    return index, identified, keys


T = TypeVar("T")
S = TypeVar("S")


def one_ahead(items: Iterable[T], begin: Callable[[T], S]) -> Iterator[tuple[T, S]]:
    """(item, begin(item)) for each item, each yielded only after the next item is begun: what
    `begin` starts in the background for the next item overlaps the caller's work on this one."""
    ahead: tuple[T, S] | None = None
    for item in items:
        begun = (item, begin(item))
        if ahead is not None:
            yield ahead
        ahead = begun
    if ahead is not None:
        yield ahead


def _not_checkpointed(chunks: Iterable[pa.Table], done: list[PartRecord]) -> Iterator[tuple[int, pa.Table]]:
    """(first award, slice) of the awards no checkpointed part covers, in input order.

    Covered awards are still read, so their unreadable rows are counted again.
    """
    ranges = sorted((p.start, p.stop) for p in done)
    position, next_range = 0, 0
    for chunk in chunks:
        end, cursor = position + chunk.num_rows, position
        while next_range < len(ranges) and ranges[next_range][0] < end:
            start, stop = ranges[next_range]
            if start > cursor:
                yield cursor, chunk.slice(cursor - position, start - cursor)
            cursor = max(cursor, min(stop, end))
            if stop > end:  # the range goes on into the next chunk
                break
            next_range += 1
        if cursor < end:
            yield cursor, chunk.slice(cursor - position, end - cursor)
        position = end


def output_schema(header: list[str]) -> pa.Schema:
    """The award columns as text, followed by the match columns (written even for an empty input)."""
    return pa.schema(
        [(c, pa.string()) for c in header]
        + [(c, pa.float64() if c in FLOAT_OUTPUT_COLUMNS else pa.string()) for c in OUTPUT_COLUMNS]
    )


@dataclass
class ChunkLoop:
    """Matches award chunks and hands each enriched part to the checkpoints or straight to the output."""

    columns: ResolvedAwardColumns
    index: RecipientIndex
    config: EnrichmentConfig
    identified: IdentifiedNames
    tally: Tally
    store: CheckpointStore | None
    writer: TableWriter
    progress: Callable[[int], None] | None
    started: float
    keys: AwardKeys | None = None  # every award's keys, when the run read them before the loop
    cache: FuzzyCache = field(default_factory=lambda: FuzzyCache(background=True))

    def run(self, chunks: Iterable[tuple[int, pa.Table]]) -> None:
        """Each part is begun before the one ahead of it is ended: the next part's names are
        scored in the background while this part is decided and written (`FuzzyCache`)."""
        sizer = ChunkSizer(self.config.chunk_size, self.config.memory_ceiling_mib)
        parts = ((start + offset, part) for start, chunk in chunks for offset, part in sizer.parts(chunk))
        try:
            for (start, part), begun in one_ahead(parts, lambda item: self._begin(*item)):
                self._enrich(start, part, begun)
                sizer.after_part(self.tally.stats)
        finally:
            self.cache.close()

    def _begin(self, start: int, part: pa.Table) -> CascadeState:
        keys = self.keys.slice(start, part.num_rows) if self.keys else None
        return begin_chunk(part, self.columns, self.index, self.config, self.cache, self.identified, keys)

    def _enrich(self, start: int, part: pa.Table, begun: CascadeState) -> None:
        enriched, stats = enrich_table(part, self.columns, self.index, self.config, self.cache, self.identified, begun)
        keys = KeyPrint.of(part, self.columns.key)
        methods = Counter(enriched.column("match_method").to_pylist())
        if self.store:
            self.store.add(enriched, start, keys.key_hash, methods, stats.invalid_identifiers, stats.events)
        else:
            self.writer.write(enriched)
        self.tally.add(keys, methods, stats)
        if self.progress:
            self.progress(part.num_rows)
        done, elapsed = self.tally.keys.rows, time.perf_counter() - self.started
        log.info("enriched %d awards (%.0f/s)", done, done / elapsed if elapsed else 0.0)


def _account(
    summary: EnrichmentSummary,
    tally: Tally,
    rejects: RejectSink,
    awards_path: Path,
    written: KeyPrint,
) -> None:
    """Rows in, out and rejected into the summary; raises `InvariantError` if awards were lost or duplicated."""
    summary.rows_rejected = rejects.count(awards_path)
    summary.rows_in = tally.keys.rows + summary.rows_rejected
    summary.rows_out = written.rows
    summary.counts_by_method = {m: int(tally.methods.get(m, 0)) for m in MATCH_METHODS}
    _check_invariant(summary, tally.keys, written, awards_path)


def _check_invariant(summary: EnrichmentSummary, read: KeyPrint, written: KeyPrint, path: Path) -> None:
    if summary.rows_in != summary.rows_out + summary.rows_rejected:
        raise InvariantError(
            f"{path}: {summary.rows_in} rows in != {summary.rows_out} out + {summary.rows_rejected} rejected"
        )
    if read.key_hash != written.key_hash or sum(summary.counts_by_method.values()) != summary.rows_out:
        raise InvariantError(
            f"{path}: the award keys written differ from the award keys read (lost or duplicated awards)"
        )


@dataclass(frozen=True)
class RecipientInput:
    """Where a run's recipients come from: the recipient file, a saved index of it, or both
    (then the index must have been built from that file)."""

    recipients_path: Path | None
    index_path: Path | None

    @classmethod
    def of(cls, recipients_path: str | Path | None, index_path: str | Path | None) -> "RecipientInput":
        if recipients_path is None and index_path is None:
            raise ConfigError("give the recipient file, or a saved index of it (sbir-etl index), or both")
        as_path = lambda p: Path(p) if p is not None else None  # noqa: E731
        return cls(as_path(recipients_path), as_path(index_path))

    def files(self) -> dict[str, Path]:
        """The input files, by the role a message names them with."""
        named = {"recipients file": self.recipients_path, "recipient index": self.index_path}
        return {role: path for role, path in named.items() if path is not None}


def enrich_files(
    awards_path: str | Path,
    recipients_path: str | Path | None,
    out_path: str | Path,
    config: EnrichmentConfig | None = None,
    rejects_path: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    resume: bool = False,
    index_path: str | Path | None = None,
    incremental: bool = False,
) -> EnrichmentSummary:
    """Enrich an award file into `out_path` (CSV or Parquet by extension), streaming in chunks.

    The recipient index is built from `recipients_path`, or loaded from `index_path` (a file
    `sbir-etl index` / `save_index` wrote) without rebuilding it; `IndexMismatchError` if that
    index was built from another recipient file or with other settings.
    Unreadable rows of either input go to `rejects_path` (default: `<out>.rejects.csv`); with a
    saved index, the recipient file's were written when the index was built.
    With `incremental`, the output already at `out_path` (written by an incremental run over the
    same recipients and settings) keeps the results a full run would not change, and only new,
    changed or evidence-affected awards are enriched (see `incremental.py`); the output equals a
    full run's. Not with `resume`.
    With `resume`, completed chunks are checkpointed beside the output and a rerun over the same
    inputs and settings continues after the last one (see `checkpoints.py`).
    The output and rejects paths are refused if either is an input (`OutputPathError`), and the
    output is locked for the run (`OutputBusyError` while another run writes it).
    Raises `InputSchemaError` for missing columns, `InvariantError` if awards were lost or duplicated.
    """
    config = config or EnrichmentConfig()
    recipients = RecipientInput.of(recipients_path, index_path)
    awards_path, out_path = Path(awards_path), Path(out_path)
    rejects_path = Path(rejects_path) if rejects_path else default_rejects_path(out_path)
    table_format(out_path)
    inputs = {"awards file": awards_path} | recipients.files()
    if incremental and resume:
        raise ConfigError("--incremental and --resume do not go together: an incremental run writes its output whole")
    with claim_outputs(inputs, out_path, rejects_path):
        awards = AwardFile.open(awards_path, config)
        summary = EnrichmentSummary(out_path=str(out_path))
        run = _Run(awards, recipients, out_path, rejects_path, config, progress, summary)
        return _enrich_incremental(run) if incremental else _enrich(run, resume)


@dataclass
class _Run:
    """One run of `enrich_files` once its outputs are claimed: what it reads and writes, its
    settings, and the summary and rejects it fills in (full and incremental runs alike)."""

    awards: AwardFile
    recipients: RecipientInput
    out_path: Path
    rejects_path: Path
    config: EnrichmentConfig
    progress: Callable[[int], None] | None
    summary: EnrichmentSummary
    rejects: RejectSink = field(default_factory=RejectSink)

    @property
    def out_format(self) -> str:
        return table_format(self.out_path)


def _enrich(run: _Run, resume: bool) -> EnrichmentSummary:
    """A full run: every award enriched, chunk by chunk (continuing a checkpointed one with `resume`)."""
    summary, columns = run.summary, run.awards.columns
    with measure() as usage:
        started = time.perf_counter()
        read_from = file_identity(run.awards.path)
        index, identified, keys = _index_and_identified_names(run, summary)
        store = _checkpoint_store(run) if resume else None
        done = store.resume() if store else []
        tally = Tally.replay(done)
        summary.resumed_rows = tally.keys.rows
        if summary.resumed_rows:
            log.info("resuming: %d awards were already enriched by an earlier run", summary.resumed_rows)
        with atomic_path(run.out_path) as tmp:
            writer = TableWriter(tmp, run.out_format)
            chunks = _not_checkpointed(iter_text_chunks(run.awards.path, run.config.chunk_size, run.rejects), done)
            loop = ChunkLoop(columns, index, run.config, identified, tally, store, writer, run.progress, started, keys)
            loop.run(chunks)
            run.awards.check_unchanged(read_from)  # both passes read one version of the file
            for table in store.drain() if store else ():
                writer.write(table)
            writer.close(output_schema(run.awards.header))
            written = KeyPrint.of_file(tmp, run.out_format, columns.key)
            _account(summary, tally, run.rejects, run.awards.path, written)  # before the output appears,
            summary.rejects_path = run.rejects.flush(run.rejects_path)  # and so do its rejects
    _finish(summary, tally, usage)
    remove_checkpoints(run.out_path)
    return summary


def _checkpoint_store(run: _Run) -> CheckpointStore:
    """The checkpoints of a run over these inputs and settings, beside its output."""
    inputs = (run.awards.path, *run.recipients.files().values())
    return CheckpointStore(run.out_path, run_fingerprint(*inputs, settings=run.config.as_dict()))


def _finish(summary: EnrichmentSummary, tally: Tally, usage: Any) -> None:
    summary.invalid_identifiers = dict(sorted(tally.stats.invalid_identifiers.items()))
    summary.events = dict(sorted(tally.stats.events.items()))
    summary.wall_s, summary.cpu_s = usage.wall_s, usage.cpu_s
    summary.peak_rss_mib, summary.peak_rss_growth_mib = usage.peak_rss_mib, usage.peak_rss_growth_mib


# -- incremental runs (see `incremental.py`) -----------------------------------------------------


def _enrich_incremental(run: _Run) -> EnrichmentSummary:
    """The previous output's results where a full run would write the same ones; the rest enriched."""
    config, summary, columns = run.config, run.summary, run.awards.columns
    with measure() as usage:
        index, digest = _index_recipients(run.recipients, config, run.rejects, summary)
        if digest is None:
            assert run.recipients.recipients_path is not None  # without a saved index, the recipient file is given
            digest = content_digest(run.recipients.recipients_path)
        state = run_state(digest, config, run.awards.header)
        awards = _concat(list(iter_text_chunks(run.awards.path, config.chunk_size, run.rejects)), run.awards.header)
        identified = IdentifiedNames.collect(_slices(awards, config.chunk_size), columns, index)
        previous, reuse = _previous_output(
            run.out_path, run.out_format, run.awards.header, state, awards, columns, index, identified
        )
        summary.incremental = reuse.counts()
        log.info("incremental: %s", summary.incremental)
        state_path(run.out_path).unlink(missing_ok=True)  # the output is about to change: its state is void
        tally = Tally()
        matched = _match_rows(awards, reuse.enrich_rows, columns, index, config, identified, tally, run.progress)
        kept = previous.select(list(OUTPUT_COLUMNS)).take(pa.array(reuse.old_rows)) if previous is not None else None
        if run.progress and kept is not None:
            run.progress(kept.num_rows)
        result = _in_file_order(awards, reuse, kept, matched)
        with atomic_path(run.out_path) as tmp:
            writer = TableWriter(tmp, run.out_format)
            for start in range(0, result.num_rows, config.chunk_size):
                writer.write(result.slice(start, config.chunk_size))
            writer.close(output_schema(run.awards.header))
            written = KeyPrint.of_file(tmp, run.out_format, columns.key)
            tally.keys = KeyPrint.of(awards, columns.key)
            tally.methods = Counter(result.column("match_method").to_pylist())
            _account(summary, tally, run.rejects, run.awards.path, written)
            summary.rejects_path = run.rejects.flush(run.rejects_path)
        write_state(run.out_path, state)
    _finish(summary, tally, usage)
    return summary


def _concat(chunks: list[pa.Table], header: list[str]) -> pa.Table:
    if not chunks:
        return pa.table({name: pa.array([], pa.string()) for name in header})
    return pa.concat_tables(chunks).combine_chunks()


def _slices(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    return (table.slice(start, rows) for start in range(0, table.num_rows, rows))


def _previous_output(
    out_path: Path,
    out_format: str,
    header: list[str],
    state: dict[str, Any],
    awards: pa.Table,
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    identified: IdentifiedNames,
) -> tuple[pa.Table | None, Reuse]:
    """The previous output and what of it can be kept; (None, nothing) when it does not fit this run."""
    why_not = previous_state_matches(out_path, state)
    if why_not:
        log.warning("incremental: enriching every award (%s)", why_not)
        return None, nothing_reused(awards.num_rows)
    schema = output_schema(header)
    if out_format == "parquet":
        previous = pq.read_table(out_path)
    else:
        convert = pacsv.ConvertOptions(
            column_types=dict(zip(schema.names, schema.types)),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        parse = pacsv.ParseOptions(newlines_in_values=True)
        previous = pacsv.read_csv(out_path, convert_options=convert, parse_options=parse)
    if previous.column_names != schema.names:
        log.warning("incremental: enriching every award (the previous output has other columns)")
        return None, nothing_reused(awards.num_rows)
    return previous, plan_reuse(awards, previous, header, columns, index, identified)


def _match_rows(
    awards: pa.Table,
    rows: np.ndarray,
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    config: EnrichmentConfig,
    identified: IdentifiedNames,
    tally: Tally,
    progress: Callable[[int], None] | None,
) -> pa.Table | None:
    """The match columns of `rows` of `awards`, matched in chunks (None when there are none)."""
    cache, parts = FuzzyCache(), []
    for start in range(0, len(rows), config.chunk_size):
        part = awards.take(pa.array(rows[start : start + config.chunk_size]))
        added, stats = match_chunk(part, columns, index, config, cache, identified)
        parts.append(added.select(list(OUTPUT_COLUMNS)))
        tally.stats.merge(stats)
        if progress:
            progress(part.num_rows)
    return pa.concat_tables(parts) if parts else None


def _in_file_order(awards: pa.Table, reuse: Reuse, kept: pa.Table | None, matched: pa.Table | None) -> pa.Table:
    """The awards followed by their match columns, kept and newly matched, in file order."""
    if matched is not None and kept is not None:
        combined = pa.concat_tables([kept.cast(matched.schema), matched])
    else:
        combined = matched if matched is not None else kept
    if combined is None:
        return output_schema(awards.column_names).empty_table()  # no awards at all
    position = np.empty(awards.num_rows, dtype=np.int64)
    position[reuse.new_rows] = np.arange(len(reuse.new_rows))
    position[reuse.enrich_rows] = len(reuse.new_rows) + np.arange(len(reuse.enrich_rows))
    added = combined.take(pa.array(position))
    for name in OUTPUT_COLUMNS:
        awards = awards.append_column(name, added.column(name))
    return awards
