"""The base of the registry's SQLite stores: one connection per thread, WAL mode, busy timeout,
and `BEGIN IMMEDIATE` transactions, so the services and the CLI can share a database file."""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StorageError


class SqliteStore:
    """A database file with `schema`, opened lazily once per thread."""

    schema = ""
    synchronous = "FULL"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._connection().executescript(self.schema)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction around every change this thread makes within (for bulk writes): all of them are
        committed at the end, or none if it raises."""
        with self._db():
            self._local.batched = True
            try:
                yield
            finally:
                self._local.batched = False

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error, a failed COMMIT included), or,
        within `batch`, a part of the batch's.

        SQLite's own failures (disk full, read-only, locked for too long) are StorageErrors naming the file.
        """
        if getattr(self._local, "batched", False):
            yield self._connection()
            return
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
            raise StorageError(f"could not write {self._path.name}: {exc}") from exc
