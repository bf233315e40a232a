"""Are two enrichment outputs identical, every column of every row? (`full_scale.py` uses it.)

A speed change must not change a single result: same method, score, confidence, recipient,
reason and margin on every row, in the same order. This reads both Parquet/CSV outputs as text
(the floats in their shortest round-trip form, so 97.5 and 97.50000001 differ), a slice at a time,
and reports the first differing rows of each column.

    .venv/bin/python benchmarks/same_output.py before.parquet after.parquet

Exit 0 when identical, 1 when they differ (the differences are printed), 2 when a file is unreadable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sbir_etl.io.tables import rechunk

SLICE_ROWS = 100_000
SHOWN = 5


@dataclass
class Comparison:
    """What differs between two outputs (nothing, when `identical`)."""

    rows: tuple[int, int] = (0, 0)
    columns: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))
    differing_rows: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[tuple[int, str | None, str | None]]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return self.rows[0] == self.rows[1] and self.columns[0] == self.columns[1] and not self.differing_rows

    def describe(self) -> str:
        if self.identical:
            return f"identical: {self.rows[0]:,} rows x {len(self.columns[0])} columns, every value equal"
        lines = []
        if self.rows[0] != self.rows[1]:
            lines.append(f"row counts differ: {self.rows[0]:,} vs {self.rows[1]:,}")
        if self.columns[0] != self.columns[1]:
            lines.append(f"columns differ: {self.columns[0]} vs {self.columns[1]}")
        for column, count in self.differing_rows.items():
            shown = "; ".join(f"row {r}: {a!r} vs {b!r}" for r, a, b in self.examples[column])
            lines.append(f"{column}: {count:,} rows differ ({shown})")
        return "\n".join(lines)


def _as_text(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.string() else pc.cast(array, pa.string())


def _slices(path: Path) -> Iterator[pa.Table]:
    if path.suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=SLICE_ROWS):
            yield pa.Table.from_batches([batch])
        return
    header = pacsv.open_csv(path).schema.names
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in header})
    reader = pacsv.open_csv(path, convert_options=convert, parse_options=pacsv.ParseOptions(newlines_in_values=True))
    for batch in reader:
        yield pa.Table.from_batches([batch])


def compare(left: str | Path, right: str | Path) -> Comparison:
    """Compare two enrichment outputs value by value (as text; null equals only null)."""
    left, right = Path(left), Path(right)
    result = Comparison()
    counts = [0, 0]
    # re-cut to one slice size, so two files written in different batch sizes line up
    a_iter, b_iter = rechunk(_slices(left), SLICE_ROWS), rechunk(_slices(right), SLICE_ROWS)
    while True:
        a, b = next(a_iter, None), next(b_iter, None)
        if a is None and b is None:
            break
        if a is None or b is None:  # one file is longer: count the rest
            for side, rest in ((0, a), (1, b)):
                if rest is not None:
                    counts[side] += rest.num_rows + sum(t.num_rows for t in (a_iter if side == 0 else b_iter))
            break
        result.columns = (a.column_names, b.column_names)
        offset = counts[0]
        counts[0] += a.num_rows
        counts[1] += b.num_rows
        for column in a.column_names:
            if column not in b.column_names:
                continue
            x, y = _as_text(a.column(column)), _as_text(b.column(column))
            n = min(len(x), len(y))
            x, y = x.slice(0, n), y.slice(0, n)
            same = pc.or_kleene(pc.equal(x, y), pc.and_(pc.is_null(x), pc.is_null(y)))
            differ = pc.invert(pc.fill_null(same, False))
            bad = pc.sum(differ).as_py() or 0
            if bad:
                result.differing_rows[column] = result.differing_rows.get(column, 0) + bad
                examples = result.examples.setdefault(column, [])
                for row in pc.indices_nonzero(differ).to_pylist()[: SHOWN - len(examples)]:
                    examples.append((offset + row, x[row].as_py(), y[row].as_py()))
    result.rows = (counts[0], counts[1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: same_output.py LEFT RIGHT  (enrichment outputs, .parquet or .csv)", file=sys.stderr)
        return 2
    try:
        result = compare(*args)
    except (OSError, pa.ArrowInvalid) as error:
        print(f"same_output.py: {error}", file=sys.stderr)
        return 2
    print(result.describe())
    return 0 if result.identical else 1


if __name__ == "__main__":
    sys.exit(main())
