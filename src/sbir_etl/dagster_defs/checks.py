"""Quality gates of `sbir_etl_job` as Dagster asset checks (wrappers over `gates.py`).

Match rate and completeness are *blocking* ERROR checks on `enriched_sbir_awards`: when one fails,
Dagster does not run `enrichment_quality_report` (or anything else downstream). Identifier
validity is a WARN check on `validated_sbir_awards` that reports and blocks nothing; that asset
evaluates it itself (`IDENTIFIER_VALIDITY`), from the identifier counts it already computes for its
metadata, so the identifiers are not read and cleaned a second time.
"""
# No `from __future__ import annotations` here: Dagster inspects the annotations at runtime.

import csv
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from sbir_etl.dagster_defs.resources import EnrichmentSettings, SbirEtlPaths
from sbir_etl.evaluation import gates
from sbir_etl.io.tables import read_header
from sbir_etl.outcomes import COMPLETENESS, MATCH_RATE, Outcome, Severity
from sbir_etl.outcomes import IDENTIFIER_VALIDITY as IDENTIFIER_VALIDITY_GATE


def check_result(gate: Outcome, severity: Severity = Severity.ERROR) -> dg.AssetCheckResult:
    """A gate's outcome as the Dagster check of the same name; its metadata says why (`why` + the gate's numbers)."""
    return dg.AssetCheckResult(
        passed=gate.passed,
        severity=dg.AssetCheckSeverity(severity.value),
        description=gate.message,
        metadata={"why": gate.message, **gate.metadata},
        check_name=gate.name,
    )


def _award_rejects(rejects_path: Path, awards_path: str) -> int:
    """Rows of the enrichment rejects file that came from the award table."""
    if not rejects_path.is_file():
        return 0
    with open(rejects_path, newline="", encoding="utf-8") as fh:
        return sum(row["file"] == awards_path for row in csv.DictReader(fh))


@dg.asset_check(
    asset="enriched_sbir_awards",
    name=MATCH_RATE,
    blocking=True,
    description="Joined awards / all awards >= match_rate_threshold (candidates are not matches).",
)
def match_rate_check(enriched_sbir_awards: str, settings: EnrichmentSettings) -> dg.AssetCheckResult:
    config, _ = settings.load()
    methods = pq.read_table(enriched_sbir_awards, columns=["match_method"]).column("match_method").value_counts()
    counts = {row["values"]: int(row["counts"]) for row in methods.to_pylist()}
    return check_result(gates.match_rate_gate(counts, config.match_rate_threshold))


@dg.asset_check(
    asset="enriched_sbir_awards",
    name=COMPLETENESS,
    blocking=True,
    additional_ins={"validated_sbir_awards": dg.AssetIn()},
    description="Every validated award is enriched exactly once or counted as rejected.",
)
def completeness_check(
    enriched_sbir_awards: str, validated_sbir_awards: str, paths: SbirEtlPaths, settings: EnrichmentSettings
) -> dg.AssetCheckResult:
    config, _ = settings.load()
    key = config.award_columns.resolve(read_header(validated_sbir_awards), paths.awards_path).key
    rejected = _award_rejects(paths.table("enriched_sbir_awards", ".rejects.csv"), validated_sbir_awards)
    return check_result(gates.completeness_gate(validated_sbir_awards, enriched_sbir_awards, key, rejected))


IDENTIFIER_VALIDITY = dg.AssetCheckSpec(
    IDENTIFIER_VALIDITY_GATE,
    asset="validated_sbir_awards",
    blocking=False,
    description="Valid UEIs/DUNS / present ones >= identifier_validity_threshold (warning only).",
)
"""Evaluated by the `validated_sbir_awards` asset itself (see the module docstring)."""


def identifier_validity_result(counts: dict, threshold: float) -> dg.AssetCheckResult:
    return check_result(gates.identifier_validity_gate(counts, threshold), Severity.WARN)


CHECKS = [match_rate_check, completeness_check]
