"""The PostgreSQL backend of the registry's stores, for several nodes sharing one database: a connection per
thread (reconnected when broken), bounded waits (connect_timeout; statement_timeout, which also bounds waiting
for a lock; TCP keepalives and a user timeout for a server gone silent), and each transaction serialised per
store with an advisory lock, as SQLite's `BEGIN IMMEDIATE` does, so the stores' rules hold across nodes
unchanged (a read of one statement takes no lock: it is consistent alone). The schema is migrated at open in
one transaction holding the registry's write lock (`WRITE_LOCK`, which `postgres_index.PgIndex.write_lock`
holds across a change): nodes starting at once take turns, and never migrate in the middle of a change.

The stores' SQL is SQLite's, with `?` and `:name` placeholders; they are translated here. psycopg is imported
only when such a store is opened. Every PostgreSQL failure is a StorageError naming the server, never the
password.
"""

import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.schema import POSTGRES
from palletizer_lib.stores.sql import SqlStore

CONNECT_TIMEOUT = 10
STATEMENT_TIMEOUT_MS = 30_000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
TCP_USER_TIMEOUT_MS = 60_000  # a server gone silent (no reset) ends a call too, not only a slow statement
WRITE_LOCK = 0x70616C6C7772  # advisory lock keys: the registry's write lock, and one per store (`lock_key`)
_TOKEN = re.compile(r"'[^']*'|::|\?|:(\w+)|%")


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """`sql` with SQLite's placeholders (`?`, `:name`) as psycopg's (`%s`, `%(name)s`) and `%` doubled;
    string literals and `::` casts are left as they are."""

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'") or text == "%":
            return text.replace("%", "%%")
        if text == "::":
            return text
        return "%s" if text == "?" else f"%({match.group(1)})s"

    return _TOKEN.sub(token, sql)


def describe(url: str) -> str:
    """Where `url` points (host, port, database), without its user or password."""
    try:
        split = urlsplit(url)
        port = f":{split.port}" if split.port else ""
        return f"{split.hostname or 'localhost'}{port}{split.path or '/'}"
    except ValueError:
        return "(an unreadable database URL)"


def storage_error(where: str, exc: Exception) -> StorageError:
    """A psycopg failure as the library's error, on one line."""
    detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
    return StorageError(f"PostgreSQL at {where}: {detail}")


class PostgresConnection:
    """A psycopg connection taking the stores' SQL; its failures are StorageErrors."""

    def __init__(self, raw: Any, where: str) -> None:
        self.raw = raw
        self._where = where

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        """Run one statement; the cursor, its rows fetched."""
        import psycopg

        try:
            return self.raw.execute(translate(sql), parameters)
        except psycopg.Error as exc:
            raise storage_error(self._where, exc) from exc

    def executemany(self, sql: str, parameters: Iterable[Any]) -> Any:
        """Run one statement for each set of parameters."""
        import psycopg

        try:
            cursor = self.raw.cursor()
            cursor.executemany(translate(sql), list(parameters))
            return cursor
        except psycopg.Error as exc:
            raise storage_error(self._where, exc) from exc

    @property
    def usable(self) -> bool:
        """False once the connection is closed or broken (the server went away)."""
        return not (self.raw.closed or self.raw.broken)


_THREAD = threading.local()


def _close_thread_connections() -> None:
    """Close the connections of the thread about to fork: a child must not share their sockets."""
    for db in _THREAD.__dict__.pop("connections", {}).values():
        db.raw.close()


os.register_at_fork(before=_close_thread_connections)


class PostgresStore(SqlStore):
    """A PostgreSQL database (the location, a `postgresql://` URL) with `schema`; each transaction holds the
    advisory lock `lock_key` (stores sharing tables share a key)."""

    lock_key = 0
    dialect = POSTGRES

    def _connection(self) -> PostgresConnection:
        """This thread's connection to the database, shared by every store of it (so a node holds one per
        thread, not one per store and thread); made again once broken."""
        connections = _THREAD.__dict__.setdefault("connections", {})
        db: PostgresConnection | None = connections.get(self._location)
        if db is None or not db.usable:
            db = connections[self._location] = self._connect()
        return db

    def _connect(self) -> PostgresConnection:
        import psycopg

        where = describe(self._location)
        options = (
            f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
            f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
        )
        try:
            raw = psycopg.connect(
                self._location,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                options=options,
                application_name="palletizer",
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
                tcp_user_timeout=TCP_USER_TIMEOUT_MS,
            )
        except psycopg.Error as exc:
            raise storage_error(where, exc) from exc
        return PostgresConnection(raw, where)

    def _where(self) -> str:
        return f"PostgreSQL at {describe(self._location)}"

    def _migration_lock(self) -> AbstractContextManager[PostgresConnection]:
        return self._locked(WRITE_LOCK)

    @contextmanager
    def _transaction(self) -> Iterator[PostgresConnection]:
        with self._locked(self.lock_key) as db:
            yield db

    @contextmanager
    def _read(self) -> Iterator[PostgresConnection]:
        """One statement is consistent on its own: no lock, no transaction beyond it (or, within `batch`, a
        part of the batch's)."""
        yield self._connection()

    @contextmanager
    def _locked(self, key: int) -> Iterator[PostgresConnection]:
        """One transaction holding the advisory lock `key` (rolled back on error)."""
        import psycopg

        db = self._connection()
        try:
            with db.raw.transaction():
                db.execute("SELECT pg_advisory_xact_lock(?)", (key,))
                yield db
        except psycopg.Error as exc:
            raise storage_error(describe(self._location), exc) from exc
