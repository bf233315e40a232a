"""The same store on both backends: SQLite (a file) and PostgreSQL (the session's real server).

Each test here runs once per backend and asserts the same behaviour, so "the PostgreSQL store
behaves as the SQLite one" is checked, not assumed.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from store_rows import WRITER, run

from sbir_etl.monitoring.history import (
    SCHEMA_VERSION,
    BenchmarkStats,
    HistoryError,
    HistorySchemaError,
    HistoryStore,
    QualityMetrics,
    TestResult,
)
from sbir_etl.monitoring.history_postgres import VERSION_TABLE


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A location holding no store yet: a file path, or a new database on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "h.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url


def set_schema_version(location: str, version: int) -> None:
    """Write a schema version behind the store's back (as a newer release would)."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute(f"UPDATE {VERSION_TABLE} SET version = %s", (version,))
    else:
        with sqlite3.connect(location) as conn:
            conn.execute(f"PRAGMA user_version = {version}")


def tables(location: str) -> set[str]:
    """The tables at ``location`` (none when the SQLite file does not exist)."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            return {name for (name,) in rows}
    if not Path(location).exists():
        return set()
    with sqlite3.connect(location) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return {name for (name,) in rows}


def test_everything_recorded_reads_back_exactly(location: str) -> None:
    quality = QualityMetrics(
        match_rate=0.8234567890123,
        by_method={"uei-exact": 0.6},
        score_histogram={"90-100": 12},
        score_histogram_by_method={"uei-exact": {"95-100": 40}},
    )
    bench = BenchmarkStats(0.1, 0.3, 0.2, 0.2, 0.01, 0.02, rounds=5, iterations=1)
    result = TestResult(
        run_id="r1",
        test_id="tests/test_a.py::test_x[ünïcode]",
        outcome="passed",
        wall_s=0.1 + 0.2,  # 0.30000000000000004: a 4-byte float would lose it
        cpu_s=1e-300,
        peak_rss_growth_mib=40.0,
        time_budget_s=2.0,
        memory_budget_mib=None,
        quality=quality,
        gate_status="baseline established",
        gate_message="no earlier run",
        recorded_at="2026-01-01T00:00:01.000000+00:00",
        benchmark=bench,
    )
    with HistoryStore(location) as store:
        assert store.schema_version == SCHEMA_VERSION
        store.record_run(run("r1", "2026-01-01T00:00:00+00:00"))
        store.record_result(result)
    with HistoryStore(location) as store:  # a second connection: what was committed, not a cache
        assert store.runs() == [run("r1", "2026-01-01T00:00:00+00:00")]
        [stored] = store.results()
    assert stored.result == result
    assert stored.run.dirty is True


def test_the_baseline_is_the_newest_passed_runs_of_the_same_machine_class(location: str) -> None:
    with HistoryStore(location) as store:
        for i in range(7):
            store.record_run(run(f"r{i}", f"2026-01-0{i + 1}T00:00:00+00:00"))
            store.record_result(TestResult(f"r{i}", "t", "failed" if i == 5 else "passed", wall_s=float(i)))
        store.record_run(run("other", "2026-01-09T00:00:00+00:00", machine_class="big"))
        store.record_result(TestResult("other", "t", "passed", wall_s=99.0))

        assert [r.wall_s for r in store.previous_results("t", machine_class="ci-small", limit=3)] == [6.0, 4.0, 3.0]
        excluding = store.previous_results("t", machine_class="ci-small", limit=3, exclude_run_id="r6")
        assert [r.wall_s for r in excluding] == [4.0, 3.0, 2.0]
        assert [s.result.wall_s for s in store.results(run_id="other")] == [99.0]
        assert len(store.results(test_id="t")) == 8


def test_runs_are_ordered_bytewise_like_sqlite(location: str) -> None:
    """Timestamps with and without microseconds, and mixed case: a server collation such as en-US
    sorts ``+`` after ``.`` and ignores case first; the store sorts as SQLite does."""
    started = [
        "2026-01-01T00:00:00.000001+00:00",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00.5+00:00",
        "2026-01-02T00:00:00+00:00",
    ]
    with HistoryStore(location) as store:
        for i, at in enumerate(started):
            store.record_run(run(f"r{i}", at))
            store.record_result(TestResult(f"r{i}", "t", "passed", wall_s=float(i)))
        assert [r.started_at for r in store.runs()] == sorted(started)
        newest_first = [r.wall_s for r in store.previous_results("t", machine_class="ci-small", limit=4)]
    assert newest_first == [float(started.index(at)) for at in sorted(started, reverse=True)]


def test_a_result_of_an_unknown_run_is_refused(location: str) -> None:
    with HistoryStore(location) as store:
        with pytest.raises(HistoryError, match="call record_run"):
            store.record_result(TestResult(run_id="nope", test_id="t", outcome="passed"))
        assert store.results() == []


def test_a_run_recorded_twice_is_a_history_error(location: str) -> None:
    with HistoryStore(location) as store:
        store.record_run(run("r1", "2026-01-01T00:00:00+00:00"))
        with pytest.raises(HistoryError, match="UNIQUE|unique"):
            store.record_run(run("r1", "2026-01-01T00:00:00+00:00"))
        assert len(store.runs()) == 1


def test_a_new_store_holds_the_runs_and_results_tables(location: str) -> None:
    HistoryStore(location).close()
    expected = {"runs", "results"} | ({VERSION_TABLE} if location.startswith("postgresql://") else set())
    assert tables(location) == expected


def test_a_store_of_a_newer_version_is_refused(location: str) -> None:
    HistoryStore(location).close()
    set_schema_version(location, SCHEMA_VERSION + 1)
    with pytest.raises(HistorySchemaError, match=f"schema version {SCHEMA_VERSION + 1}.*Upgrade pytest-sbir-validate"):
        HistoryStore(location)


def test_a_reader_refuses_a_location_without_a_store_and_creates_nothing(location: str) -> None:
    with pytest.raises(HistoryError, match="no metrics store at .*; run the tests with --sbir-history") as caught:
        HistoryStore(location, create=False)
    if location.startswith("postgresql://"):  # what to run is the user's own URL: a redacted one would not connect
        assert "***" not in str(caught.value).partition("; ")[2]
    assert tables(location) == set()
    with HistoryStore(location) as store:  # the writer creates it, then the reader opens it
        store.record_run(run("r1", "2026-01-01T00:00:00+00:00"))
    with HistoryStore(location, create=False) as store:
        assert [r.run_id for r in store.runs()] == ["r1"]


def test_runs_with_results_leave_out_runs_that_recorded_no_test(location: str) -> None:
    with HistoryStore(location) as store:
        for i in range(3):
            store.record_run(run(f"r{i}", f"2026-01-0{i + 1}T00:00:00+00:00"))
        store.record_result(TestResult("r0", "t", "passed", wall_s=1.0))
        store.record_result(TestResult("r1", "t", "passed", wall_s=1.0))
        store.record_result(TestResult("r1", "u", "passed", wall_s=1.0))
        assert [r.run_id for r in store.runs()] == ["r0", "r1", "r2"]
        assert [r.run_id for r in store.runs(with_results=True)] == ["r0", "r1"]


def test_concurrent_writer_processes_create_migrate_and_write_one_new_store_losing_no_row(location: str) -> None:
    writers, rows = 4, 60
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, location, str(w), str(rows)]) for w in range(writers)]
    assert [p.wait(timeout=120) for p in processes] == [0] * writers
    with HistoryStore(location) as store:
        assert len(store.runs()) == writers
        results = store.results()
    assert len(results) == writers * rows
    assert len({(s.result.run_id, s.result.test_id) for s in results}) == writers * rows
    if location.startswith("postgresql://"):  # migrated once: one version row, not one per process
        with psycopg.connect(location) as conn:
            assert conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchall() == [(SCHEMA_VERSION,)]
