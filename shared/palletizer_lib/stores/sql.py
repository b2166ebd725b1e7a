"""What the registry's SQL stores share whatever the database: one connection per thread, the schema created
at open, and transactions, one per change or one around a `batch` of them.

A backend (`sqlite_store.SqliteStore`, `postgres_store.PostgresStore`) says how to connect, how to create the
schema and how to run one transaction; the stores' SQL is written once, with `?` and `:name` placeholders.
"""

import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol


class Connection(Protocol):
    """What the stores use of a connection (sqlite3's, or the PostgreSQL backend's that takes the same SQL)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...


class SqlStore:
    """A database holding `schema`, at `location` (a backend's), connected lazily once per thread."""

    schema = ""

    def __init__(self, location: Any) -> None:
        self._location = location
        self._local = threading.local()
        self._create_schema()

    def _connection(self) -> Connection:
        """This thread's connection (made on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def transaction(self) -> AbstractContextManager[Connection]:
        """One transaction on this thread's connection, for code reading or writing the tables themselves
        (as copying a registry's tables does)."""
        return self._db()

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
    def _db(self) -> Iterator[Connection]:
        """One transaction (committed at the end, rolled back on error), or, within `batch`, a part of the
        batch's. The database's own failures are StorageErrors."""
        if getattr(self._local, "batched", False):
            yield self._connection()
            return
        with self._transaction() as db:
            yield db

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """Where to run one read statement: by default a transaction as `_db` gives; a backend may run it
        on its own instead (PostgreSQL: without taking the store's lock)."""
        with self._db() as db:
            yield db

    def _connect(self) -> Connection:
        raise NotImplementedError

    def _create_schema(self) -> None:
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError
