"""A failed enrichment step is retried by Dagster and resumes after its last completed chunk."""

import pyarrow.parquet as pq
import pytest

import sbir_etl.enrichment as enrichment
from sbir_etl.dagster_defs import run_job
from sbir_etl.evaluation.synthetic import generate, write

pytestmark = pytest.mark.smoke


def test_a_killed_enrichment_attempt_is_retried_and_resumed(tmp_path, monkeypatch):
    paths = write(generate(n_awards=2_500, n_recipients=10_000, seed=5), tmp_path / "data")
    real, calls = enrichment.enrich_table, []

    def dies_once_on_the_second_chunk(chunk, *args):
        calls.append(chunk.num_rows)
        if len(calls) == 2:
            raise OSError("worker lost its scratch disk")
        return real(chunk, *args)

    monkeypatch.setattr(enrichment, "enrich_table", dies_once_on_the_second_chunk)
    run = run_job(
        paths["awards"], paths["recipients"], tmp_path / "out", overrides={"chunk_size": 1_000}, use_environment=False
    )

    assert run.success, run.describe()
    metadata = run.asset_metadata["enriched_sbir_awards"]
    assert (metadata["attempt"], metadata["resumed_rows"]) == (2, 1_000)
    assert calls == [1_000, 1_000, 1_000, 500]  # the first chunk was not enriched again
    assert pq.read_metadata(run.path("enriched_sbir_awards")).num_rows == 2_500
    assert any("resumed after 1000 awards" in message for message in run.log_messages)
