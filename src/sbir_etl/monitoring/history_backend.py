"""The interface between the metrics store and the database holding it.

:class:`~sbir_etl.monitoring.history.HistoryStore` owns the schema, the migrations and every
query; a backend owns what differs between databases: connecting, the write transaction and its
retry rule, where the schema version is kept, the lock that serialises migrations, and the few
type spellings of the DDL. Two backends implement it: SQLite (:mod:`.history_sqlite`, the
embedded default) and PostgreSQL (:mod:`.history_postgres`, a store many machines share).

Queries are written once, with ``?`` placeholders; a backend whose driver wants another style
translates them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sbir_etl.errors import BAD_INPUT_EXIT, EnrichmentError


class HistoryError(EnrichmentError):
    """The metrics store could not be read or written: unreachable, locked, refused (the
    environment: ``sbir-etl`` exits 1)."""


class HistoryLocationError(HistoryError):
    """The location names no usable store: an unsupported URL, no store there, a directory that
    does not exist, a file that is not a store (the user's input: ``sbir-etl`` exits 2)."""

    exit_code = BAD_INPUT_EXIT


class HistorySchemaError(HistoryLocationError):
    """The store's schema version is one this code cannot read."""


class MissingReferenceError(HistoryError):
    """A row names a row of another table that is not there (a result of a run never recorded):
    the database's foreign key refused it."""


class Row(Protocol):
    """A result row, read by column name (``sqlite3.Row`` or a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Transaction(Protocol):
    """The statements of one write transaction."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> None: ...

    def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None: ...


T = TypeVar("T")


class Backend(Protocol):
    """One open connection to a store's database.

    ``write`` runs ``work`` in one short transaction, waiting (up to the store's lock timeout)
    while other writers hold the lock, and retrying the whole transaction when the database
    reports a conflict that a retry resolves; database errors become :class:`HistoryError`, a
    foreign key violation :class:`MissingReferenceError`.
    ``lock_schema`` is the first statement of the migration transaction: it keeps two processes
    opening a new store at once from both migrating it.
    """

    def write(self, work: Callable[[Transaction], T]) -> T: ...

    def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    def lock_schema(self, tx: Transaction) -> None: ...

    def read_version(self, tx: Transaction) -> int: ...

    def write_version(self, tx: Transaction, version: int) -> None: ...

    def schema_version(self) -> int: ...

    def ddl(self, statement: str) -> str: ...

    def close(self) -> None: ...


__all__ = [
    "Backend",
    "HistoryError",
    "HistoryLocationError",
    "HistorySchemaError",
    "MissingReferenceError",
    "Row",
    "Transaction",
]
