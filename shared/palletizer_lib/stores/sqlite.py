"""The SQLite backend of the registry's stores (the default): a database file in WAL mode with a busy
timeout, and `BEGIN IMMEDIATE` transactions, so the services and the CLI can share it.

A migration runs in one such transaction: it holds the file's write lock, which every writer of the file
takes (the download counts' included), and SQLite changes a schema within a transaction.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import cast

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.schema import SQLITE
from palletizer_lib.stores.sql import Connection, SqlStore


class SqliteStore(SqlStore):
    """A database file (the location, a Path) with `schema`, opened lazily once per thread."""

    synchronous = "FULL"
    dialect = SQLITE

    def _where(self) -> str:
        return str(self._location)

    def _migration_lock(self) -> AbstractContextManager[Connection]:
        return self._transaction()

    def _connect(self) -> Connection:
        db = sqlite3.connect(self._location, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error (a failed COMMIT included); SQLite's own failures
        (disk full, read-only, locked for too long) are StorageErrors naming the file."""
        try:
            db = cast(sqlite3.Connection, self._connection())
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise StorageError(f"could not write {self._location.name}: {exc}") from exc
