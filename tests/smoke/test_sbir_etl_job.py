"""`pytest -m smoke`: the Dagster `sbir_etl_job` end to end on every bundled scenario."""

import shutil

import pytest

from pytest_sbir_validate.materialize import assert_job_as_expected, job_mismatches
from pytest_sbir_validate.scenarios import bundled_scenario, load_scenario
from sbir_etl.dagster_defs import ASSET_NAMES

pytestmark = pytest.mark.smoke


@pytest.mark.memory_budget("200 MiB")  # observed +65 MiB (first case: Dagster's own imports)
@pytest.mark.time_budget("8s", cpu=True)  # observed 1.3 s (first, cold case), 0.2-0.5 s warm
def test_every_scenario_materializes_as_expected(enrichment_scenario, sbir_materialize):
    run = sbir_materialize(enrichment_scenario)
    assert_job_as_expected(enrichment_scenario, run)


@pytest.mark.parametrize(
    "name", ["good-identifiers", "good-fuzzy-names", "good-registry-variants", "good-real", "edge-unicode-names"]
)
def test_good_scenario_materializes_every_asset_with_all_gates_passing(name, sbir_materialize):
    run = sbir_materialize(bundled_scenario(name))
    assert run.success, run.describe()
    assert sorted(run.materialized) == sorted(ASSET_NAMES)
    assert run.failed_checks == [] and run.untouched_steps == [] and run.failed_steps == {}
    report = run.path("enrichment_quality_report")
    assert report.is_file() and '"counts_by_method"' in report.read_text()


def test_low_match_rate_fails_its_gate_and_leaves_downstream_untouched(sbir_materialize):
    run = sbir_materialize(bundled_scenario("bad-low-match-rate"))
    assert not run.success
    gate = run.checks["match_rate"]
    assert not gate.passed and gate.severity == "ERROR"
    assert gate.metadata["match_rate"] == pytest.approx(0.3) and gate.metadata["threshold"] == pytest.approx(0.70)
    assert gate.metadata["counts_by_method"]["unmatched"] == 7
    assert "below match_rate_threshold" in gate.message
    assert run.checks["completeness"].passed
    assert "enriched_sbir_awards" in run.materialized
    assert "enrichment_quality_report" in run.untouched_steps
    assert "enrichment_quality_report" not in run.materialized
    assert not (run.out_dir / "enrichment_quality_report.json").exists()


def test_warn_gate_reports_without_blocking(sbir_materialize):
    run = sbir_materialize(bundled_scenario("bad-malformed-identifiers"))
    check = run.checks["identifier_validity"]
    assert not check.passed and check.severity == "WARN"
    assert check.metadata["invalid_by_reason"]["uei:wrong-length"] == 3
    assert run.success and "enrichment_quality_report" in run.materialized


def test_bad_schema_fails_clearly_without_partial_output(sbir_materialize):
    run = sbir_materialize(bundled_scenario("bad-schema"))
    assert not run.success
    failure = run.failed_steps["validated_sbir_awards"]
    assert failure.error_type == "InputSchemaError"
    assert (
        "bad-schema/awards.csv" in failure.message
        and "'company (Company)'" in failure.message
        and "'Firm'" in failure.message
    )
    assert {"enriched_sbir_awards", "enrichment_quality_report"} <= set(run.untouched_steps)
    leftovers = [p.name for p in run.out_dir.iterdir() if p.name.startswith("enriched") or ".partial-" in p.name]
    assert leftovers == []


def test_rerun_after_fixing_the_input_succeeds(tmp_path, sbir_materialize):
    scenario_dir = tmp_path / "bad-schema"
    shutil.copytree(bundled_scenario("bad-schema").path, scenario_dir)
    out_dir = tmp_path / "out"
    first = sbir_materialize(scenario_dir / "awards.csv", scenario_dir / "recipients.csv", out_dir=out_dir)
    assert not first.success and "validated_sbir_awards" in first.failed_steps

    awards = scenario_dir / "awards.csv"
    awards.write_text(awards.read_text(encoding="utf-8").replace("Firm,", "Company,", 1), encoding="utf-8")
    second = sbir_materialize(awards, scenario_dir / "recipients.csv", out_dir=out_dir)
    assert second.success, second.describe()
    assert sorted(second.materialized) == sorted(ASSET_NAMES)
    assert second.asset_metadata["enriched_sbir_awards"]["counts_by_method"]["uei-exact"] == 2


def test_unreadable_award_rows_count_as_rejected_as_in_the_core(tmp_path, sbir_materialize):
    scenario_dir = tmp_path / "good-identifiers"
    shutil.copytree(bundled_scenario("good-identifiers").path, scenario_dir)
    with open(scenario_dir / "awards.csv", "a", encoding="utf-8") as awards:
        awards.write("a row,with too few fields\n")  # rejected by the raw_sbir_awards copy
    scenario = load_scenario(scenario_dir)
    run = sbir_materialize(scenario)
    assert run.asset_metadata["raw_sbir_awards"]["rows_rejected"] == 1
    assert "rows in: expected 11, got 12" in job_mismatches(scenario, run)
    expected = scenario_dir / "expected.yaml"
    expected.write_text(
        expected.read_text().replace("rows: {in: 11, out: 11, rejected: 0}", "rows: {in: 12, out: 11, rejected: 1}")
    )
    assert_job_as_expected(load_scenario(scenario_dir), run)


def test_configuration_precedence_reaches_the_gate(tmp_path, monkeypatch, sbir_materialize):
    scenario = bundled_scenario("bad-low-match-rate")
    config_file = tmp_path / "sbir.yaml"
    config_file.write_text("match_rate_threshold: 0.95\n")
    monkeypatch.setenv("SBIR_ETL_MATCH_RATE_THRESHOLD", "0.25")  # environment beats the file
    run = sbir_materialize(scenario.awards_path, scenario.recipients_path, config_path=config_file)
    assert run.checks["match_rate"].passed and run.checks["match_rate"].metadata["threshold"] == 0.25
    run = sbir_materialize(
        scenario.awards_path, scenario.recipients_path, config_path=config_file, overrides={"match_rate_threshold": 0.5}
    )  # an override beats the environment
    assert not run.checks["match_rate"].passed and run.checks["match_rate"].metadata["threshold"] == 0.5
    logged = "\n".join(run.log_messages)
    assert "config match_rate_threshold=0.5 (override)" in logged
    assert "config chunk_size=100000 (default)" in logged
    assert "enriched 10/10 awards" in logged  # progress with ETA


def test_environment_and_file_sources_are_logged(tmp_path, monkeypatch, sbir_materialize):
    scenario = bundled_scenario("good-identifiers")
    config_file = tmp_path / "sbir.yaml"
    config_file.write_text("chunk_size: 5\n")
    monkeypatch.setenv("SBIR_ETL_MATCH_RATE_THRESHOLD", "0.9")
    run = sbir_materialize(scenario.awards_path, scenario.recipients_path, config_path=config_file)
    logged = "\n".join(run.log_messages)
    assert f"config chunk_size=5 (file:{config_file})" in logged
    assert "config match_rate_threshold=0.9 (env:SBIR_ETL_MATCH_RATE_THRESHOLD)" in logged
    assert run.success and run.asset_metadata["enriched_sbir_awards"]["rows_out"] == 11  # 11 awards in chunks of 5


def test_every_asset_reports_plain_numeric_metadata(sbir_materialize):
    run = sbir_materialize(bundled_scenario("good-fuzzy-names"))
    for asset in ASSET_NAMES:
        meta = run.asset_metadata[asset]
        for key in ("duration_s", "peak_rss_growth_mib", "records_per_s", "rows"):
            assert type(meta[key]) in (int, float), (asset, key, type(meta[key]))
    enriched = run.asset_metadata["enriched_sbir_awards"]
    assert enriched["rows"] == 10 and enriched["match_rate"] == pytest.approx(0.8)
    assert set(enriched["rates_by_method"]) == {
        "uei-exact",
        "duns-exact",
        "name-exact",
        "name-fuzzy-auto",
        "name-fuzzy-candidate",
        "unmatched",
    }
    assert sum(enriched["score_histogram"].values()) == 9  # every award with a score: all but the unmatched one
    assert enriched["config"]["match_rate_threshold"] == 0.7


def test_tables_pass_as_parquet_paths(sbir_materialize):
    import pyarrow.parquet as pq

    run = sbir_materialize(bundled_scenario("good-identifiers"))
    for asset in (
        "raw_sbir_awards",
        "validated_sbir_awards",
        "raw_usaspending_recipients",
        "recipient_lookup",
        "enriched_sbir_awards",
    ):
        path = run.path(asset)
        assert path.suffix == ".parquet" and pq.ParquetFile(path).metadata.num_rows > 0
    assert pq.read_table(run.path("enriched_sbir_awards")).column_names[:3] == ["Company", "Award Title", "Agency"]
