"""Which crates depend on which, as crates.io's reverse dependencies list them, in SQLite beside the catalog
(`catalog.sqlite3`; in PostgreSQL through `postgres_tables`), kept by the same writes that change a crate's summary,
so that a page of a crate's dependents costs a query on its own rows, not a read of every index file.

One row per (crate depended on, dependent crate): the dependent's shown version (the one search shows) and
the first of that version's dependencies on the crate (from this registry: one naming another registry is
left out), ordered by the dependent's downloads (the catalog's), then by name, as crates.io orders them.

Derived state: rebuilt from the index's files by `rebuild` (on first use by a registry made before it existed,
by `repair` and by `migrate`).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass

from palletizer_lib.domain.index_entry import Dependency, IndexEntry
from palletizer_lib.domain.names import normalise
from palletizer_lib.domain.versions import max_version
from palletizer_lib.stores.migrations import CATALOG
from palletizer_lib.stores.sql import Connection
from palletizer_lib.stores.sqlite import SqliteStore

COLUMNS = ("dependency", "crate", "name", "dep", "version")


@dataclass(frozen=True)
class Dependent:
    """A crate depending on another: its name, its shown version's index entry (without its `deps`) and the
    dependency on the other crate."""

    name: str
    entry: IndexEntry
    dependency: Dependency


def dependent_rows(entries: list[IndexEntry]) -> list[tuple[str, str, str, str, str]]:
    """The rows of one crate (its index entries, not empty): one per crate its shown version depends on."""
    shown = max_version(entries)
    entry = next(e for e in entries if e["vers"] == shown)
    name = entry["name"]
    version = json.dumps({key: value for key, value in entry.items() if key != "deps"}, sort_keys=True)
    rows: dict[str, tuple[str, str, str, str, str]] = {}
    for dep in entry.get("deps") or ():
        if dep.get("registry"):
            continue
        key = normalise(dep.get("package") or dep["name"])
        if key not in rows:
            rows[key] = (key, normalise(name), name, json.dumps(dep, sort_keys=True), version)
    return list(rows.values())


class ReverseDependencies(SqliteStore):
    """The reverse dependencies of one registry's crates; safe across threads and processes."""

    schema = CATALOG
    synchronous = "NORMAL"

    def is_built(self) -> bool:
        """True once the table holds every crate (a new registry's, or after `rebuild`)."""
        with self._read() as db:
            row = db.execute("SELECT value FROM reverse_dependencies_state WHERE key = 'built'").fetchone()
        return row is not None

    def rebuild(self, crates: Iterable[list[IndexEntry]]) -> None:
        """Replace the table with the rows of `crates` (each crate's index entries)."""
        with self._db() as db:
            db.execute("DELETE FROM reverse_dependencies")
            for entries in crates:
                if entries:
                    self._insert(db, dependent_rows(entries))
            db.execute(
                "INSERT INTO reverse_dependencies_state (key, value) VALUES ('built', '1') "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            )

    def put(self, entries: list[IndexEntry]) -> None:
        """Make a crate's rows follow its index entries (not empty); nothing is written if they are unchanged."""
        rows = dependent_rows(entries)
        crate = normalise(entries[0]["name"])
        with self._db() as db:
            stored = db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM reverse_dependencies WHERE crate = ? ORDER BY dependency", (crate,)
            ).fetchall()
            if [tuple(row) for row in stored] == sorted(rows):
                return
            db.execute("DELETE FROM reverse_dependencies WHERE crate = ?", (crate,))
            self._insert(db, rows)

    def remove(self, name: str) -> None:
        """Forget the rows of a crate that no longer exists."""
        with self._db() as db:
            db.execute("DELETE FROM reverse_dependencies WHERE crate = ?", (normalise(name),))

    def page(self, name: str, limit: int, offset: int = 0) -> tuple[int, list[Dependent]]:
        """The crates depending on `name` (any spelling): (how many, `limit` of them from `offset`), the most
        downloaded first, then by name."""
        key = normalise(name)
        with self._read() as db:
            total = db.execute("SELECT COUNT(*) FROM reverse_dependencies WHERE dependency = ?", (key,)).fetchone()[0]
        with self._read() as db:
            rows = db.execute(
                "SELECT r.name, r.version, r.dep FROM reverse_dependencies r "
                "LEFT JOIN (SELECT crate, SUM(count) AS n FROM downloads WHERE crate IN "
                "(SELECT crate FROM reverse_dependencies WHERE dependency = ?) GROUP BY crate) d "
                "ON d.crate = r.crate WHERE r.dependency = ? "
                "ORDER BY COALESCE(d.n, 0) DESC, r.crate LIMIT ? OFFSET ?",
                (key, key, limit, offset),
            ).fetchall()
        return total, [Dependent(row[0], json.loads(row[1]), json.loads(row[2])) for row in rows]

    @staticmethod
    def _insert(db: Connection, rows: list[tuple[str, str, str, str, str]]) -> None:
        if rows:
            db.executemany(f"INSERT INTO reverse_dependencies ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)", rows)
