"""`sbir_etl_job` on a Dagster instance whose storage is PostgreSQL (`dagster-postgres`), as a
deployment shared by many workers runs it, on the session's real server (tests/pg_server.py).

Not a `smoke` test: `pytest -m smoke` (and so `sbir-etl checklist`) must not need a database.

The URL in dagster.yaml names the driver, `postgresql+psycopg2://`: dagster-postgres is written
for psycopg2 (it binds NOTIFY's payload as a parameter, which psycopg 3 sends to the server as
`$1`, a syntax error), and SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3 when that is
installed, as it is with this package's `postgres` extra.
"""

from pathlib import Path

import dagster as dg
import psycopg
import yaml

from sbir_etl.bundled import DEFAULT_SCENARIO
from sbir_etl.dagster_defs import run_job
from tests.pg_server import PostgresServer


def test_sbir_etl_job_records_its_run_and_assets_in_a_postgres_instance(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.create_database("dagster")
    home = tmp_path / "dagster_home"
    home.mkdir()
    dagster_url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": {"postgres": {"postgres_url": dagster_url}}}))

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = run_job(
            DEFAULT_SCENARIO / "awards.csv", DEFAULT_SCENARIO / "recipients.csv", tmp_path / "out", instance=instance
        )
    assert run.success, run.describe()
    assert "enriched_sbir_awards" in run.materialized and run.failed_checks == []
    assert run.log_messages  # read back from the instance's event log

    # Another process's view: a new instance on the same storage sees the run and its assets.
    with dg.DagsterInstance.from_config(str(home)) as again:
        record = again.get_run_by_id(run.run_id)
        assert record is not None and record.status == dg.DagsterRunStatus.SUCCESS
        event = again.get_latest_materialization_event(dg.AssetKey("enriched_sbir_awards"))
        assert event is not None and event.run_id == run.run_id
    with psycopg.connect(url) as conn:  # and it is PostgreSQL holding them, not a local file
        [(status,)] = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run.run_id,)).fetchall()
        [(events,)] = conn.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run.run_id,)).fetchall()
    assert status == "SUCCESS" and events > 10
    assert not (tmp_path / "out" / ".dagster").exists()  # no ephemeral instance was made beside it
