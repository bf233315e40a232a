"""The metrics store: round trips, baseline queries, schema versioning and concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mounts import remount_read_only, tmpfs
from store_rows import run

from sbir_etl.monitoring.history import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    TestResult,
    current_machine_class,
    git_state,
)


def test_new_store_is_at_current_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_older_schema_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO runs (run_id, started_at, machine_class, python_version, packages_json,"
        " dataset_json) VALUES ('old', '2025-01-01', 'm', '3.11', '{}', '{}')"
    )
    conn.execute(
        "INSERT INTO results (run_id, test_id, outcome, wall_s, recorded_at)"
        " VALUES ('old', 't', 'passed', 2.0, '2025-01-01')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with HistoryStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        [stored] = store.results()
    assert stored.result.wall_s == 2.0
    assert stored.result.gate_status is None  # column added by migration 2


def test_a_file_that_is_not_a_database_is_a_history_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(HistoryError, match="not a database") as caught:
        HistoryStore(path)
    assert caught.value.exit_code == 2  # the user's input, as a corrupt input file is


def test_missing_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="does not exist") as caught:
        HistoryStore(tmp_path / "missing" / "h.sqlite")
    assert caught.value.exit_code == 2


@pytest.fixture
def read_only_store(tmp_path: Path) -> Iterator[Path]:
    """A store with one run, on a file system then remounted read-only (as a CI artifact or a
    read-only volume is)."""
    with tmpfs(tmp_path / "ro") as mount:
        with HistoryStore(mount / "h.sqlite") as store:
            store.record_run(run("r1", "2026-01-01T00:00:00+00:00"))
            store.record_result(TestResult("r1", "t", "passed", wall_s=1.0, gate_status="baseline established"))
        remount_read_only(mount)
        yield mount / "h.sqlite"


def test_readers_read_a_store_on_a_read_only_file_system(read_only_store: Path) -> None:
    """A reader opens no write transaction and does not switch the journal mode."""
    from sbir_etl.checklist import run_baseline
    from sbir_etl.monitoring.reporting import load_report
    from sbir_etl.outcomes import Status

    before = sorted(read_only_store.parent.iterdir())
    with HistoryStore(read_only_store, create=False) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [s.result.test_id for s in store.results()] == ["t"]
        with pytest.raises(HistoryError, match="readonly|read-only"):
            store.record_run(run("r2", "2026-01-02T00:00:00+00:00"))
    assert [r.test_id for r in load_report(read_only_store).latest_results] == ["t"]
    assert run_baseline(read_only_store).status is Status.PASS
    assert sorted(read_only_store.parent.iterdir()) == before


def test_a_reader_of_a_current_store_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        store.record_run(run("r1", "2026-01-01T00:00:00+00:00"))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")  # as a copy made with the sqlite3 shell's .backup is
    size, changed = path.stat().st_size, path.stat().st_mtime_ns
    with HistoryStore(path, create=False) as store:
        assert [r.run_id for r in store.runs()] == ["r1"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (size, changed)


def test_machine_class_names_os_architecture_cpus_and_ram() -> None:
    label = current_machine_class()
    assert label.endswith("gib") and "cpu-" in label


def test_git_state_outside_a_checkout_is_unknown(tmp_path: Path) -> None:
    assert git_state(tmp_path) == (None, None, None)


def test_git_state_of_a_checkout(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "feature")
    (tmp_path / "f.txt").write_text("1")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    commit, branch, dirty = git_state(tmp_path)
    assert len(commit or "") == 40 and branch == "feature" and dirty is False
    (tmp_path / "f.txt").write_text("2")
    assert git_state(tmp_path)[2] is True
