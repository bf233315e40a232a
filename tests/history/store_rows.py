"""Rows for the metrics-store tests: a run to record, and a writer process."""

from __future__ import annotations

import textwrap

from sbir_etl.monitoring.history import RunInfo


def run(run_id: str, started_at: str, machine_class: str = "ci-small") -> RunInfo:
    """A run on `machine_class` with every field set."""
    return RunInfo(
        run_id=run_id,
        started_at=started_at,
        machine_class=machine_class,
        python_version="3.11.7",
        commit="abc123",
        branch="main",
        dirty=True,
        packages={"pandas": "3.1.1"},
        dataset={"awards": "1000"},
    )


# A process that records one run of `rows` results: python -c WRITER LOCATION WORKER ROWS
WRITER = textwrap.dedent(
    """
    import sys
    from sbir_etl.monitoring.history import HistoryStore, RunInfo, TestResult

    location, worker, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = HistoryStore(location)
    run = RunInfo(run_id=f"run-{worker}", started_at="2026-01-01T00:00:00+00:00",
                  machine_class="m", python_version="3")
    store.record_run(run)
    for i in range(rows):
        store.record_result(TestResult(run.run_id, f"test_{i}", "passed", wall_s=i / 10))
    store.close()
    """
)
