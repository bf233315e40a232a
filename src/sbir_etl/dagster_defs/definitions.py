"""`sbir_etl_job` and the `Definitions` that hold it, with their resources."""

import dagster as dg

from sbir_etl.dagster_defs.assets import ASSETS
from sbir_etl.dagster_defs.checks import CHECKS
from sbir_etl.dagster_defs.resources import EnrichmentSettings, SbirEtlPaths

JOB_NAME = "sbir_etl_job"
ASSET_NAMES: tuple[str, ...] = tuple(asset.key.to_user_string() for asset in ASSETS)
"""Every asset of the job, in dependency order."""
BLOCKING_CHECKS: tuple[str, ...] = tuple(spec.name for check in CHECKS for spec in check.check_specs if spec.blocking)
"""The asset checks whose failure leaves everything downstream unrun."""

sbir_etl_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.assets(*ASSETS),
    description="SBIR awards enriched with USAspending recipients, behind blocking quality gates.",
)


def build_definitions(paths: SbirEtlPaths | None = None, settings: EnrichmentSettings | None = None) -> dg.Definitions:
    """Definitions of the job bound to the given resources (defaults: the bundled good-real scenario)."""
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[sbir_etl_job],
        resources={"paths": paths or SbirEtlPaths(), "settings": settings or EnrichmentSettings()},
    )
