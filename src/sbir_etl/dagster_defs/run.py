"""Materialize `sbir_etl_job` in-process and summarise what happened, for the CLI and for tests."""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from sbir_etl.dagster_defs.definitions import JOB_NAME, build_definitions
from sbir_etl.dagster_defs.resources import EnrichmentSettings, SbirEtlPaths
from sbir_etl.errors import ConfigError
from sbir_etl.outcomes import Outcome, Severity, Status

SHARDED_MODULE = "sbir_etl.dagster_defs.sharded"
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class CheckOutcome(Outcome):
    """One asset-check evaluation: the gate's outcome, on which asset, and how much it blocks."""

    asset: str = field(kw_only=True)
    severity: Severity = field(kw_only=True)


@dataclass(frozen=True)
class StepFailure:
    """A step that raised: the exception class name and message of the underlying (user) error."""

    step: str
    error_type: str
    message: str


@dataclass
class JobRun:
    """The result of one `sbir_etl_job` run.

    `untouched_steps` are steps of the job that never started: downstream of a failed blocking gate
    or of a failed step. `asset_values` hold what each materialized asset returned (table paths).
    """

    success: bool
    out_dir: Path
    run_id: str
    materialized: list[str] = field(default_factory=list)
    asset_values: dict[str, Any] = field(default_factory=dict)
    asset_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, CheckOutcome] = field(default_factory=dict)
    failed_steps: dict[str, StepFailure] = field(default_factory=dict)
    untouched_steps: list[str] = field(default_factory=list)
    log_messages: list[str] = field(default_factory=list)
    """What the assets logged (`context.log`), in order: effective config and its sources, progress."""
    job: str = JOB_NAME
    run_error: str | None = None
    """Why the run itself failed outside any step (an executor that could not start, e.g. an
    unreachable Dask scheduler): the error's class and message; None when it did not."""

    def path(self, asset: str) -> Path:
        """The file a materialized asset wrote; raises KeyError naming what did materialize."""
        if asset not in self.asset_values:
            raise KeyError(f"asset {asset!r} did not materialize in this run; materialized: {self.materialized}")
        return Path(self.asset_values[asset])

    @property
    def failed_checks(self) -> list[str]:
        return sorted(name for name, check in self.checks.items() if not check.passed)

    def describe(self) -> str:
        """A few lines saying what ran, what failed and why (for assertion messages and the CLI)."""
        lines = [
            f"{self.job} run {self.run_id}: {'success' if self.success else 'FAILED'}",
            f"  materialized: {', '.join(self.materialized) or '(none)'}",
        ]
        lines += [
            f"  check {c.name} on {c.asset}: {'pass' if c.passed else 'FAIL'} [{c.severity.value}] {c.message}"
            for c in self.checks.values()
        ]
        lines += [f"  step {f.step} failed: {f.error_type}: {f.message}" for f in self.failed_steps.values()]
        if self.run_error and not self.failed_steps:
            lines.append(f"  run failed: {self.run_error}")
        if self.untouched_steps:
            lines.append(f"  not run: {', '.join(self.untouched_steps)}")
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    """MetadataValue -> plain Python value."""
    return value.value if isinstance(value, dg.MetadataValue) else value


def _root_error(error: Any) -> tuple[str, str]:
    """Dagster wraps user errors; return the class name and message of the innermost cause."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    name, message = error.cls_name or "Error", error.message.strip()
    prefix, _, rest = message.partition(": ")
    return name, rest if prefix.rsplit(".", 1)[-1] == name and rest else message


def summarize(result: Any, out_dir: Path, instance: dg.DagsterInstance | None = None) -> JobRun:
    """Turn Dagster's result (in-process, or of `execute_job` on any executor) into a `JobRun`."""
    run = JobRun(success=result.success, out_dir=out_dir, run_id=result.run_id, job=result.job_def.name)
    if instance is not None:
        run.log_messages = [
            e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None and e.user_message
        ]
    for event in result.get_asset_materialization_events():
        key = event.materialization.asset_key
        name = key.to_user_string()
        run.materialized.append(name)
        run.asset_metadata[name] = {k: _plain(v) for k, v in event.materialization.metadata.items()}
        # Another executor's result holds no values: each asset's metadata names the table it wrote.
        in_process = isinstance(result, dg.ExecuteInProcessResult)
        run.asset_values[name] = result.asset_value(key) if in_process else run.asset_metadata[name]["table_path"]
    for evaluation in result.get_asset_check_evaluations():
        run.checks[evaluation.check_name] = CheckOutcome(
            name=evaluation.check_name,
            status=Status.of(bool(evaluation.passed)),
            message=evaluation.description or "",
            metadata={k: _plain(v) for k, v in evaluation.metadata.items()},
            asset=evaluation.asset_key.to_user_string(),
            severity=Severity(evaluation.severity.value),
        )
    for event in result.get_step_failure_events():
        error_type, message = _root_error(event.step_failure_data.error)
        step = event.step_key or "(unknown step)"
        run.failed_steps[step] = StepFailure(step, error_type, message)
    run.run_error = _run_error(result)
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    planned = _planned_steps(result)
    run.untouched_steps = [step for step in planned if step not in started]
    return run


def _run_error(result: Any) -> str | None:
    """The error of the run's failure event, when the run failed with one (not just because a step did)."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None) if event.is_run_failure else None
        if error is not None:
            return error.message.strip()
    return None


def _planned_steps(result: Any) -> list[str]:
    """The steps of the job in dependency order: its ops, and the ops inside graph-backed assets."""
    steps: list[str] = []
    for node in result.job_def.nodes_in_topological_order:
        inner = getattr(node.definition, "nodes_in_topological_order", None)
        steps += [f"{node.name}.{op.name}" for op in inner] if inner else [node.name]
    return steps


def run_job(
    awards_path: str | Path,
    recipients_path: str | Path,
    out_dir: str | Path,
    config_path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    use_environment: bool = True,
    incremental: bool = False,
    instance_dir: str | Path | None = None,
    instance: dg.DagsterInstance | None = None,
    quiet: bool = True,
) -> JobRun:
    """Materialize `sbir_etl_job` on the given files, writing its tables to `out_dir`.

    Runs in-process against `instance` when given (e.g. `DagsterInstance.get()` or
    `DagsterInstance.from_config(dir)` with run and event storage on PostgreSQL; the caller keeps
    it open and closes it), else against an ephemeral instance stored in `instance_dir` (default
    `out_dir/.dagster`). Never raises for a failing step or gate: inspect `JobRun.success`,
    `failed_steps` and `checks`. `quiet` keeps Dagster's console logging to errors only.
    `incremental` enriches only what changed since the last run in `out_dir` (`enrich_files`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    defs = build_definitions(
        SbirEtlPaths(awards_path=str(awards_path), recipients_path=str(recipients_path), out_dir=str(out_dir)),
        EnrichmentSettings(
            config_path=str(config_path) if config_path else None,
            overrides={k: str(v) for k, v in (overrides or {}).items()},
            use_environment=use_environment,
            incremental=incremental,
        ),
    )
    job = defs.resolve_job_def(JOB_NAME)
    with _instance(instance, instance_dir or out_dir / ".dagster", for_workers=False) as active, _logging(quiet):
        result = job.execute_in_process(
            instance=active, raise_on_error=False, run_config=QUIET_RUN_CONFIG if quiet else None
        )
        return summarize(result, out_dir, active)


@contextmanager
def _instance(
    given: dg.DagsterInstance | None, directory: str | Path, *, for_workers: bool
) -> Iterator[dg.DagsterInstance]:
    """The caller's instance (left open), or one stored in `directory` and closed after the run:
    ephemeral for an in-process run, `local_temp` when step processes must open it too."""
    if given is not None:
        yield given
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    make = dg.DagsterInstance.local_temp if for_workers else dg.DagsterInstance.ephemeral
    with make(tempdir=str(directory)) as instance:
        yield instance


@contextmanager
def _logging(quiet: bool) -> Iterator[None]:
    """Dagster's console logging limited to errors for the run when `quiet`, restored after it."""
    logger = logging.getLogger("dagster")
    previous = logger.level
    if quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def executor_run_config(executor: str, workers: int, dask_address: str | None = None) -> dict[str, Any]:
    """The `execution` run config of the named executor with `workers` parallel steps.

    Multiprocess: steps forked from a server that imported Dagster and the job's module once
    (a spawned step process spends seconds importing them). Dask: a `LocalCluster` of `workers` single-threaded worker processes (Dagster is not
    thread-safe), without its dashboard or its per-worker memory limit (a shard's peak is its
    index, not a leak to restart it for), or the scheduler at `dask_address` when given.
    """
    if executor == "multiprocess":
        preload = {"forkserver": {"preload_modules": [SHARDED_MODULE]}}
        return {"execution": {"config": {"max_concurrent": workers, "start_method": preload}}}
    if executor == "dask":
        local = {"n_workers": workers, "threads_per_worker": 1, "dashboard_address": None, "memory_limit": 0}
        cluster = {"existing": {"address": dask_address}} if dask_address else {"local": local}
        return {"execution": {"config": {"cluster": cluster}}}
    return {}


def run_sharded_job(
    awards_path: str | Path,
    recipients_path: str | Path,
    out_dir: str | Path,
    config_path: str | Path | None = None,
    *,
    shards: int,
    executor: str = "in_process",
    workers: int | None = None,
    dask_address: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    use_environment: bool = True,
    instance_dir: str | Path | None = None,
    instance: dg.DagsterInstance | None = None,
    quiet: bool = True,
) -> JobRun:
    """Materialize `sbir_etl_sharded_job`: the enrichment in `shards` award shards on `executor`.

    The same tables as `run_job` (the enriched one identical, row for row), and the same
    `JobRun`. Executors other than `in_process` run steps in other processes, which rebuild the
    job from its arguments and share a persistent instance: `instance` when given (the caller
    keeps it open), else one stored in `instance_dir` (default `out_dir/.dagster`). `workers`
    (default: one per shard) bounds the steps running at once.
    """
    from sbir_etl.dagster_defs.sharded import check_executor, reconstructable_sharded_job

    if shards < 1:
        raise ConfigError(f"shards: must be at least 1, got {shards}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers: must be at least 1, got {workers}")
    check_executor(executor)
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    job = reconstructable_sharded_job(
        shards=shards,
        executor=executor,
        awards_path=str(Path(awards_path).absolute()),
        recipients_path=str(Path(recipients_path).absolute()),
        out_dir=str(out_dir),
        config_path=str(Path(config_path).absolute()) if config_path else None,
        overrides={k: str(v) for k, v in (overrides or {}).items()},
        use_environment=use_environment,
    )
    run_config = {
        **(QUIET_RUN_CONFIG if quiet else {}),
        **executor_run_config(executor, workers or shards, dask_address),
    }
    with (
        _instance(instance, instance_dir or out_dir / ".dagster", for_workers=True) as active,
        _logging(quiet),
        dg.execute_job(job, instance=active, run_config=run_config, raise_on_error=False) as result,
    ):
        return summarize(result, out_dir, active)
