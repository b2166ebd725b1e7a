"""What the registry's SQL stores share whatever the database: one connection per thread, the schema brought
to its newest version at open, and transactions, one per change or one around a `batch` of them.

At open, a store reads the version its database has reached of its schema (`schema.Schema`); if it is behind,
the store takes the database's write lock (a backend's), reads the version again, runs the migrations still
missing and records the new version, all in one transaction: of several processes starting at once, one
migrates and the others find it done, and a failed migration leaves the database as it was. A database newer
than the code is a StorageError saying both versions, never downgraded.

A backend (`sqlite.SqliteStore`, `postgres.PostgresStore`) says how to connect, how to spell the schema's SQL
(its `Dialect`), how to run one transaction and which lock a migration holds; the stores' SQL is written once,
with `?` and `:name` placeholders.
"""

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.schema import Dialect, Schema, statements

log = logging.getLogger("palletizer.schema")


class Connection(Protocol):
    """What the stores use of a connection (sqlite3's, or the PostgreSQL backend's that takes the same SQL)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...


_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
_RECORD_VERSION = (
    "INSERT INTO schema_version (name, version) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET version = excluded.version"
)


def recorded_version(db: Connection, schema: Schema, dialect: Dialect, where: str) -> int:
    """The version of `schema` the database at `where` has reached (0: none recorded, as in a new database
    or one made before versions were recorded); a StorageError if it is newer than this code knows."""
    if db.execute(dialect.table_exists, ("schema_version",)).fetchone() is None:
        return 0
    row = db.execute("SELECT version FROM schema_version WHERE name = ?", (schema.name,)).fetchone()
    version = row[0] if row is not None else 0
    if version > schema.version:
        raise StorageError(
            f"{where} holds version {version} of the {schema.name} schema, but this Palletizer "
            f"knows versions up to {schema.version}: run the Palletizer that wrote it, or a newer "
            f"one (a database is never downgraded)"
        )
    return version


def migrate(db: Connection, schema: Schema, dialect: Dialect, where: str) -> list[int]:
    """Run on `db` the migrations of `schema` it lacks and record its new version, in the caller's transaction
    (which holds the database's write lock); the numbers of the migrations run."""
    reached = recorded_version(db, schema, dialect, where)
    missing = list(range(reached + 1, schema.version + 1))
    if not missing:
        return []
    db.execute(_VERSION_TABLE)
    for number in missing:
        for statement in statements(dialect.fill(schema.migrations[number - 1])):
            db.execute(statement)
    db.execute(_RECORD_VERSION, (schema.name, schema.version))
    log.info("%s: the %s schema migrated from version %d to %d", where, schema.name, reached, schema.version)
    return missing


class SqlStore:
    """A database holding `schema`, at `location` (a backend's), connected lazily once per thread."""

    schema: Schema
    dialect: Dialect

    def __init__(self, location: Any) -> None:
        self._location = location
        self._local = threading.local()
        self._migrate()

    def _migrate(self) -> None:
        """Bring the database to the newest version of `schema`: checked without a lock, migrated under the
        database's write lock (`_migration_lock`), where the version is read again."""
        if recorded_version(self._connection(), self.schema, self.dialect, self._where()) < self.schema.version:
            with self._migration_lock() as db:
                migrate(db, self.schema, self.dialect, self._where())

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

    def _where(self) -> str:
        """The database, as errors name it."""
        raise NotImplementedError

    def _migration_lock(self) -> AbstractContextManager[Connection]:
        """One transaction holding the lock under which the schema is migrated."""
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError
