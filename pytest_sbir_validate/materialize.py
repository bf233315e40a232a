"""End-to-end fixture: materialize the Dagster `sbir_etl_job` in-process from a test.

    @pytest.mark.smoke
    def test_pipeline(sbir_materialize, enrichment_scenario):
        run = sbir_materialize(enrichment_scenario)       # or sbir_materialize(awards_csv, recipients_csv)
        assert_job_as_expected(enrichment_scenario, run)  # gates, errors, outputs vs expected.yaml

Each call runs against an ephemeral Dagster instance rooted in the test's `tmp_path` and returns a
`sbir_etl.dagster_defs.JobRun`: asset values (table paths), per-asset metadata, check evaluations,
failed and untouched steps. Dagster's console logging is quiet unless `quiet=False`.
Dagster is imported on first use, so suites that never materialize do not pay for it.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_sbir_validate.scenarios import Scenario, ScenarioMismatch, ScenarioOutcome, compare

if TYPE_CHECKING:
    from sbir_etl.dagster_defs import JobRun


def materialize(
    source: "Scenario | str | Path",
    recipients_path: str | Path | None = None,
    *,
    out_dir: str | Path,
    config_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    quiet: bool = True,
) -> "JobRun":
    """Run `sbir_etl_job` on a scenario (its `config:` applied, environment ignored) or on two files."""
    from sbir_etl.dagster_defs import run_job

    if isinstance(source, Scenario):
        merged = {**source.expected.config, **(overrides or {})}
        return run_job(
            source.awards_path,
            source.recipients_path,
            out_dir,
            config_path,
            overrides=merged,
            use_environment=False,
            quiet=quiet,
        )
    if recipients_path is None:
        raise TypeError("materialize(awards_path, recipients_path, ...): pass the recipients file too, or a Scenario")
    return run_job(source, recipients_path, out_dir, config_path, overrides=overrides, quiet=quiet)


def job_outcome(scenario: Scenario, run: "JobRun") -> ScenarioOutcome:
    """The job's result in the shape `scenarios.compare` checks against expected.yaml."""
    import pandas as pd

    from sbir_etl.dagster_defs.assets import ENRICHED, RAW_AWARDS

    outcome = ScenarioOutcome(scenario, config=scenario.enrichment_config())
    step_errors = [f for f in run.failed_steps.values() if f.error_type != "DagsterAssetCheckFailedError"]
    if step_errors:
        outcome.error_type, outcome.error_message = step_errors[0].error_type, step_errors[0].message
        return outcome
    if ENRICHED in run.asset_values:
        meta = run.asset_metadata[ENRICHED]
        outcome.summary = {
            key: meta.get(key)
            for key in ("rows_in", "rows_out", "rows_rejected", "match_rate", "counts_by_method", "invalid_identifiers")
        }
        # Unreadable award rows are rejected by the raw_sbir_awards copy, before enrichment sees
        # them; count them as the core does (rows in = out + rejected over the user's file).
        copy_rejected = run.asset_metadata[RAW_AWARDS]["rows_rejected"]
        outcome.summary["rows_in"] += copy_rejected
        outcome.summary["rows_rejected"] += copy_rejected
        outcome.out_path = run.path(ENRICHED)
        outcome.enriched = pd.read_parquet(outcome.out_path)
    return outcome


def job_mismatches(scenario: Scenario, run: "JobRun") -> list[str]:
    """How the job run differs from expected.yaml: outputs, errors, gates, and what gates blocked."""
    from sbir_etl.dagster_defs import ASSET_NAMES, BLOCKING_CHECKS
    from sbir_etl.dagster_defs.assets import ENRICHED, REPORT

    problems = compare(job_outcome(scenario, run))
    expected = scenario.expected
    for gate, should_pass in expected.gates.items():
        check = run.checks.get(gate)
        if check is None:
            problems.append(f"gate {gate}: expected {'pass' if should_pass else 'fail'}, but it was not evaluated")
        elif check.passed != should_pass:
            problems.append(
                f"gate {gate}: expected {'pass' if should_pass else 'fail'}, got {'pass' if check.passed else 'fail'}: {check.message}"
            )
    blocked = expected.error is not None or any(not expected.gates.get(g, True) for g in BLOCKING_CHECKS)
    if blocked:
        if REPORT in run.materialized:
            problems.append(f"{REPORT} materialized although a blocking gate failed or a step raised")
        if REPORT not in run.untouched_steps:
            problems.append(f"{REPORT} should be untouched (never started); untouched: {run.untouched_steps}")
    else:
        missing = [a for a in ASSET_NAMES if a not in run.materialized]
        if missing:
            problems.append(f"assets not materialized: {missing}")
    if expected.error is not None and (Path(run.out_dir) / f"{ENRICHED}.parquet").exists():
        problems.append(f"{ENRICHED}.parquet exists although the run failed: partial output left behind")
    return problems


def assert_job_as_expected(scenario: Scenario, run: "JobRun") -> None:
    """Raise `ScenarioMismatch` listing every difference between the job run and expected.yaml."""
    problems = job_mismatches(scenario, run)
    if problems:
        raise ScenarioMismatch(
            f"sbir_etl_job on scenario {scenario.name!r} differs from {scenario.expected_path}:\n"
            + "\n".join(problems)
            + "\n"
            + run.describe()
        )


@pytest.fixture
def sbir_materialize(tmp_path: Path) -> Callable[..., "JobRun"]:
    """`sbir_materialize(scenario_or_awards_path, recipients_path=None, *, config_path=None, overrides=None, quiet=True)`.

    Every call gets its own output directory and ephemeral Dagster instance under `tmp_path`.
    """
    calls = 0

    def run(source: "Scenario | str | Path", recipients_path: str | Path | None = None, **kwargs: Any) -> "JobRun":
        nonlocal calls
        calls += 1
        kwargs.setdefault("out_dir", tmp_path / f"sbir_etl_job-{calls}")
        return materialize(source, recipients_path, **kwargs)

    return run


__all__ = [
    "assert_job_as_expected",
    "job_mismatches",
    "job_outcome",
    "materialize",
    "sbir_materialize",
]
