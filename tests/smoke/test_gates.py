"""The gate logic behind the Dagster checks, on tables built to fail (the core never produces them)."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sbir_etl.evaluation.gates import completeness_gate, identifier_counts, identifier_validity_gate, match_rate_gate

KEY = ("Agency Tracking Number", "Contract")


def write(path, keys):
    pq.write_table(pa.table({"Agency Tracking Number": [k[0] for k in keys], "Contract": [k[1] for k in keys]}), path)
    return path


def test_candidates_do_not_count_as_matches():
    gate = match_rate_gate({"uei-exact": 6, "name-fuzzy-candidate": 3, "unmatched": 1}, 0.7)
    assert not gate.passed and gate.metadata["match_rate"] == pytest.approx(0.6)
    assert "3 candidates not counted" in gate.message and "lower match_rate_threshold" in gate.message
    assert match_rate_gate({"uei-exact": 7, "unmatched": 3}, 0.7).passed


@pytest.mark.parametrize(
    ("out_keys", "rejected", "missing", "extra"),
    [
        ([("A", "1"), ("B", "2"), ("B", "2")], 0, 1, 1),  # C lost, B written twice
        ([("A", "1"), ("B", "2")], 0, 1, 0),  # C lost, not counted as rejected
        ([("A", "1"), ("B", "2"), ("Z", "9")], 0, 1, 1),  # an award that was never input
    ],
)
def test_completeness_fails_on_lost_or_duplicated_awards(tmp_path, out_keys, rejected, missing, extra):
    validated = write(tmp_path / "in.parquet", [("A", "1"), ("B", "2"), ("C", "3")])
    enriched = write(tmp_path / "out.parquet", out_keys)
    gate = completeness_gate(validated, enriched, KEY, rejected)
    assert not gate.passed
    assert (gate.metadata["awards_missing"], gate.metadata["awards_extra_or_duplicated"]) == (missing, extra)


def test_completeness_accepts_rejected_awards(tmp_path):
    validated = write(tmp_path / "in.parquet", [("A", "1"), ("B", "2"), ("C", "3")])
    enriched = write(tmp_path / "out.parquet", [("A", "1"), ("B", "2")])
    assert completeness_gate(validated, enriched, KEY, rows_rejected=1).passed


def test_identifier_validity_counts_with_the_core_rules(tmp_path):
    path = tmp_path / "awards.parquet"
    pq.write_table(
        pa.table(
            {
                "UEI": ["AB12CD34EF56", "AB12CD34EF567", "", "0B12CD34EF56"],
                "Duns": ["12345678", "123456789.0", "000000000", ""],
            }
        ),
        path,
    )
    counts = identifier_counts(path, "UEI", "Duns", chunk_rows=2)
    assert counts == {
        "present": 6,
        "valid": 3,
        "invalid": 3,
        "invalid_by_reason": {"duns:all-zero": 1, "uei:starts-with-zero": 1, "uei:wrong-length": 1},
    }
    gate = identifier_validity_gate(counts, 0.9)
    assert not gate.passed and gate.metadata["validity_rate"] == 0.5
    assert identifier_validity_gate({"present": 0, "valid": 0, "invalid": 0, "invalid_by_reason": {}}, 0.9).passed
