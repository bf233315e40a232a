"""The `recipient_index` asset: rebuilt only when `recipient_lookup` changes, memory-mapped by the
enrichment; and the job's incremental mode."""

import shutil

import pyarrow.parquet as pq
import pytest

from pytest_sbir_validate.scenarios import bundled_scenario
from sbir_etl.dagster_defs import run_job

pytestmark = pytest.mark.smoke


def test_the_index_is_rebuilt_only_when_the_recipient_lookup_changes(tmp_path):
    scenario = bundled_scenario("good-real")
    recipients = tmp_path / "recipients.csv"
    shutil.copy(scenario.recipients_path, recipients)
    out = tmp_path / "out"
    first = run_job(scenario.awards_path, recipients, out)
    enriched = pq.read_table(first.path("enriched_sbir_awards"))
    second = run_job(scenario.awards_path, recipients, out)
    assert first.success and second.success, second.describe()
    assert first.asset_metadata["recipient_index"]["rebuilt"] is True
    assert second.asset_metadata["recipient_index"]["rebuilt"] is False  # same recipients: kept
    assert pq.read_table(second.path("enriched_sbir_awards")).equals(enriched)
    assert second.asset_metadata["enriched_sbir_awards"]["enrichment_summary"]["index_path"] == str(
        second.path("recipient_index")
    )

    lines = recipients.read_text().splitlines(keepends=True)
    recipients.write_text("".join(lines[:-1]))  # a recipient fewer
    third = run_job(scenario.awards_path, recipients, out)
    assert third.success and third.asset_metadata["recipient_index"]["rebuilt"] is True
    assert third.asset_metadata["recipient_index"]["rows"] == len(lines) - 2


def test_an_incremental_job_run_writes_what_a_full_run_writes(tmp_path):
    scenario = bundled_scenario("good-real")
    header, *rows = scenario.awards_path.read_text().splitlines(keepends=True)
    awards = tmp_path / "awards.csv"
    awards.write_text("".join([header, *rows[:150]]))
    out = tmp_path / "out"
    assert run_job(awards, scenario.recipients_path, out, incremental=True).success
    awards.write_text("".join([header, *rows]))
    later = run_job(awards, scenario.recipients_path, out, incremental=True)
    full = run_job(awards, scenario.recipients_path, tmp_path / "full")
    assert later.success, later.describe()
    meta = later.asset_metadata["enriched_sbir_awards"]
    assert meta["incremental_kept"] + meta["incremental_enriched"] == len(rows)
    assert meta["incremental_enriched"] >= len(rows) - 150 and meta["incremental_kept"] > 100
    assert pq.read_table(later.path("enriched_sbir_awards")).equals(pq.read_table(full.path("enriched_sbir_awards")))
