"""Incremental runs: only new, changed or evidence-affected awards are enriched, and the output is
byte for byte what a full run over the same file writes."""

import pyarrow.parquet as pq
import pytest

from sbir_etl import incremental
from sbir_etl.cli import main
from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import enrich_files
from sbir_etl.evaluation.synthetic import generate, write
from tests.core.conftest import awards, recipients
from tests.core.test_cascade import ACME, BETA


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("incremental")
    return write(generate(n_awards=2_000, n_recipients=20_000, seed=7), folder)


def _lines_file(path, header, lines):
    path.write_text("".join([header, *lines]))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_incremental_run_writes_what_a_full_run_writes(synthetic, tmp_path, suffix):
    header, *lines = synthetic["awards"].read_text().splitlines(keepends=True)
    old = _lines_file(tmp_path / "old.csv", header, lines[:1_700])
    changed = lines[:]
    for at in (3, 500, 1_200):  # corrected awards: one field differs
        changed[at] = changed[at].replace(",", ", ", 1)
    new = _lines_file(tmp_path / "new.csv", header, changed)
    config = EnrichmentConfig(chunk_size=300)
    out = tmp_path / f"out{suffix}"
    first = enrich_files(old, synthetic["recipients"], out, config, incremental=True)
    assert first.incremental["kept"] == 0 and first.incremental["enriched"] == 1_700  # nothing to keep yet
    second = enrich_files(new, synthetic["recipients"], out, config, incremental=True)
    full = enrich_files(new, synthetic["recipients"], tmp_path / f"full{suffix}", config)
    assert out.read_bytes() == (tmp_path / f"full{suffix}").read_bytes()
    assert second.counts_by_method == full.counts_by_method and second.rows_out == 2_000
    reenriched = second.incremental["rows_reenriched_for_evidence"]
    assert second.incremental["kept"] == 1_700 - 3 - reenriched
    assert second.incremental["enriched"] == 300 + 3 + reenriched


MOVED = {"Company": "Acme Widgets", "State": "WA", "City": "Pasadena"}  # ACME's name and city, another state
IDENTIFIED = {"Company": "ACME WIDGETS, INC.", "UEI": "KD6VWJ8MHRX5"}  # names ACME with its UEI


def _awards_csv(path, *rows):
    awards(*rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("before", "after", "names_changed"),
    [
        ([MOVED], [MOVED, IDENTIFIED], 1),  # a new award ties the old award's name to ACME
        # A corrected award unties it (and ties its new name instead).
        ([MOVED, IDENTIFIED], [MOVED, dict(IDENTIFIED, Company="Other Name")], 2),
    ],
    ids=["tie-created", "tie-broken"],
)
def test_old_awards_whose_name_new_awards_tie_differently_are_enriched_again(
    tmp_path, monkeypatch, before, after, names_changed
):
    recipient_file = tmp_path / "r.csv"
    recipients(ACME, BETA).to_csv(recipient_file, index=False)
    out, full = tmp_path / "out.csv", tmp_path / "full.csv"
    enrich_files(_awards_csv(tmp_path / "old.csv", *before), recipient_file, out, incremental=True)
    new = _awards_csv(tmp_path / "new.csv", *after)
    enrich_files(new, recipient_file, full)
    reference = full.read_bytes()

    summary = enrich_files(new, recipient_file, out, incremental=True)
    assert out.read_bytes() == reference
    assert (
        summary.incremental["rows_reenriched_for_evidence"] == 1
        and summary.incremental["evidence_names_changed"] == names_changed
    )

    # Without that rule the kept row would carry the old evidence's result: the rule is what makes them equal.
    enrich_files(_awards_csv(tmp_path / "old.csv", *before), recipient_file, out, incremental=True)
    monkeypatch.setattr(
        incremental, "_evidence_changed", lambda *args: incremental.pa.array([], incremental.pa.string())
    )
    enrich_files(new, recipient_file, out, incremental=True)
    assert out.read_bytes() != reference


def test_a_previous_output_made_otherwise_is_not_reused(synthetic, tmp_path):
    out, full = tmp_path / "out.parquet", tmp_path / "full.parquet"
    enrich_files(synthetic["awards"], synthetic["recipients"], out, EnrichmentConfig(), incremental=True)
    stricter = EnrichmentConfig(fuzzy_auto_threshold=95.0)
    summary = enrich_files(synthetic["awards"], synthetic["recipients"], out, stricter, incremental=True)
    assert summary.incremental["kept"] == 0  # other settings: every award enriched again
    enrich_files(synthetic["awards"], synthetic["recipients"], full, stricter)
    assert out.read_bytes() == full.read_bytes()
    again = enrich_files(
        synthetic["awards"], synthetic["recipients"], out, stricter.replace(chunk_size=999), incremental=True
    )
    assert again.incremental == {
        "kept": 2_000,
        "enriched": 0,
        "evidence_names_changed": 0,
        "rows_reenriched_for_evidence": 0,
    }
    assert pq.read_table(out).equals(pq.read_table(full))  # the same rows (in row groups of 999 now)


def test_an_award_file_with_no_rows_then_with_rows(synthetic, tmp_path):
    header = synthetic["awards"].read_text().splitlines(keepends=True)[0]
    empty = _lines_file(tmp_path / "empty.csv", header, [])
    out = tmp_path / "out.csv"
    assert enrich_files(empty, synthetic["recipients"], out, incremental=True).rows_out == 0
    assert out.read_text().startswith('"Company"') or out.read_text().startswith("Company")
    later = enrich_files(synthetic["awards"], synthetic["recipients"], out, incremental=True)
    assert later.incremental["enriched"] == later.rows_out == 2_000


def test_cli_incremental_with_resume_is_refused(synthetic, tmp_path, capsys):
    args = ["enrich", "--awards", str(synthetic["awards"]), "--recipients", str(synthetic["recipients"])]
    code = main([*args, "--out", str(tmp_path / "o.csv"), "--incremental", "--resume", "--quiet"])
    assert code == 2 and "--incremental and --resume do not go together" in capsys.readouterr().err
