"""What only the PostgreSQL store has to prove: the same schema as SQLite, migrations under a lock,
no row lost by concurrent writers, a dropped connection survived, and no password in any message.
All against the session's real server (tests/pg_server.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import pq

from sbir_etl.monitoring.history import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    RunInfo,
    TestResult,
)
from sbir_etl.monitoring.history_postgres import DRIVER_EXTRA, MIGRATION_LOCK_KEY, VERSION_TABLE, PostgresBackend
from sbir_etl.monitoring.history_url import StoreURL
from tests.pg_server import PostgresServer

#: PostgreSQL type -> the SQLite declared type the same column has.
SQLITE_TYPE = {"bigint": "INTEGER", "integer": "INTEGER", "double precision": "REAL", "text": "TEXT"}


def columns_in_sqlite(path: Path, table: str) -> list[tuple[str, str, bool]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
    # A SQLite INTEGER PRIMARY KEY is never NULL even though table_info does not say so.
    return [(name, kind, bool(notnull) or bool(pk)) for _, name, kind, notnull, _, pk in rows]


def columns_in_postgres(url: str, table: str) -> list[tuple[str, str, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [(name, SQLITE_TYPE[kind], nullable == "NO") for name, kind, nullable in rows]


def run_info(run_id: str, machine_class: str = "m") -> RunInfo:
    return RunInfo(
        run_id=run_id, started_at="2026-01-01T00:00:00+00:00", machine_class=machine_class, python_version="3"
    )


def test_the_schema_is_the_sqlite_schema_column_for_column(tmp_path: Path, postgres_url: str) -> None:
    HistoryStore(tmp_path / "h.sqlite").close()
    HistoryStore(postgres_url).close()
    for table in ("runs", "results"):
        assert columns_in_postgres(postgres_url, table) == columns_in_sqlite(tmp_path / "h.sqlite", table)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchall() == [(SCHEMA_VERSION,)]
        indexes = {name for (name,) in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'results'")}
    assert "results_by_test" in indexes  # migration 2's index, created from the same statement


def test_an_older_store_is_migrated_keeping_its_rows(postgres_url: str) -> None:
    """A store left at schema version 1 by an older release, migrated by this one."""
    backend = PostgresBackend(StoreURL.parse(postgres_url), lock_timeout_s=5)

    def version_1(tx) -> None:  # what the release with only the first migration created
        for statement in MIGRATIONS[0]:
            tx.execute(backend.ddl(statement))
        backend.write_version(tx, 1)
        tx.execute(
            "INSERT INTO runs (run_id, started_at, machine_class, python_version, packages_json,"
            " dataset_json) VALUES ('old', '2025-01-01', 'm', '3.11', '{}', '{}')"
        )
        tx.execute(
            "INSERT INTO results (run_id, test_id, outcome, wall_s, recorded_at)"
            " VALUES ('old', 't', 'passed', 2.0, '2025-01-01')"
        )

    backend.write(version_1)
    backend.close()
    with HistoryStore(postgres_url) as store:
        assert store.schema_version == SCHEMA_VERSION
        [stored] = store.results()
    assert stored.result.wall_s == 2.0
    assert stored.result.gate_status is None  # a column migration 2 added


def test_recording_a_result_is_one_statement_and_three_round_trips(postgres_url: str, tmp_path: Path) -> None:
    """BEGIN, the INSERT, COMMIT: the foreign key, not a SELECT first, refuses a result of an unknown
    run (a round trip per recorded test counts when the server is across a network)."""
    with HistoryStore(postgres_url) as store:
        store.record_run(run_info("r1"))
        conn = store._backend._conn  # type: ignore[attr-defined]
        with (tmp_path / "trace").open("w+") as trace:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            store.record_result(TestResult("r1", "t", "passed", wall_s=1.0))
            conn.pgconn.untrace()
            trace.seek(0)
            messages = [line.split("\t")[2].split()[0] for line in trace if line.strip()]
    assert messages.count("ReadyForQuery") == 3  # the server answered three times: three round trips
    assert messages.count("Parse") == 1


def test_a_migration_in_progress_holds_back_a_second_opener_until_it_commits(postgres_url: str) -> None:
    """The advisory lock is what serialises migrations: while another session holds it, opening a
    new store waits, gives up after the lock timeout with a message, and succeeds once it is free."""
    holder = psycopg.connect(postgres_url)
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))  # opens a transaction
    started = time.monotonic()
    with pytest.raises(HistoryError, match="stayed locked for more than 1 s") as caught:
        HistoryStore(postgres_url, lock_timeout_s=1.0)
    assert 0.9 < time.monotonic() - started < 10
    assert "***" in str(caught.value)

    opened: list[HistoryStore] = []
    waiter = threading.Thread(target=lambda: opened.append(HistoryStore(postgres_url, lock_timeout_s=30)))
    waiter.start()
    time.sleep(0.5)
    assert opened == []  # still waiting for the lock
    holder.rollback()
    waiter.join(timeout=30)
    [store] = opened
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    holder.close()


def drop_store_connections(server: PostgresServer) -> int:
    """Terminate the store's connections, as a server restart or an idle-connection reaper would."""
    with server.connect() as admin:
        [(killed,)] = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'pytest-sbir-validate'"
        ).fetchall()
    return int(killed)


def test_a_connection_the_server_drops_is_replaced_without_losing_or_doubling_a_row(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    with HistoryStore(postgres_url) as store:
        store.record_run(run_info("r1"))
        assert drop_store_connections(postgres_server) == 1
        store.record_result(TestResult("r1", "t", "passed", wall_s=1.0))  # a write on a dropped connection
        assert drop_store_connections(postgres_server) == 1
        assert [s.result.test_id for s in store.results()] == ["t"]  # a read on a dropped connection


def test_a_wrong_password_is_a_history_error_that_does_not_show_the_password(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    wrong = postgres_url.replace(postgres_server.password, "not-the-password-4711")
    with pytest.raises(HistoryError) as caught:
        HistoryStore(wrong)
    message = str(caught.value)
    assert message.startswith("cannot connect to the metrics store postgresql://sbir_test:***@127.0.0.1:")
    assert "password authentication failed" in message
    assert "not-the-password-4711" not in message


def test_a_server_that_is_not_there_is_a_history_error(postgres_server: PostgresServer) -> None:
    with pytest.raises(
        HistoryError, match=r"cannot connect to the metrics store postgresql://sbir_test:\*\*\*@127.0.0.1:1/x"
    ) as caught:
        HistoryStore(f"postgresql://sbir_test:{postgres_server.password}@127.0.0.1:1/x")
    assert caught.value.exit_code == 1  # the environment: sbir-etl exits 1


def test_a_database_that_does_not_exist_is_named(postgres_server: PostgresServer) -> None:
    with pytest.raises(HistoryError, match='database "no_such_db" does not exist'):
        HistoryStore(postgres_server.url("no_such_db"))


def test_without_the_driver_the_message_names_the_extra_to_install(postgres_url: str) -> None:
    """psycopg made unimportable in a fresh interpreter, as on an install without the extra."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["psycopg"] = None  # what an absent package looks like to `import psycopg`
        from sbir_etl.monitoring.history import HistoryError, HistoryStore
        try:
            HistoryStore(sys.argv[1])
        except HistoryError as error:
            print(error)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, postgres_url], capture_output=True, text=True, timeout=60, check=True
    )
    message = completed.stdout.strip()
    assert message == (
        "the metrics store postgresql://sbir_test:***@" + postgres_url.split("@", 1)[1] + " is on PostgreSQL, "
        f"which needs the psycopg 3 driver: pip install '{DRIVER_EXTRA}'"
    )


def test_a_reader_with_select_privilege_only_can_read_the_store(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    """Reports and checklists can use a read-only role: opening a current store writes nothing."""
    with HistoryStore(postgres_url) as store:
        store.record_run(run_info("r1"))
        store.record_result(TestResult("r1", "t", "passed", wall_s=1.0))
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as owner:
        owner.execute("DROP ROLE IF EXISTS sbir_reader")
        owner.execute("CREATE ROLE sbir_reader LOGIN PASSWORD 'reader-pw'")
        owner.execute(f"GRANT CONNECT ON DATABASE {database} TO sbir_reader")
        owner.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO sbir_reader")
    reader_url = f"postgresql://sbir_reader:reader-pw@127.0.0.1:{postgres_server.port}/{database}"
    with HistoryStore(reader_url, create=False) as store:
        assert [s.result.test_id for s in store.results()] == ["t"]
        with pytest.raises(HistoryError, match="permission denied for table runs"):
            store.record_run(run_info("r2"))


def test_a_sqlite_history_copies_into_a_shared_store_as_docs_scale_out_shows(tmp_path: Path, postgres_url: str) -> None:
    old_path = tmp_path / "history.sqlite"
    with HistoryStore(old_path) as old:
        for i in range(3):
            old.record_run(run_info(f"r{i}", machine_class="box-a"))
            old.record_result(TestResult(f"r{i}", "t", "passed", wall_s=1.0 + i, recorded_at=f"2026-01-0{i + 1}"))
    # The snippet in docs/scale-out.md:
    with HistoryStore(old_path) as old, HistoryStore(postgres_url) as new:
        for run in old.runs():
            new.record_run(run)
        for stored in old.results():
            new.record_result(stored.result)
    with HistoryStore(old_path) as old, HistoryStore(postgres_url) as new:
        assert new.runs() == old.runs()
        assert new.results() == old.results()
