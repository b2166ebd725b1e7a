"""The SQLite backend of the registry's stores (the default): a database file in WAL mode with a busy
timeout, and `BEGIN IMMEDIATE` transactions, so the services and the CLI can share it."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.sql import SqlStore


class SqliteStore(SqlStore):
    """A database file (the location, a Path) with `schema`, opened lazily once per thread."""

    synchronous = "FULL"

    def _create_schema(self) -> None:
        self._connection().executescript(self.schema)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._location, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error (a failed COMMIT included); SQLite's own failures
        (disk full, read-only, locked for too long) are StorageErrors naming the file."""
        try:
            db = self._connection()
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
