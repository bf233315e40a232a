"""Streaming enrichment on files: chunking, order, bad input, rejects and the rows-in = rows-out invariant."""

import csv

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sbir_etl import enrichment
from sbir_etl.columns import OUTPUT_COLUMNS
from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import AwardFile, enrich_files, enrich_frame
from sbir_etl.errors import InputFormatError, InputSchemaError, InvariantError
from sbir_etl.evaluation.synthetic import generate, write
from sbir_etl.io.tables import RejectSink, iter_text_chunks, read_text_table
from sbir_etl.linkage.names import normalize_names
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.rules import rules_disabled
from sbir_etl.linkage.support import AwardEvidence, AwardKeys, ChunkStats, IdentifiedNames
from tests.core.conftest import AWARD_COLUMNS, awards, recipients


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    small = generate(n_awards=200, n_recipients=2_000, seed=7)
    # The first scoring in a process loads numba and the compiled kernels (about 100 MiB, once);
    # the budgets below measure a run's own growth, so that one-time cost is paid here.
    enrich_frame(small.awards.to_pandas(), small.recipients.to_pandas())
    return write(generate(n_awards=3_000, n_recipients=20_000, seed=7), tmp_path_factory.mktemp("synthetic"))


# Budgets from `--budget-suggest` (observed x 1.5), widened for slower CI runners: memory about
# 2x, time about 5x the figures measured on the 2-core development machine.
@pytest.mark.memory_budget("150 MiB")  # observed +66 MiB
@pytest.mark.time_budget("3s", cpu=True)  # observed 0.48 s
def test_chunked_output_equals_in_memory_result_in_input_order(synthetic, tmp_path):
    out = tmp_path / "enriched.parquet"
    summary = enrich_files(synthetic["awards"], synthetic["recipients"], out, EnrichmentConfig(chunk_size=700))
    streamed = pd.read_parquet(out)
    whole = enrich_frame(
        pd.read_csv(synthetic["awards"], dtype=str, keep_default_na=False),
        pd.read_csv(synthetic["recipients"], dtype=str, keep_default_na=False),
    )
    assert summary.rows_in == summary.rows_out == 3_000 and summary.rows_rejected == 0
    assert streamed["Agency Tracking Number"].tolist() == whole["Agency Tracking Number"].tolist()
    for column in ("match_method", "usaspending_recipient_hash", "candidate_recipient_hash"):
        assert streamed[column].fillna("").tolist() == whole[column].fillna("").astype(str).tolist(), column
    assert sum(summary.counts_by_method.values()) == 3_000
    assert summary.match_rate == pytest.approx(
        streamed["match_method"].isin(["uei-exact", "duns-exact", "name-exact", "name-fuzzy-auto"]).mean()
    )


def test_csv_output_keeps_input_columns_byte_for_byte(tmp_path):
    (tmp_path / "a.csv").write_text(
        "Company,Duns,Agency Tracking Number,Contract,Award Amount\nAcme Widgets Inc,012345678,A1,C1,0149978.060\n"
    )
    recipients().to_csv(tmp_path / "r.csv", index=False)
    enrich_files(tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "out.csv")
    with open(tmp_path / "out.csv", newline="") as fh:
        header, row = list(csv.reader(fh))
    assert header == ["Company", "Duns", "Agency Tracking Number", "Contract", "Award Amount", *OUTPUT_COLUMNS]
    assert row[:5] == ["Acme Widgets Inc", "012345678", "A1", "C1", "0149978.060"]


def test_missing_required_column_names_the_file_and_the_columns_found(tmp_path):
    (tmp_path / "a.csv").write_text("Firm,UEI,Agency Tracking Number,Contract\nAcme,,1,2\n")
    recipients().to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(InputSchemaError) as error:
        enrich_files(tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "out.parquet")
    message = str(error.value)
    assert str(tmp_path / "a.csv") in message and "Company" in message and "'Firm'" in message
    assert not (tmp_path / "out.parquet").exists()


def test_missing_recipient_column_is_reported_against_the_recipient_file(tmp_path):
    awards({"Company": "Acme"}).to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "r.csv").write_text("recipient_hash,name,uei,duns\nh1,ACME,,\n")
    with pytest.raises(InputSchemaError, match=r"r\.csv: missing required column\(s\) 'legal_business_name'"):
        enrich_files(tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "out.parquet")


def test_unreadable_rows_are_rejected_with_row_number_column_and_reason(tmp_path):
    header = ",".join(AWARD_COLUMNS)
    lines = [
        header,
        "Acme Widgets,,,A0,C0,,CA,",
        "Too,Few,Fields",  # input row 2
        '"Multi\nline Corp",,,A2,C2,,CA,',  # a quoted newline is one row, not two
        "Beta Labs,,,A3,C3,,NY,,EXTRA",  # input row 4
        "Gamma,,,A4,C4,,TX,",
    ]
    data = ("\n".join(lines) + "\n").encode() + "Caf\xe9 Corp,,,A5,C5,,TX,\n".encode("latin-1")  # row 6: not UTF-8
    (tmp_path / "a.csv").write_bytes(data)
    recipients().to_csv(tmp_path / "r.csv", index=False)
    summary = enrich_files(
        tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "out.parquet", EnrichmentConfig(chunk_size=2)
    )
    assert (summary.rows_in, summary.rows_out, summary.rows_rejected) == (6, 3, 3)
    rejects = pd.read_csv(summary.rejects_path, dtype=str, keep_default_na=False)
    assert rejects["input_row"].tolist() == ["2", "4", "6"]
    assert rejects["reason"].str.contains("wrong number of fields").tolist() == [True, True, False]
    assert rejects.loc[2, "column"] == "Company" and "not UTF-8" in rejects.loc[2, "reason"]
    assert pq.read_table(tmp_path / "out.parquet").column("Agency Tracking Number").to_pylist() == ["A0", "A2", "A4"]


def test_a_header_only_input_gives_an_empty_output_and_a_0_byte_one_is_an_error(tmp_path):
    (tmp_path / "header_only.csv").write_text(",".join(AWARD_COLUMNS) + "\n")
    (tmp_path / "empty.csv").write_text("")
    recipients().to_csv(tmp_path / "r.csv", index=False)
    summary = enrich_files(tmp_path / "header_only.csv", tmp_path / "r.csv", tmp_path / "out.parquet")
    assert (summary.rows_in, summary.rows_out, summary.match_rate) == (0, 0, 0.0)
    assert pq.read_schema(tmp_path / "out.parquet").names == AWARD_COLUMNS + list(OUTPUT_COLUMNS)
    with pytest.raises(InputFormatError, match=r"empty\.csv: the file is empty \(0 bytes\)"):
        enrich_files(tmp_path / "empty.csv", tmp_path / "r.csv", tmp_path / "out2.csv")
    assert not (tmp_path / "out2.csv").exists()


def test_parquet_inputs_with_numeric_identifier_columns(tmp_path):
    frame = pd.DataFrame({"Company": ["Acme"], "Duns": [12345678.0], "Agency Tracking Number": [1], "Contract": ["C"]})
    frame.to_parquet(tmp_path / "a.parquet")
    recipients({"recipient_hash": "h1", "legal_business_name": "OTHER", "duns": "012345678"}).to_parquet(
        tmp_path / "r.parquet"
    )
    summary = enrich_files(tmp_path / "a.parquet", tmp_path / "r.parquet", tmp_path / "out.parquet")
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert summary.counts_by_method["duns-exact"] == 1
    assert out.loc[0, "Duns"] == "12345678" and out.loc[0, "usaspending_duns"] == "012345678"


def test_rerunning_on_enriched_output_is_refused(tmp_path):
    awards({"Company": "Acme"}).to_csv(tmp_path / "a.csv", index=False)
    recipients().to_csv(tmp_path / "r.csv", index=False)
    enrich_files(tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "out.csv")
    with pytest.raises(InputSchemaError, match="already has enrichment output column"):
        enrich_files(tmp_path / "out.csv", tmp_path / "r.csv", tmp_path / "again.csv")


def test_unknown_file_type_is_bad_input(tmp_path):
    (tmp_path / "a.xlsx").write_text("x")
    with pytest.raises(InputFormatError, match="unsupported file type '.xlsx'"):
        enrich_files(tmp_path / "a.xlsx", tmp_path / "r.csv", tmp_path / "out.csv")


def test_invariant_violation_is_detected_and_no_output_is_left(tmp_path, monkeypatch):
    import sbir_etl.enrichment as enrichment

    awards({"Company": "Acme"}, {"Company": "Beta"}).to_csv(tmp_path / "a.csv", index=False)
    recipients().to_csv(tmp_path / "r.csv", index=False)
    real = enrichment.enrich_table

    def drops_a_row(awards_chunk, *args):
        table, stats = real(awards_chunk, *args)
        return table.slice(1), stats

    monkeypatch.setattr(enrichment, "enrich_table", drops_a_row)
    with pytest.raises(InvariantError, match="2 rows in != 1 out"):
        enrich_files(tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "r.csv"]  # no output, no partial file


@pytest.mark.memory_budget("80 MiB")  # observed +32 MiB
@pytest.mark.time_budget("3s", cpu=True)  # observed 0.48 s
def test_memory_ceiling_shrinks_chunks_without_changing_results(synthetic, tmp_path):
    plain = enrich_files(
        synthetic["awards"], synthetic["recipients"], tmp_path / "a.parquet", EnrichmentConfig(chunk_size=1_500)
    )
    low = enrich_files(
        synthetic["awards"],
        synthetic["recipients"],
        tmp_path / "b.parquet",
        EnrichmentConfig(chunk_size=1_500, memory_ceiling_mib=1),
    )
    assert low.events.get("chunk-size-lowered", 0) >= 1
    assert low.counts_by_method == plain.counts_by_method
    assert pd.read_parquet(tmp_path / "a.parquet").equals(pd.read_parquet(tmp_path / "b.parquet"))


@pytest.mark.memory_budget("50 MiB")  # observed +17 MiB
@pytest.mark.time_budget("2s", cpu=True)  # observed 0.26 s
def test_synthetic_truth_precision(synthetic, tmp_path, record_quality):
    from sbir_etl.evaluation.quality import evaluate_against_truth, match_metrics

    enrich_files(synthetic["awards"], synthetic["recipients"], tmp_path / "out.parquet")
    metrics = match_metrics(pd.read_parquet(tmp_path / "out.parquet"))
    # With --sbir-history, a drop in match rate from the baseline fails this test.
    record_quality(
        match_rate=metrics["match_rate"],
        by_method=metrics["rates_by_method"],
        score_histogram=metrics["score_histogram"],
        score_histogram_by_method=metrics["score_histogram_by_method"],
    )
    result = evaluate_against_truth(
        pd.read_parquet(tmp_path / "out.parquet"),
        pd.read_csv(synthetic["truth"], dtype=str, keep_default_na=False),
        ["Agency Tracking Number", "Contract"],
    )
    assert result["by_method"]["uei-exact"]["precision"] == 1.0  # a valid UEI in recipients always wins
    assert result["name_precision"] >= 0.98
    assert result["name_recall"] <= result["name_recall_with_review"] <= 1.0


def test_an_interrupted_run_resumes_after_its_last_completed_chunk(synthetic, tmp_path, monkeypatch):
    import sbir_etl.enrichment as enrichment

    config = EnrichmentConfig(chunk_size=1_000)
    expected = enrich_files(synthetic["awards"], synthetic["recipients"], tmp_path / "plain.parquet", config)
    real, calls = enrichment.enrich_table, []

    def crashes_on_the_third_chunk(chunk, *args):
        calls.append(chunk.num_rows)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(chunk, *args)

    monkeypatch.setattr(enrichment, "enrich_table", crashes_on_the_third_chunk)
    out = tmp_path / "resumed.parquet"
    with pytest.raises(KeyboardInterrupt):
        enrich_files(synthetic["awards"], synthetic["recipients"], out, config, resume=True)
    assert not out.exists() and (tmp_path / ".resumed.parquet.parts" / "manifest.json").exists()

    calls.clear()
    monkeypatch.setattr(
        enrichment, "enrich_table", lambda chunk, *args: (calls.append(chunk.num_rows), real(chunk, *args))[1]
    )
    summary = enrich_files(synthetic["awards"], synthetic["recipients"], out, config, resume=True)
    assert summary.resumed_rows == 2_000 and calls == [1_000]  # only the chunk that never finished
    assert summary.counts_by_method == expected.counts_by_method
    assert summary.invalid_identifiers == expected.invalid_identifiers
    assert pd.read_parquet(out).equals(pd.read_parquet(tmp_path / "plain.parquet"))
    assert not (tmp_path / ".resumed.parquet.parts").exists()


def test_checkpoints_of_other_inputs_or_settings_are_not_reused(synthetic, tmp_path, monkeypatch):
    import sbir_etl.enrichment as enrichment

    real = enrichment.enrich_table
    state = {"calls": 0}

    def crashes_second(chunk, *args):
        state["calls"] += 1
        if state["calls"] == 2:
            raise RuntimeError("boom")
        return real(chunk, *args)

    monkeypatch.setattr(enrichment, "enrich_table", crashes_second)
    with pytest.raises(RuntimeError):
        enrich_files(
            synthetic["awards"],
            synthetic["recipients"],
            tmp_path / "o.parquet",
            EnrichmentConfig(chunk_size=1_000),
            resume=True,
        )
    monkeypatch.setattr(enrichment, "enrich_table", real)
    summary = enrich_files(
        synthetic["awards"],
        synthetic["recipients"],
        tmp_path / "o.parquet",
        EnrichmentConfig(chunk_size=1_000, fuzzy_margin=5.0),
        resume=True,
    )
    assert summary.resumed_rows == 0 and summary.rows_out == 3_000


@pytest.mark.parametrize("abstract", [b"fine", b"\xff broken"])
def test_a_rejected_row_never_vouches_for_a_name(tmp_path, abstract):
    """The identified-names pass sees exactly the rows the main pass keeps."""
    (tmp_path / "a.csv").write_bytes(
        b"Company,UEI,City,State,Abstract,Agency Tracking Number,Contract\n"
        b"Acme Widgets Inc,KD6VWJ8MHRX5,Pasadena,CA," + abstract + b",A1,C1\n"
        b"Acme Widgets,,Pasadena,WA,ok,A2,C2\n"
    )
    recipients(
        {
            "recipient_hash": "h-acme",
            "legal_business_name": "ACME WIDGETS INC",
            "uei": "KD6VWJ8MHRX5",
            "city": "PASADENA",
            "state": "CA",
        }
    ).to_csv(tmp_path / "r.csv", index=False)
    summary = enrich_files(tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "out.parquet")
    out = pd.read_parquet(tmp_path / "out.parquet").set_index("Agency Tracking Number")
    if abstract == b"fine":
        assert (summary.rows_rejected, out.loc["A2", "match_method"]) == (0, "name-exact")
    else:
        assert (summary.rows_rejected, list(out.index)) == (1, ["A2"])
        assert out.loc["A2", "match_method"] == "name-fuzzy-candidate"


def test_identified_names_read_beside_the_index_build_equal_the_ones_read_after_it(synthetic):
    config = EnrichmentConfig(chunk_size=700)
    awards = AwardFile.open(synthetic["awards"], config)
    index = RecipientIndex.build(read_text_table(synthetic["recipients"], RejectSink()))

    def chunks():
        return iter_text_chunks(awards.path, config.chunk_size, RejectSink())

    after = IdentifiedNames.collect(chunks(), awards.columns, index)
    beside = IdentifiedNames.of_keys(AwardKeys.collect(chunks(), awards.columns), index)
    assert len(after.names) > 100
    pairs = sorted(zip(after.names.to_pylist(), after.recipients.tolist(), strict=True))
    assert sorted(zip(beside.names.to_pylist(), beside.recipients.tolist(), strict=True)) == pairs


def test_the_award_names_read_beside_the_build_follow_the_rules_switched_off_for_the_run(tmp_path, monkeypatch):
    company = ["Acme Widgets Inc (FKA Beta Corp)", "Acme Widgets Incorproated", "Gamma Sensors and"]
    award_file = tmp_path / "awards.csv"
    awards(*({"Company": name} for name in company)).to_csv(award_file, index=False)
    recipient_file = tmp_path / "recipients.csv"
    recipients({"recipient_hash": "h1", "legal_business_name": "ACME WIDGETS INC"}).to_csv(recipient_file, index=False)
    seen = []
    of_keys = IdentifiedNames.of_keys.__func__

    def recording(cls, keys, index):
        seen.append(keys.names.to_pylist())
        return of_keys(cls, keys, index)

    monkeypatch.setattr(IdentifiedNames, "of_keys", classmethod(recording))
    switched_off = ("remarks and second names", "plurals", "misspelt designators", "dangling and")
    with rules_disabled(*switched_off):
        enrich_files(award_file, recipient_file, tmp_path / "out.parquet")
        expected = normalize_names(pa.array(company)).to_pylist()
    assert seen == [expected]
    assert expected != normalize_names(pa.array(company)).to_pylist()


def test_an_award_file_changed_while_a_run_reads_it_is_refused_and_nothing_is_written(synthetic, tmp_path, monkeypatch):
    awards_copy = tmp_path / "awards.csv"
    awards_copy.write_bytes(synthetic["awards"].read_bytes())
    build = enrichment.build_recipient_index

    def build_while_the_awards_are_rewritten(*args, **kwargs):
        # Replaced by a new file of the same bytes, as a writer would: a reader never sees it half-written.
        new = tmp_path / "awards.csv.new"
        new.write_bytes(awards_copy.read_bytes())
        new.replace(awards_copy)
        return build(*args, **kwargs)

    monkeypatch.setattr(enrichment, "build_recipient_index", build_while_the_awards_are_rewritten)
    out = tmp_path / "out.parquet"
    with pytest.raises(InputFormatError, match="awards.csv: the file changed while this run was reading it"):
        enrich_files(awards_copy, synthetic["recipients"], out)
    assert not out.exists() and list(tmp_path.iterdir()) == [awards_copy]


def test_invalid_identifiers_counted_from_the_award_keys_equal_a_count_chunk_by_chunk(synthetic, tmp_path):
    config = EnrichmentConfig(chunk_size=700)
    summary = enrich_files(synthetic["awards"], synthetic["recipients"], tmp_path / "out.parquet", config)
    columns, per_chunk = AwardFile.open(synthetic["awards"], config).columns, ChunkStats()
    for chunk in iter_text_chunks(synthetic["awards"], 500, RejectSink()):
        AwardEvidence.from_table(chunk, columns, per_chunk)  # no keys: cleaned here
    assert summary.invalid_identifiers and summary.invalid_identifiers == dict(per_chunk.invalid_identifiers)
