"""The enrichment asset's Dagster metadata tells the regression report's story: the same match
rate and the same score distribution by method (one `ScoreDistribution` table for both)."""

import dagster as dg
import pandas as pd
import pytest

from pytest_sbir_validate.scenarios import bundled_scenario
from sbir_etl.evaluation.quality import match_metrics
from sbir_etl.monitoring.report_scores import ScoreDistribution

pytestmark = pytest.mark.smoke


def test_enriched_awards_metadata_shows_the_reports_score_distribution_by_method(sbir_materialize):
    run = sbir_materialize(bundled_scenario("good-fuzzy-names"))
    assert run.success, run.describe()
    metadata = run.asset_metadata["enriched_sbir_awards"]
    enriched = pd.read_parquet(run.path("enriched_sbir_awards"))
    expected = ScoreDistribution.of(match_metrics(enriched)["score_histogram_by_method"])
    assert sum(row["awards"] for row in expected.rows()) == 9  # every award but the unmatched one has a score

    table = metadata["score_distribution_by_method"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [column.name for column in table.schema.columns] == ["method", "awards", *expected.buckets]
    assert [dict(record.data) for record in table.records] == expected.rows()

    summary = metadata["quality_summary"]
    assert f"**Match rate {metadata['match_rate']:.1%}** of 10 awards" in summary
    assert expected.markdown() in summary
