"""The index of a registry on several nodes, in PostgreSQL: the source of truth (`PgIndexLog`: the current
index files and the ordered log of changes that made them), the crate summaries, the publish marker, the
served index's head, and the write lock every node's writers take turns with.

The write lock is a session-level advisory lock held on the writing thread's connection, and every write of
the log is made on that same connection: if it breaks, the lock is gone and so are the writes, so a node cut
off from the database cannot commit past a writer that took the lock after it.
"""

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import cast

from palletizer_lib.domain.errors import BadRequest, StorageError
from palletizer_lib.domain.names import normalise
from palletizer_lib.stores.git_replica import LogChange
from palletizer_lib.stores.migrations import INDEX
from palletizer_lib.stores.postgres import WRITE_LOCK, PostgresConnection, PostgresStore
from palletizer_lib.stores.served_index import HEAD_KEY, ServedFile, ServedIndex

_INDEX_LOCK = 0x70616C6C6963  # each transaction's (as the other stores have one)
PENDING, SERVED_HEAD, LOG_START = "pending", "served_head", "log_start"
_SET_STATE = (
    "INSERT INTO registry_state (key, value, writes) VALUES (?, ?, 1) ON CONFLICT (key) "
    "DO UPDATE SET value = excluded.value, writes = registry_state.writes + 1"
)


class PgIndex(PostgresStore):
    """The tables of `migrations.INDEX`, on one connection per thread; the write lock on the writing thread's."""

    schema = INDEX
    lock_key = _INDEX_LOCK

    def __init__(self, url: str) -> None:
        self._holding = threading.local()
        super().__init__(url)

    @contextmanager
    def write_lock(self) -> Iterator[bool]:
        """Hold the registry's write lock (waiting at most the statement timeout for it); it never says the
        last holder died holding it, as PostgreSQL lets a dead session's lock go, and what such a writer
        left is found by the checks every writer makes (the publish marker, the served head)."""
        if getattr(self._holding, "depth", 0):
            self._holding.depth += 1
            try:
                yield False
            finally:
                self._holding.depth -= 1
            return
        db = self._connection()
        db.execute("SELECT pg_advisory_lock(?)", (WRITE_LOCK,))
        self._holding.db, self._holding.depth = db, 1
        try:
            yield False
        finally:
            self._holding.depth, self._holding.db = 0, None
            if db.usable:
                db.execute("SELECT pg_advisory_unlock(?)", (WRITE_LOCK,))

    def connection(self) -> PostgresConnection:
        """This thread's connection (the write lock's while this thread holds it)."""
        return self._connection()

    def transaction(self) -> AbstractContextManager[PostgresConnection]:
        """One transaction on this thread's connection."""
        return cast(AbstractContextManager[PostgresConnection], self._db())

    def _connection(self) -> PostgresConnection:
        held: PostgresConnection | None = getattr(self._holding, "db", None)
        if held is not None:
            if not held.usable:
                raise StorageError(
                    "the connection holding the registry's write lock to PostgreSQL was lost; the change was not made"
                )
            return held
        return super()._connection()

    def state(self, key: str) -> tuple[str, int] | None:
        """The value of a state `key` and how many times it was written, if set."""
        row = self._connection().execute("SELECT value, writes FROM registry_state WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else None

    def set_state(self, key: str, value: str | None) -> None:
        """Set (None: clear) a state `key`, counting the write."""
        with self._db() as db:
            if value is None:
                db.execute("DELETE FROM registry_state WHERE key = ?", (key,))
            else:
                db.execute(_SET_STATE, (key, value))


class PgIndexLog:
    """The index's source of truth: index files by path and the changes that made them, numbered 1, 2, ...
    A commit id is the position of its change, as ASCII bytes (`b"42"`).

    With `squash_every`, the log is compacted at each squash point once the served index has passed it (in
    the transaction of the next change): of the changes up to it, only each file's last content stays, so
    the log holds the index once plus the changes since; a replica behind it starts from those files
    (`git_replica`)."""

    def __init__(self, db: PgIndex, clock: Callable[[], float] = time.time, squash_every: int | None = None) -> None:
        self._db = db
        self._clock = clock
        self._squash_every = squash_every

    def head(self) -> bytes | None:
        """The position of the newest change, None before the first."""
        row = self._db.connection().execute("SELECT max(position) FROM index_changes").fetchone()
        return str(row[0]).encode() if row and row[0] is not None else None

    def read(self, path: str, commit_id: bytes | None = None) -> bytes | None:
        """The content of `path` now, or just after change `commit_id` (at least the log's start)."""
        db = self._db.connection()
        if commit_id is None or commit_id == self.head():
            row = db.execute("SELECT content FROM index_files WHERE path = ?", (path,)).fetchone()
        else:
            row = db.execute(
                "SELECT content FROM index_change_files WHERE path = ? AND position <= ? "
                "ORDER BY position DESC LIMIT 1",
                (path, int(commit_id)),
            ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def commit(self, changes: dict[str, bytes | None], message: str) -> bytes:
        """Record `changes` as the next change, in one transaction; its position."""
        now = self._clock()
        with self._db.transaction() as db:
            row = db.execute("SELECT coalesce(max(position), 0) + 1 FROM index_changes").fetchone()
            position = row[0]
            db.execute(
                "INSERT INTO index_changes (position, made, message) VALUES (?, ?, ?)", (position, int(now), message)
            )
            for path, content in sorted(changes.items()):
                db.execute(
                    "INSERT INTO index_change_files (position, path, content) VALUES (?, ?, ?)",
                    (position, path, content),
                )
                if content is None:
                    db.execute("DELETE FROM index_files WHERE path = ?", (path,))
                else:
                    db.execute(
                        "INSERT INTO index_files (path, content, modified) VALUES (?, ?, ?) ON CONFLICT "
                        "(path) DO UPDATE SET content = excluded.content, modified = excluded.modified",
                        (path, content, now),
                    )
            self._compact(db)
        return str(position).encode()

    def _compact(self, db: PostgresConnection) -> None:
        """Compact the log to the next squash point after its start, if the served index has reached it:
        delete each file's older contents up to it (and removed files'), then the changes left with none,
        and record it as the log's start. Costs the changes of one squash interval, not the index (a log
        further behind is compacted one interval per change)."""
        every = self._squash_every
        if not every:
            return
        served, start = db.execute(
            "SELECT (SELECT value FROM registry_state WHERE key = ?), (SELECT value FROM registry_state WHERE key = ?)",
            (SERVED_HEAD, LOG_START),
        ).fetchone()
        before = int(start) if start else 0
        through = min(int(served) // every * every if served else 0, (before // every + 1) * every)
        if through <= before:
            return
        gone = db.execute(
            "DELETE FROM index_change_files f WHERE f.position <= ? AND f.path IN (SELECT path FROM "
            "index_change_files WHERE position > ? AND position <= ?) AND (f.content IS NULL OR EXISTS (SELECT 1 "
            "FROM index_change_files g WHERE g.path = f.path AND g.position > f.position AND g.position <= ?)) "
            "RETURNING f.position",
            (through, before, through, through),
        ).fetchall()
        emptied = sorted({row[0] for row in gone if row[0] < through})
        if emptied:
            db.execute(
                "DELETE FROM index_changes c WHERE c.position = ANY(?) AND NOT EXISTS (SELECT 1 FROM "
                "index_change_files f WHERE f.position = c.position)",
                (emptied,),
            )
        db.execute(_SET_STATE, (LOG_START, str(through)))

    def start(self) -> LogChange | None:
        """The change the log was compacted to, else its first change (its files not listed); None if empty."""
        row = (
            self._db.connection()
            .execute(
                "SELECT position, made, message FROM index_changes WHERE position >= coalesce((SELECT CAST(value AS "
                "BIGINT) FROM registry_state WHERE key = ?), 0) ORDER BY position LIMIT 1",
                (LOG_START,),
            )
            .fetchone()
        )
        return LogChange(row[0], row[1], row[2], {}) if row else None

    def files_at(self, position: int, after: str, limit: int) -> list[tuple[str, bytes]]:
        """Up to `limit` index files as they were just after change `position`, in path order after `after`."""
        rows = (
            self._db.connection()
            .execute(
                "SELECT path, content FROM (SELECT DISTINCT ON (path) path, content FROM index_change_files WHERE "
                "position <= ? AND path > ? ORDER BY path, position DESC) latest WHERE content IS NOT NULL "
                "ORDER BY path LIMIT ?",
                (position, after, limit),
            )
            .fetchall()
        )
        return [(row[0], bytes(row[1])) for row in rows]

    def changed_paths(self, old: bytes | None, new: bytes) -> Iterator[str]:
        """Paths changed after `old` up to `new` (`old` None: every path there is at `new`)."""
        db = self._db.connection()
        rows = db.execute(
            "SELECT DISTINCT path FROM index_change_files WHERE position > ? AND position <= ? ORDER BY path",
            (int(old) if old else 0, int(new)),
        ).fetchall()
        return iter([row[0] for row in rows])

    def changes_after(self, position: int, limit: int) -> list[LogChange] | None:
        """Up to `limit` changes after `position`, in order (for the nodes' git replicas); None if the log was
        compacted past `position`. Read under the index's lock, so never across a compaction."""
        with self._db.transaction() as db:
            start = self._db.state(LOG_START)
            if start is not None and position < int(start[0]):
                return None
            heads = db.execute(
                "SELECT position, made, message FROM index_changes WHERE position > ? ORDER BY position LIMIT ?",
                (position, limit),
            ).fetchall()
            if not heads:
                return []
            files: dict[int, dict[str, bytes | None]] = {row[0]: {} for row in heads}
            for number, path, content in db.execute(
                "SELECT position, path, content FROM index_change_files WHERE position > ? AND position <= ? "
                "ORDER BY position, path",
                (position, heads[-1][0]),
            ).fetchall():
                files[number][path] = bytes(content) if content is not None else None
        return [LogChange(number, made, message, files[number]) for number, made, message in heads]

    def files(self, commit_id: bytes | None = None) -> Iterator[tuple[str, bytes]]:
        """Every index file now, as (path, id for `blob`)."""
        rows = self._db.connection().execute("SELECT path FROM index_files ORDER BY path").fetchall()
        return iter([(row[0], row[0].encode()) for row in rows])

    def blob(self, blob_id: bytes) -> bytes:
        """The content of the file `files` named `blob_id`."""
        content = self.read(blob_id.decode())
        if content is None:
            raise StorageError(f"index file {blob_id.decode()} vanished while being read")
        return content

    def squash(self, message: str) -> bytes | None:
        """Refused: each node's git replica is rebuilt from the log, change for change, and squashed at the
        same changes everywhere."""
        raise BadRequest(
            "the git index of a registry on several nodes is rebuilt from its change log on each "
            "node, with the same commits everywhere; each node squashes its history at every "
            "git_squash_after-th change (config.yaml), not on request"
        )

    def unreadable(self) -> str | None:
        """Why the database cannot be read right now, None if it can."""
        try:
            self.head()
        except StorageError as exc:
            return exc.detail
        return None

    def remove_stale_locks(self, objects_too: bool) -> list[Path]:
        """Nothing to remove: a dead session's locks are PostgreSQL's to let go."""
        return []


class PgSummaries:
    """Crate summaries in `crate_summaries` (see `summaries.SummaryStore`)."""

    def __init__(self, db: PgIndex) -> None:
        self._db = db

    def get(self, name: str) -> tuple[str, str] | None:
        row = (
            self._db.connection()
            .execute("SELECT name, max_version FROM crate_summaries WHERE key = ?", (normalise(name),))
            .fetchone()
        )
        return (row[0], row[1]) if row else None

    def put(self, name: str, shown: str) -> bool:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT name, max_version FROM crate_summaries WHERE key = ?", (normalise(name),)
            ).fetchone()
            db.execute(
                "INSERT INTO crate_summaries (key, name, max_version) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET name = excluded.name, max_version = excluded.max_version",
                (normalise(name), name, shown),
            )
        return row is None or (row[0], row[1]) != (name, shown)

    def delete(self, name: str) -> bool:
        with self._db.transaction() as db:
            return int(db.execute("DELETE FROM crate_summaries WHERE key = ?", (normalise(name),)).rowcount) > 0

    def list(self) -> Iterator[tuple[str, str]]:
        rows = self._db.connection().execute("SELECT name, max_version FROM crate_summaries").fetchall()
        return iter([(row[0], row[1]) for row in rows])

    def keys(self) -> Iterator[str]:
        return iter([row[0] for row in self._db.connection().execute("SELECT key FROM crate_summaries").fetchall()])


class PgPublishMarker:
    """The publish marker as a state row (see `publish_marker.PublishMarker`)."""

    def __init__(self, db: PgIndex) -> None:
        self._db = db

    def get(self) -> str | None:
        state = self._db.state(PENDING)
        return state[0] if state else None

    def set(self, key: str) -> None:
        self._db.set_state(PENDING, key)

    def clear(self) -> None:
        self._db.set_state(PENDING, None)


class HeadInDatabase:
    """A served index whose files are elsewhere (`files`, an object store) and whose head is a state row, so
    that readers learn of a change with one cheap query rather than a request to the object store."""

    def __init__(self, files: ServedIndex, db: PgIndex) -> None:
        self._files = files
        self._db = db

    def put(self, key: str, data: bytes) -> None:
        if key == HEAD_KEY:
            self._db.set_state(SERVED_HEAD, data.decode())
        else:
            self._files.put(key, data)

    def get(self, key: str) -> bytes | None:
        if key == HEAD_KEY:
            state = self._db.state(SERVED_HEAD)
            return state[0].encode() if state else None
        return self._files.get(key)

    def read(self, key: str) -> ServedFile | None:
        return self._files.read(key)

    def delete(self, key: str) -> None:
        if key == HEAD_KEY:
            self._db.set_state(SERVED_HEAD, None)
        else:
            self._files.delete(key)

    def list(self) -> Iterator[str]:
        return self._files.list()

    def version(self) -> Hashable | None:
        return self._db.state(SERVED_HEAD)
