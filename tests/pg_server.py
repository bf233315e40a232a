"""A real PostgreSQL server for the test session: no mocks, and no SQLite standing in for it.

The session starts one throwaway cluster (``initdb`` in a temp directory, ``postgres`` on a free
loopback port, fsync off) from the Debian server binaries in ``/usr/lib/postgresql/*/bin``
(``scripts/test`` installs the ``postgresql`` package when they are missing; ``$SBIR_PG_BIN``
points elsewhere), and stops and deletes it when the session ends. Starting it costs about 2 s,
and only sessions that use it pay. initdb and postgres refuse to run as root: as root, they run as
the ``postgres`` system user the Debian package creates, in a directory that user owns.

Missing binaries are an error, not a skip: a test that skips for want of its server is not a pass.

Fixtures: ``postgres_server`` (the session's :class:`PostgresServer`) and ``postgres_url`` (a
new, empty database for one test, as a ``postgresql://`` URL with a password in it). The
per-test databases sort text as a typical server does (ICU ``en-US``), not bytewise like SQLite.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

#: The cluster's superuser; its password is made anew for each session.
USER = "sbir_test"
SYSTEM_USER = "postgres"
START_TIMEOUT_S = 60


def server_binaries() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (the newest Debian version)."""
    override = os.environ.get("SBIR_PG_BIN")
    if override:
        candidates = [Path(override)]
    else:
        found = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for candidate in candidates:
        if all((candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return candidate
    raise RuntimeError(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in "
        f"{override or '/usr/lib/postgresql/*/bin'}: install the Debian package postgresql "
        "(scripts/test does so when run as root) or point $SBIR_PG_BIN at a bin directory"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A cluster in ``root`` (created, started, stopped and deleted by this object)."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root = root
        self.bin_dir = bin_dir
        self.data = root / "data"
        self.log = root / "server.log"
        self.password = secrets.token_hex(12)
        self.port = 0
        self._databases = 0
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root, but there is no {SYSTEM_USER!r} system user to run PostgreSQL as "
                    "(the Debian package postgresql creates it)"
                ) from None
            os.chown(root, owner.pw_uid, owner.pw_gid)
            self._as_owner = ["runuser", "-u", SYSTEM_USER, "--"]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_owner:
            shutil.chown(pwfile, user=SYSTEM_USER)
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8"),
            *("--locale=C.UTF-8", "--auth-host=scram-sha-256", "--auth-local=peer"),
        )
        pwfile.unlink()
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c max_connections=200"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            started = self._run(
                "pg_ctl",
                *("-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_S), "-o", options, "start"),
                check=False,
            )
            if started.returncode == 0:
                return
        raise RuntimeError(f"PostgreSQL did not start: {started.stdout}{started.stderr}\n{self._log_tail()}")

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ---------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True)

    def create_database(self, prefix: str = "store") -> str:
        """A new empty database collated as en-US (ICU); returns its URL."""
        self._databases += 1
        name = f"{prefix}_{self._databases}"
        with self.connect() as conn:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        return self.url(name)

    # -- internals ---------------------------------------------------------------------------

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [*self._as_owner, str(self.bin_dir / tool), *args],
            cwd=self.root,  # a directory the server's user may enter
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
            check=False,
        )
        if check and completed.returncode != 0:
            raise RuntimeError(f"{tool} failed ({completed.returncode}): {completed.stdout}{completed.stderr}")
        return completed

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no server log)"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use and stopped when the session ends."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="sbir-pg-")), server_binaries())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database for this test, as ``postgresql://sbir_test:PASSWORD@127.0.0.1:PORT/store_N``."""
    return postgres_server.create_database()
