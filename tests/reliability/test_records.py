"""Physical records: "rows in" counts what the file holds, and a quote never merges records silently."""

import os
from pathlib import Path

import pytest

from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import enrich_files
from sbir_etl.errors import InputFormatError
from sbir_etl.io.outputs import atomic_path
from sbir_etl.io.records import count_lines, strict_record_count
from sbir_etl.io.tables import RejectSink, iter_text_chunks, read_text_table
from tests.reliability.conftest import SAMPLE

REAL_EXPORT = Path("/work/shared/data/real/sbirgov_dod_awards_2017_2019_rovertm.csv")
HEADER = "Company,Abstract,Agency Tracking Number,Contract\n"


def read_all(path: Path) -> tuple[int, int]:
    """(rows read, rows rejected) of a CSV through the core's reader."""
    rejects = RejectSink()
    rows = sum(t.num_rows for t in iter_text_chunks(path, 2, rejects))
    return rows, rejects.count()


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"", 0),
        (b"a,b", 1),
        (b"a,b\n1,2\n", 2),
        (b"a,b\r\n1,2\r\n", 2),
        (b"a,b\r1,2\r", 2),  # CR only (classic Mac)
        (b"a,b\n1,2", 2),  # no line ending at the end
        (b"a,b\n1,2\n\n\n", 2),  # trailing blank lines are not lines
        (b"a,b\n\n1,2\n", 3),  # a blank line inside is
    ],
)
def test_lines_are_counted_as_the_csv_reader_ends_them(tmp_path: Path, data: bytes, lines: int) -> None:
    (tmp_path / "f.csv").write_bytes(data)
    assert count_lines(tmp_path / "f.csv") == lines


def test_a_quoted_line_break_is_one_record_and_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + 'Acme,"Line one\nline two\n\nline four",A1,C1\nBeta,plain,A2,C2\n')
    assert read_all(path) == (2, 0)
    assert strict_record_count(path, 4) == 2


def test_blank_lines_hold_no_record(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "Acme,x,A1,C1\n\n\nBeta,y,A2,C2\n\n")
    assert read_all(path) == (2, 0)


@pytest.mark.fault
@pytest.mark.parametrize(
    ("body", "line"),
    [
        ('"Acme,x,A1,C1\nBeta,y,A2,C2\n"Gamma",z,A3,C3\n', 2),  # the glue: closes at the next quote
        ('Acme,x,A1,C1\nBeta,"unclosed,A2,C2\nGamma,z,A3,C3\n', 3),  # runs to the end of the file
        ('Acme,"a\nb",A1\nBeta,y,A2,C2\n', 2),  # spans lines with too few fields
    ],
    ids=["closes-at-the-next-quote", "open-to-the-end", "spans-lines-with-the-wrong-field-count"],
)
def test_a_quote_that_runs_across_lines_refuses_the_file_naming_its_line(tmp_path: Path, body: str, line: int) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + body)
    with pytest.raises(InputFormatError, match=rf"a\.csv: line {line}: a quote opened on this line"):
        read_all(path)
    with pytest.raises(InputFormatError, match=rf"line {line}"):
        read_text_table(path, RejectSink())


def test_rows_in_is_what_the_file_holds_with_rejects_and_multi_line_values(tmp_path: Path) -> None:
    lines = (
        'Company,Abstract,Agency Tracking Number,Contract\nAcme,"two\nlines",A1,C1\nToo,few\n'
        '"Quoted, Inc","x",A3,C3\nBeta,y,A4,C4,extra\n'
    )
    (tmp_path / "a.csv").write_text(lines)
    (tmp_path / "r.csv").write_text("recipient_hash,legal_business_name,uei,duns\nh1,ACME,,\n")
    summary = enrich_files(tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "o.csv", EnrichmentConfig())
    assert (summary.rows_in, summary.rows_out, summary.rows_rejected) == (4, 2, 2)


@pytest.mark.skipif(not REAL_EXPORT.is_file(), reason="the shared real SBIR.gov export is not on this machine")
def test_a_real_export_with_a_multi_line_value_reads_every_record() -> None:
    rows, rejected = read_all(REAL_EXPORT)
    assert rows + rejected == 6_880 and count_lines(REAL_EXPORT) == 6_882  # one record spans two lines


def test_the_bundled_sample_reads_one_record_per_line() -> None:
    assert read_all(SAMPLE / "awards.csv") == (235, 0) and count_lines(SAMPLE / "awards.csv") == 236


def test_atomic_writes_remove_the_partials_of_dead_processes_only(tmp_path: Path) -> None:
    target = tmp_path / "table.parquet"
    dead, alive = tmp_path / ".table.parquet.partial-999999", tmp_path / f".table.parquet.partial-{os.getppid()}"
    dead.write_text("left by a killed run")
    alive.write_text("another live process is writing")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and not dead.exists() and alive.exists()
