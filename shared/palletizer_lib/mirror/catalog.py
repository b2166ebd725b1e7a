"""What the mirror's cache holds, kept as its files are stored and removed: one row per cached index file
(the crate's name and the version search shows) and per cached crate file, each with its size and when it
was last used, in `mirror/catalog.sqlite3`.

Search, the crate list, `mirror status` and eviction read this table; none of them walks the cache. A cache
made before the table existed is walked once, the first time the table is opened (under its own lock), and
files nothing can use (a name the upstream lacked, as older versions stored it; a torn file) are deleted then.
Uses are recorded in memory and written in batches, so a hit costs no write; the least recently used files
go first when the cache is over its size (`mirror_cache_size`).
"""

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.disk.files import TEMP_PREFIX, file_lock
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import StorageError
from palletizer_lib.domain.names import CRATE_SUFFIX, normalise
from palletizer_lib.mirror.cache_files import read_index_file, summary_of
from palletizer_lib.stores.schema import Schema
from palletizer_lib.stores.search_index import like_pattern
from palletizer_lib.stores.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS cached (
    path TEXT PRIMARY KEY,
    crate TEXT,
    name TEXT,
    shown TEXT,
    bytes INTEGER NOT NULL,
    used REAL NOT NULL,
    shadowed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cached_used ON cached (used);
CREATE INDEX IF NOT EXISTS cached_crate ON cached (crate) WHERE crate IS NOT NULL;
CREATE TABLE IF NOT EXISTS cached_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
USES_PER_WRITE = 256
EVICT_TO = 0.9
log = logging.getLogger("palletizer.mirror")


@dataclass(frozen=True)
class MirroredSummary:
    """A crate of the mirror's cache as search shows it."""

    name: str
    shown: str


class MirrorCatalog(SqliteStore):
    """The catalog of one data directory's mirror cache; share one per process (`catalog_of`)."""

    schema = Schema("mirror", (SCHEMA,))
    synchronous = "NORMAL"

    def __init__(self, layout: Layout, clock: Callable[[], float] = time.time) -> None:
        layout.mirror.mkdir(parents=True, exist_ok=True)
        self._layout = layout
        self._clock = clock
        self._uses: dict[str, float] = {}
        self._uses_lock = threading.Lock()
        super().__init__(layout.mirror / "catalog.sqlite3")
        self._build()

    def relative(self, path: Path) -> str:
        """The key of a file of the cache: its path under `mirror/`."""
        return path.relative_to(self._layout.mirror).as_posix()

    def put_index(self, path: Path, name: str, shown: str, size: int) -> None:
        """Record a cached index file of crate `name` (its shown version, its size on disk)."""
        self._put(self.relative(path), normalise(name), name, shown, size)

    def put_crate(self, path: Path, size: int) -> None:
        """Record a cached crate file."""
        self._put(self.relative(path), None, None, None, size)

    def _put(self, key: str, crate: str | None, name: str | None, shown: str | None, size: int) -> None:
        with self._uses_lock:
            self._uses.pop(key, None)
        with self._db() as db:
            db.execute(
                "INSERT INTO cached (path, crate, name, shown, bytes, used) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (path) DO UPDATE SET crate = excluded.crate, name = excluded.name, "
                "shown = excluded.shown, bytes = excluded.bytes, used = excluded.used, shadowed = 0",
                (key, crate, name, shown, size, self._clock()),
            )

    def forget(self, path: Path) -> None:
        """Forget a file no longer in the cache."""
        key = self.relative(path)
        with self._uses_lock:
            self._uses.pop(key, None)
        with self._db() as db:
            db.execute("DELETE FROM cached WHERE path = ?", (key,))

    def used(self, path: Path) -> None:
        """Note that a cached file was served (written with the next batch of uses)."""
        with self._uses_lock:
            self._uses[self.relative(path)] = self._clock()
            full = len(self._uses) >= USES_PER_WRITE
        if full:
            self.write_uses()

    def write_uses(self) -> None:
        """Write the uses noted so far."""
        with self._uses_lock:
            uses, self._uses = self._uses, {}
        if uses:
            with self._db() as db:
                db.executemany(
                    "UPDATE cached SET used = max(used, ?) WHERE path = ?", [(when, key) for key, when in uses.items()]
                )

    def holds(self, crate: str) -> str | None:
        """The name of the cached crate of normalised name `crate`, if the cache has its index file."""
        row = self._connection().execute("SELECT name FROM cached WHERE crate = ?", (crate,)).fetchone()
        return row[0] if row is not None else None

    def shadow(self, local: Iterable[str]) -> None:
        """Leave out of search the cached crates among these normalised names (published here since)."""
        found = [
            row[0]
            for row in self._connection().execute(
                "SELECT crate FROM cached WHERE shadowed = 0 AND crate IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(local)),),
            )
        ]
        if found:
            with self._db() as db:
                db.executemany("UPDATE cached SET shadowed = 1 WHERE crate = ?", [(crate,) for crate in found])

    def search(self, query: str, limit: int, offset: int) -> tuple[int, list[MirroredSummary]]:
        """The cached crates whose normalised name contains the normalised `query`, or every word of it (as
        spelt or normalised): (how many, `limit` of them from `offset`), the crate named `query` first,
        then names starting with it, then by name."""
        words = [w for w in query.lower().split() if w]
        wanted = normalise(query.strip())
        conditions = ["crate IS NOT NULL", "shadowed = 0"]
        params: list[object] = []
        if wanted or words:
            alternatives = ["crate LIKE ? ESCAPE '\\'"]
            params.append(like_pattern(wanted))
            if words:
                alternatives.append(
                    "(" + " AND ".join(["(crate LIKE ? ESCAPE '\\' OR crate LIKE ? ESCAPE '\\')"] * len(words)) + ")"
                )
                for word in words:
                    params += [like_pattern(word), like_pattern(normalise(word))]
            conditions.append("(" + " OR ".join(alternatives) + ")")
        where = " AND ".join(conditions)
        db = self._connection()
        total = db.execute(f"SELECT COUNT(*) FROM cached WHERE {where}", params).fetchone()[0]
        rows = db.execute(
            f"SELECT name, shown FROM cached WHERE {where} ORDER BY crate != ?, "
            "substr(crate, 1, length(?)) != ?, lower(name) LIMIT ? OFFSET ?",
            [*params, wanted, wanted, wanted, limit, offset],
        ).fetchall()
        return total, [MirroredSummary(*row) for row in rows]

    def status(self) -> tuple[int, int, int, int]:
        """(index files, their bytes, crate files, their bytes)."""
        row = (
            self._connection()
            .execute(
                "SELECT COUNT(crate), COALESCE(SUM(CASE WHEN crate IS NOT NULL THEN bytes END), 0), "
                "COUNT(*) - COUNT(crate), COALESCE(SUM(CASE WHEN crate IS NULL THEN bytes END), 0) FROM cached"
            )
            .fetchone()
        )
        return row[0], row[1], row[2], row[3]

    def index_paths(self) -> list[Path]:
        """Every cached index file."""
        rows = self._connection().execute("SELECT path FROM cached WHERE crate IS NOT NULL ORDER BY path")
        return [self._layout.mirror / row[0] for row in rows]

    def evict(self, max_bytes: int, keep: Path | None = None) -> int:
        """If the cache holds more than `max_bytes`, delete the least recently used files (never `keep`, the
        file just stored) until it holds at most `EVICT_TO` of it; the bytes freed."""
        self.write_uses()
        db = self._connection()
        total = db.execute("SELECT COALESCE(SUM(bytes), 0) FROM cached").fetchone()[0]
        if total <= max_bytes:
            return 0
        kept = self.relative(keep) if keep is not None else ""
        goal = total - int(max_bytes * EVICT_TO)
        freed = 0
        victims = []
        for key, size in db.execute("SELECT path, bytes FROM cached WHERE path != ? ORDER BY used, rowid", (kept,)):
            if freed >= goal:
                break
            victims.append(key)
            freed += size
        for key in victims:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                (self._layout.mirror / key).unlink()
        with self._db() as write:
            write.executemany("DELETE FROM cached WHERE path = ?", [(key,) for key in victims])
        if victims:
            log.info(
                "mirror cache over %d bytes: evicted %d least recently used files (%d bytes)",
                max_bytes,
                len(victims),
                freed,
            )
        return freed

    def _build(self) -> None:
        """Fill the table from the files of a cache made before it existed (once, under its lock)."""
        if self._built():
            return
        with file_lock(self._layout.mirror / "catalog.lock", "the mirror catalog's lock"):
            if self._built():
                return
            with self.batch():
                for path, name, shown in _walk_index(self._layout.mirror / "index"):
                    self.put_index(path, name, shown, path.stat().st_size)
                for path in _walk_crates(self._layout.mirror / "crates"):
                    self.put_crate(path, path.stat().st_size)
                with self._db() as db:
                    db.execute("INSERT OR REPLACE INTO cached_state (key, value) VALUES ('built', '1')")

    def _built(self) -> bool:
        row = self._connection().execute("SELECT value FROM cached_state WHERE key = 'built'").fetchone()
        return row is not None


_CATALOGS: dict[Path, MirrorCatalog] = {}
_CATALOGS_LOCK = threading.Lock()


def catalog_of(layout: Layout, clock: Callable[[], float] = time.time) -> MirrorCatalog:
    """The process's catalog of `layout`'s mirror cache (opened, and built if need be, on first use, when
    `clock` becomes the clock its uses are timed by)."""
    with _CATALOGS_LOCK:
        catalog = _CATALOGS.get(layout.root)
        if catalog is None:
            try:
                catalog = _CATALOGS[layout.root] = MirrorCatalog(layout, clock)
            except OSError as exc:
                raise StorageError(f"could not open the mirror's catalog: {exc.strerror or exc}") from exc
        return catalog


def _walk_index(root: Path) -> Iterable[tuple[Path, str, str]]:
    """(path, crate name, shown version) of every usable cached index file under `root`; the others (names
    the upstream lacked, torn or foreign files) are deleted, and the folders left empty."""
    for folder, _, files in os.walk(root, topdown=False):
        for file_name in files:
            path = Path(folder) / file_name
            summary = None if file_name.startswith(TEMP_PREFIX) else read_index_file(path, summary_of)
            if summary is None:
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            yield path, summary[0], summary[1]
        if Path(folder) != root:
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def _walk_crates(root: Path) -> Iterable[Path]:
    for folder, _, files in os.walk(root):
        for file_name in files:
            if file_name.endswith(CRATE_SUFFIX) and not file_name.startswith(TEMP_PREFIX):
                yield Path(folder) / file_name
