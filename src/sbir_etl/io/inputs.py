"""What an input file must be before anything reads it, checked without loading Arrow.

An input is refused with an `InputFormatError` naming it when it is missing, a directory, empty
(0 bytes), not .csv/.parquet, a corrupt Parquet file, or when its header is blank, not UTF-8 or
repeats a column name. The header of a CSV is its first record whatever the line ending (LF,
CRLF or a lone CR). Only Parquet headers need pyarrow, imported then: the command line checks
every path before the slow imports, so a mistake is reported in a fraction of a second.
"""

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sbir_etl.errors import InputFormatError, InputSchemaError


def table_format(path: str | Path) -> str:
    """'csv' or 'parquet', from the file extension."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputFormatError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


def check_input_file(path: str | Path) -> Path:
    """`path` as a readable, non-empty CSV or Parquet file; `InputFormatError` saying what it is instead."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{path}: no such file")
    if path.is_dir():
        raise InputFormatError(f"{path}: is a directory; pass a .csv or .parquet file")
    table_format(path)
    if path.stat().st_size == 0:
        raise InputFormatError(f"{path}: the file is empty (0 bytes), not even a header line")
    return path


def _unique_names(path: str | Path, names: list[str]) -> list[str]:
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        where = "; ".join(
            f"{name!r} is column {' and '.join(str(i + 1) for i, n in enumerate(names) if n == name)}"
            for name in repeated
        )
        raise InputFormatError(f"{path}: duplicate column names ({where}); rename them so each is unique")
    return names


def read_csv_header(path: str | Path) -> list[str]:
    """Header names of a CSV file: its first record, whatever its line ending (LF, CRLF or CR)."""
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        try:
            header = next(csv.reader(fh), [])
        except csv.Error as exc:  # e.g. a quote opened in the header and never closed
            raise InputFormatError(f"{path}: line 1 (header) cannot be read as CSV ({exc})") from None
    if not any(name.strip() for name in header):
        raise InputFormatError(f"{path}: the first line is blank; it must hold the column names")
    try:
        "".join(header).encode("utf-8")
    except UnicodeEncodeError:
        raise InputFormatError(f"{path}: row 0 (header): not UTF-8; re-export the file as UTF-8") from None
    return _unique_names(path, header)


def parquet_file(path: str | Path) -> Any:
    """The `pyarrow.parquet.ParquetFile` of an input; `InputFormatError` if it is not one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputFormatError(f"{path}: not a readable Parquet file ({exc})") from None


def read_header(path: str | Path) -> list[str]:
    """Column names of a CSV or Parquet input (checked with `check_input_file` first)."""
    path = check_input_file(path)
    if table_format(path) == "parquet":
        return _unique_names(path, list(parquet_file(path).schema_arrow.names))
    return read_csv_header(path)


def require_columns(path: str | Path, required: Sequence[str], hint: str) -> list[str]:
    """The header of an input that must hold every column of `required`; an `InputSchemaError`
    naming the file, the missing and the found columns, and `hint` (what the file should be)."""
    header = read_header(path)
    missing = [column for column in required if column not in header]
    if missing:
        raise InputSchemaError(path, missing, header, hint=hint)
    return header
