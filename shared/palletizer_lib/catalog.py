"""What the index does not carry: when and by whom each version was published, the metadata cargo
sends with it (description, README, links), and download counts. SQLite (`catalog.sqlite3`).

The index stays the source of truth for which versions exist; the catalog only describes them.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .names import normalise

DESCRIBED_FIELDS = ("description", "readme", "homepage", "repository", "documentation", "license",
                    "keywords", "categories", "authors")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    crate TEXT NOT NULL,
    vers TEXT NOT NULL,
    name TEXT NOT NULL,
    published REAL NOT NULL,
    publisher TEXT,
    metadata TEXT NOT NULL,
    PRIMARY KEY (crate, vers)
);
CREATE INDEX IF NOT EXISTS versions_by_time ON versions (published);
CREATE TABLE IF NOT EXISTS downloads (
    crate TEXT NOT NULL,
    vers TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (crate, vers)
);
"""


@dataclass(frozen=True)
class VersionInfo:
    """One published version as the catalog knows it."""

    name: str
    vers: str
    published: float
    publisher: str | None
    metadata: dict
    downloads: int


class Catalog:
    """The catalog of one registry; one connection per thread, WAL mode, safe across processes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def record_version(self, name: str, vers: str, publisher: str | None, metadata: dict,
                       published: float | None = None) -> None:
        """Describe a version just published (keeps the first record if it is recorded twice)."""
        described = {key: metadata.get(key) for key in DESCRIBED_FIELDS if metadata.get(key) not in (None, "", [])}
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO versions (crate, vers, name, published, publisher, metadata) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (normalise(name), vers, name, published or time.time(), publisher, json.dumps(described)))

    def forget_version(self, name: str, vers: str) -> None:
        """Drop a removed version's description and counts."""
        with self._db() as db:
            for table in ("versions", "downloads"):
                db.execute(f"DELETE FROM {table} WHERE crate = ? AND vers = ?", (normalise(name), vers))

    def count_download(self, name: str, vers: str) -> None:
        """Add one download of a version."""
        with self._db() as db:
            db.execute("INSERT INTO downloads (crate, vers, count) VALUES (?, ?, 1) "
                       "ON CONFLICT (crate, vers) DO UPDATE SET count = count + 1", (normalise(name), vers))

    def versions(self, name: str) -> dict[str, VersionInfo]:
        """What the catalog knows of each version of a crate, by version string."""
        with self._db() as db:
            rows = db.execute(
                "SELECT v.name, v.vers, v.published, v.publisher, v.metadata, COALESCE(d.count, 0) "
                "FROM versions v LEFT JOIN downloads d ON d.crate = v.crate AND d.vers = v.vers "
                "WHERE v.crate = ?", (normalise(name),)).fetchall()
        return {row[1]: VersionInfo(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5]) for row in rows}

    def downloads(self, name: str) -> int:
        """All downloads of every version of a crate."""
        with self._db() as db:
            row = db.execute("SELECT COALESCE(SUM(count), 0) FROM downloads WHERE crate = ?",
                             (normalise(name),)).fetchone()
        return row[0]

    def last_published(self) -> dict[str, float]:
        """Each crate's newest publication time, by normalised name (for sorting by recency)."""
        with self._db() as db:
            rows = db.execute("SELECT crate, MAX(published) FROM versions GROUP BY crate").fetchall()
        return dict(rows)
