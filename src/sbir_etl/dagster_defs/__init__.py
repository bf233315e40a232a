"""Dagster definitions of the SBIR ETL: `sbir_etl_job` over the enrichment core, with quality gates.

    dagster dev -m sbir_etl.dagster_defs          # UI on 127.0.0.1:3000
    python -c "from sbir_etl.dagster_defs import run_job; print(run_job('a.csv', 'r.csv', 'out').describe())"
    sbir-etl run --shards 4 --executor multiprocess  # sbir_etl_sharded_job (sharded.py, docs/scale-out.md)

This is the only part of `sbir_etl` that imports Dagster. See docs/dagster.md.
"""

from sbir_etl.dagster_defs.definitions import ASSET_NAMES, BLOCKING_CHECKS, JOB_NAME, build_definitions, sbir_etl_job
from sbir_etl.dagster_defs.resources import DEFAULT_OUT_DIR, DEFAULT_SCENARIO, EnrichmentSettings, SbirEtlPaths
from sbir_etl.dagster_defs.run import CheckOutcome, JobRun, StepFailure, run_job, run_sharded_job
from sbir_etl.dagster_defs.sharded import SHARDED_JOB_NAME, build_sharded_definitions

defs = build_definitions()

__all__ = [
    "ASSET_NAMES",
    "BLOCKING_CHECKS",
    "DEFAULT_OUT_DIR",
    "DEFAULT_SCENARIO",
    "JOB_NAME",
    "SHARDED_JOB_NAME",
    "CheckOutcome",
    "EnrichmentSettings",
    "JobRun",
    "SbirEtlPaths",
    "StepFailure",
    "build_definitions",
    "build_sharded_definitions",
    "defs",
    "run_job",
    "run_sharded_job",
    "sbir_etl_job",
]
