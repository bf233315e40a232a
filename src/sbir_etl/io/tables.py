"""Reading and writing award and recipient tables, at the edges of the core.

Every input column is read as text: a DUNS read as a number loses its leading zeros or becomes
"123456789.0", and the output must carry input columns unchanged. CSV rows that cannot be read
(wrong number of fields, bytes that are not UTF-8) go to a rejects stream with their input row
number, column and reason instead of failing the run or vanishing. After a CSV is read, its
records are checked against its lines (`records.py`), so no two awards are ever silently read as
one. An input that cannot be read at all is an `InputFormatError` naming the file (`inputs.py`).
Outputs are written to a temporary file beside the target and renamed into place only when
complete (`outputs.py`).
"""

import bisect
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sbir_etl.errors import InputFormatError
from sbir_etl.io.inputs import parquet_file, read_header, table_format
from sbir_etl.io.outputs import atomic_path
from sbir_etl.io.records import check_physical_records, count_lines

CSV_BLOCK_SIZE = 8 << 20
REJECT_COLUMNS = ("file", "input_row", "column", "reason", "raw")


@dataclass(frozen=True)
class Reject:
    """One input row that could not be read; `input_row` is 1-based, counting data rows (header excluded)."""

    file: str
    input_row: int | None
    column: str
    reason: str
    raw: str


class RejectSink:
    """Collects rejected rows; `write` puts them in a CSV so nothing is silently dropped."""

    def __init__(self) -> None:
        self.rows: list[Reject] = []

    def add(self, reject: Reject) -> None:
        self.rows.append(reject)

    def count(self, file: str | Path | None = None) -> int:
        return len(self.rows) if file is None else sum(r.file == str(file) for r in self.rows)

    def write(self, path: str | Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(REJECT_COLUMNS)
            for r in self.rows:
                writer.writerow([r.file, "" if r.input_row is None else r.input_row, r.column, r.reason, r.raw])

    def flush(self, path: str | Path) -> str | None:
        """Write the rejects to `path`, or delete `path` when there are none, so a rejects file
        beside an output always describes the run that wrote that output. Returns the path written."""
        if self.rows:
            self.write(path)
            return str(path)
        Path(path).unlink(missing_ok=True)
        return None


def _as_text(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type) or pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
        return column.cast(pa.string())
    if pa.types.is_floating(column.type):
        # Whole floats ("123456789.0") are identifiers that went through a numeric column.
        whole = pc.equal(column, pc.trunc(column))
        as_int = pc.if_else(whole, column, pa.scalar(None, column.type)).cast(pa.int64(), safe=False).cast(pa.string())
        return pc.if_else(whole, as_int, column.cast(pa.string()))
    return column.cast(pa.string())


class _RowNumbers:
    """Maps the k-th readable row to its input row number, given the rows the parser skipped."""

    def __init__(self) -> None:
        self.skipped: list[int] = []

    def input_row(self, readable_index: int) -> int:
        row = readable_index + 1
        while True:
            shift = bisect.bisect_right(self.skipped, row)
            candidate = readable_index + 1 + shift
            if candidate == row:
                return row
            row = candidate


def _decode(
    batch: pa.RecordBatch, path: str, first_readable: int, numbers: _RowNumbers, rejects: RejectSink
) -> pa.Table:
    """Binary batch -> text table, rejecting rows whose bytes are not UTF-8."""
    bad: set[int] = set()
    text: list[pa.Array] = []
    for name, column in zip(batch.schema.names, batch.columns):
        try:
            text.append(column.cast(pa.string()))
        except pa.ArrowInvalid:
            for i, value in enumerate(column.to_pylist()):
                if i in bad or value is None:
                    continue
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad.add(i)
                    raw = b",".join(b"" if v is None else v for v in (c[i].as_py() for c in batch.columns))
                    rejects.add(
                        Reject(
                            path,
                            numbers.input_row(first_readable + i),
                            name,
                            f"undecodable bytes (not UTF-8): {exc.reason} at byte {exc.start}",
                            raw.decode("utf-8", errors="backslashreplace"),
                        )
                    )
    if bad:
        batch = batch.filter(pa.array([i not in bad for i in range(batch.num_rows)]))
        text = [c.cast(pa.string()) for c in batch.columns]
    return pa.table(text, names=batch.schema.names)


def iter_text_chunks(
    path: str | Path,
    chunk_rows: int,
    rejects: RejectSink,
    columns: list[str] | None = None,
    *,
    use_threads: bool = False,
) -> Iterator[pa.Table]:
    """Yield the rows of a CSV/Parquet file as all-text tables of about `chunk_rows` rows.

    A CSV is checked against its lines once read to the end: `InputFormatError` if a quote made
    records merge (see `records.py`).
    """
    path = Path(path)
    if table_format(path) == "parquet":
        yield from _iter_parquet(path, chunk_rows, columns)
    else:
        yield from rechunk(_iter_csv_batches(path, rejects, columns, use_threads), chunk_rows)


def _iter_parquet(path: Path, chunk_rows: int, columns: list[str] | None) -> Iterator[pa.Table]:
    try:
        for batch in parquet_file(path).iter_batches(batch_size=chunk_rows, columns=columns):
            yield pa.table([_as_text(c) for c in batch.columns], names=batch.schema.names)
    except pa.ArrowException as exc:
        raise InputFormatError(f"{path}: not a readable Parquet file ({exc})") from None


def iter_parquet_rows(path: str | Path, start: int, stop: int, chunk_rows: int) -> Iterator[pa.Table]:
    """Rows `start` to `stop` (0-based, stop excluded) of a Parquet file, as text tables of about
    `chunk_rows` rows; only the row groups that hold them are read (one award shard of a run)."""
    path = Path(path)
    file = parquet_file(path)
    first = 0
    try:
        for group in range(file.num_row_groups):
            rows = file.metadata.row_group(group).num_rows
            lo, hi = max(start, first), min(stop, first + rows)
            if lo < hi:
                batch = file.read_row_group(group).slice(lo - first, hi - lo)
                yield from rechunk(
                    iter([pa.table([_as_text(c) for c in batch.columns], names=batch.column_names)]), chunk_rows
                )
            first += rows
    except pa.ArrowException as exc:
        raise InputFormatError(f"{path}: not a readable Parquet file ({exc})") from None


def rechunk(tables: Iterator[pa.Table], chunk_rows: int) -> Iterator[pa.Table]:
    """The same rows re-cut into tables of exactly `chunk_rows` (the last shorter)."""
    pending: list[pa.Table] = []
    pending_rows = 0
    for table in tables:
        pending.append(table)
        pending_rows += table.num_rows
        while pending_rows >= chunk_rows:
            merged = pa.concat_tables(pending)
            yield merged.slice(0, chunk_rows)
            rest = merged.slice(chunk_rows)
            pending, pending_rows = [rest], rest.num_rows
    if pending_rows:
        yield pa.concat_tables(pending)


def _iter_csv_batches(
    path: Path, rejects: RejectSink, columns: list[str] | None, use_threads: bool
) -> Iterator[pa.Table]:
    """The readable rows of a CSV, batch by batch; the others to `rejects` with their row number."""
    header = read_header(path)
    numbers = _RowNumbers()
    invalid = 0

    def on_invalid(row: "pacsv.InvalidRow") -> str:
        nonlocal invalid
        invalid += 1
        input_row = None if row.number is None or row.number < 0 else row.number - 1
        if input_row is not None:
            bisect.insort(numbers.skipped, input_row)
        rejects.add(
            Reject(
                str(path),
                input_row,
                "",
                f"wrong number of fields: expected {row.expected_columns}, found {row.actual_columns}",
                row.text,
            )
        )
        return "skip"

    readable = 0
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=use_threads, block_size=CSV_BLOCK_SIZE, encoding="utf8"),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() for name in header},
                include_columns=header if columns is None else columns,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield _decode(batch, str(path), readable, numbers, rejects)
            readable += batch.num_rows
    except pa.ArrowInvalid as exc:
        if count_lines(path) > 1:  # a lone header line without a line ending is an empty table
            raise InputFormatError(f"{path}: cannot be read as CSV ({exc})") from None
    check_physical_records(path, len(header), readable + invalid)


def _read_clean_csv_fast(path: Path, header: list[str], columns: list[str] | None) -> pa.Table | None:
    """Multi-threaded read of a well-formed CSV; None when any row is malformed or not UTF-8,
    so the caller re-reads it row-accurately (with input row numbers for the rejects)."""
    malformed = False

    def on_invalid(row: "pacsv.InvalidRow") -> str:
        nonlocal malformed
        malformed = True
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=True, block_size=CSV_BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=columns or header,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if malformed:
        return None
    check_physical_records(path, len(header), table.num_rows)
    return table


def read_text_table(path: str | Path, rejects: RejectSink, columns: list[str] | None = None) -> pa.Table:
    """A whole file as an all-text table (used for the recipient table, read once)."""
    header = read_header(path)
    if table_format(path) == "csv":
        fast = _read_clean_csv_fast(Path(path), header, columns)
        if fast is not None:
            return fast
    chunks = list(iter_text_chunks(path, 1 << 30, rejects, columns, use_threads=False))
    if not chunks:
        names = header if columns is None else columns
        return pa.table({name: pa.array([], type=pa.string()) for name in names})
    return pa.concat_tables(chunks)


def read_whole_table(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """A file that must be read whole (the truth of an evaluation, an enriched file to review), as
    text: an unreadable row is an `InputFormatError` naming the file, row and column, never a row
    silently left out."""
    rejects = RejectSink()
    table = read_text_table(path, rejects, columns)
    if rejects.rows:
        first = rejects.rows[0]
        where = f"row {first.input_row}" if first.input_row is not None else "a row"
        column = f", column {first.column!r}" if first.column else ""
        more = f" (and {len(rejects.rows) - 1} more unreadable rows)" if len(rejects.rows) > 1 else ""
        raise InputFormatError(f"{path}: {where}{column}: {first.reason}{more}; fix or remove it")
    return table


class TableWriter:
    """Writes chunks to CSV or Parquet (by extension) at a temporary path; `path` appears on success only."""

    def __init__(self, tmp_path: Path, fmt: str) -> None:
        self.tmp_path, self.fmt = tmp_path, fmt
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            if self.fmt == "parquet":
                self._writer = pq.ParquetWriter(self.tmp_path, table.schema)
            else:
                self._writer = pacsv.CSVWriter(self.tmp_path, table.schema)
        self._writer.write_table(table)

    def close(self, schema: pa.Schema) -> None:
        if self._writer is None:  # empty input still yields a file with the full header
            self.write(schema.empty_table())
        assert self._writer is not None
        self._writer.close()


__all__ = [
    "Reject",
    "RejectSink",
    "TableWriter",
    "iter_parquet_rows",
    "iter_text_chunks",
    "read_header",  # from inputs.py, where every input is checked
    "read_text_table",
    "rechunk",
    "table_format",  # from inputs.py
]
