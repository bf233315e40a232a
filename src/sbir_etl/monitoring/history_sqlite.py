"""The embedded metrics store: one SQLite file (the default backend).

Why SQLite: it is in the standard library, a single file is easy to cache between CI jobs, and in
WAL mode several processes (pytest-xdist workers, two CI jobs sharing a volume) can write to it at
once. Every write is one short ``BEGIN IMMEDIATE`` transaction, retried while another writer holds
the lock, so concurrent writers wait for each other instead of losing rows. The schema version is
``PRAGMA user_version``; the write lock of the migration transaction is what keeps two processes
opening a new file from both migrating it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from sbir_etl.monitoring.history_backend import (
    HistoryError,
    HistoryLocationError,
    MissingReferenceError,
    Row,
    Transaction,
)

T = TypeVar("T")


class SQLiteBackend:
    """A store in the SQLite file at ``path``; ``create=False`` refuses a file that does not exist.

    One object per process: SQLite connections must not be shared between threads or forked
    processes.
    """

    def __init__(self, path: Path, *, lock_timeout_s: float, create: bool = True) -> None:
        self.path = path
        self.lock_timeout_s = lock_timeout_s
        if not create and not path.is_file():
            raise HistoryLocationError(f"no metrics store at {path}; run the tests with --sbir-history {path} first")
        if path.parent and not path.parent.exists():
            raise HistoryLocationError(
                f"cannot create the metrics store {path}: the directory "
                f"{path.parent} does not exist; create it or choose another path"
            )
        try:
            # isolation_level=None: this class issues BEGIN/COMMIT itself.
            self._conn = sqlite3.connect(
                _database(path, create), timeout=lock_timeout_s, isolation_level=None, uri=True
            )
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot open the metrics store {path}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_s * 1000)}")
            self._conn.execute("PRAGMA foreign_keys = ON")  # off by default, per connection
            if create:  # a writer's; a reader changes nothing (the mode is a property of the file)
                self._retrying(self._enable_wal)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    # -- transactions and queries ----------------------------------------------------------------

    def write(self, work: Callable[[Transaction], T]) -> T:
        """One short write transaction; ``BEGIN IMMEDIATE`` takes the write lock up front."""
        self._retrying(lambda: self._conn.execute("BEGIN IMMEDIATE"))
        try:
            result = work(self)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._retrying(lambda: self._conn.execute("COMMIT"))
        return result

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self._checked(lambda: self._conn.execute(sql, params))

    def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row: sqlite3.Row | None = self._checked(lambda: self._conn.execute(sql, params).fetchone())
        return row

    def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """All rows of one read query, retried while another process holds the lock."""
        rows: list[sqlite3.Row] = self._retrying(lambda: self._conn.execute(sql, params).fetchall())
        return list(rows)

    # -- the schema ----------------------------------------------------------------------------

    def lock_schema(self, tx: Transaction) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the file's write lock."""

    def read_version(self, tx: Transaction) -> int:
        row = tx.fetch_one("PRAGMA user_version")
        return 0 if row is None else int(row["user_version"])

    def write_version(self, tx: Transaction, version: int) -> None:
        tx.execute(f"PRAGMA user_version = {int(version)}")

    def schema_version(self) -> int:
        version: int = self._retrying(lambda: int(self._conn.execute("PRAGMA user_version").fetchone()[0]))
        return version

    def ddl(self, statement: str) -> str:
        """The migrations are written in SQLite's dialect."""
        return statement

    # -- internals -------------------------------------------------------------------------------

    def _enable_wal(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise HistoryError(
                f"the metrics store {self.path} cannot use write-ahead logging (journal mode "
                f"stays {mode!r}); concurrent writers would block each other. Put the store on "
                "a local file system (not NFS or a network share)."
            )

    def _checked(self, operation: Callable[[], T]) -> T:
        """A statement inside a transaction: its database errors become :class:`HistoryError`."""
        try:
            return operation()
        except sqlite3.IntegrityError as exc:
            error = MissingReferenceError if "FOREIGN KEY" in str(exc) else HistoryError
            raise error(f"metrics store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise HistoryError(f"metrics store {self.path}: {exc}") from exc

    def _retrying(self, operation: Callable[[], T]) -> T:
        """Run ``operation``, retrying while another process holds the database lock.

        ``busy_timeout`` already waits inside SQLite, but some lock conflicts (switching to WAL,
        a reader upgrading) return ``SQLITE_BUSY`` at once; those are retried here.
        """
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        while True:
            try:
                return operation()
            except sqlite3.DatabaseError as exc:
                message = str(exc)
                is_lock_conflict = isinstance(exc, sqlite3.OperationalError) and (
                    "locked" in message or "busy" in message
                )
                if not is_lock_conflict:
                    not_a_store = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB
                    error = HistoryLocationError if not_a_store else HistoryError
                    raise error(f"metrics store {self.path}: {message}") from exc
                if time.monotonic() >= deadline:
                    raise HistoryError(
                        f"the metrics store {self.path} stayed locked for more than "
                        f"{self.lock_timeout_s:.0f} s; another process is holding a write "
                        "transaction open"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)


def _database(path: Path, create: bool) -> str:
    """The URI to open: the file, or for a reader in a directory it cannot write (a read-only
    mount, a CI artifact) the file as *immutable*. SQLite opens a WAL file only where it can
    create the ``-shm`` index beside it; there, no writer can change the file either.
    """
    uri = f"file:{quote(str(path))}"
    if not create and not os.access(path.parent, os.W_OK) and not path.with_name(f"{path.name}-wal").exists():
        return f"{uri}?immutable=1"
    return uri


__all__ = ["SQLiteBackend"]
