"""The crates as search and the list pages show them, in SQLite beside the catalog (`catalog.sqlite3`; in
PostgreSQL through `postgres_tables`), kept by the same writes that change a crate's summary, so that a search or a
list page costs the same with 100 crates as with 100,000: a trigram full-text index over normalised names and
descriptions, and a crate's newest publication time for ordering pages in SQL.

Derived state: rebuilt from the summaries under `names/` (each crate's shown version) and the catalog (that
version's description, publication times) by `rebuild`
(on first use by a registry made before it existed, and by `repair`).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass

from palletizer_lib.domain.names import normalise
from palletizer_lib.stores.migrations import CATALOG
from palletizer_lib.stores.sql import Connection
from palletizer_lib.stores.sqlite import SqliteStore

_TRIGRAM = 3
SORTS = ("recent", "name", "downloads")
# A crate's downloads (of every version), for sorting by downloads.
_DOWNLOADS = "(SELECT COALESCE(SUM(d.count), 0) FROM downloads d WHERE d.crate = s.crate)"


@dataclass(frozen=True)
class SearchRow:
    """One crate as search and the list pages show it."""

    name: str
    max_version: str
    description: str
    published: float | None


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (its `%`, `_` and `\\` taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phrase(text: str) -> str:
    """`text` as one FTS5 phrase (a substring, through the trigram tokenizer)."""
    return '"' + text.replace('"', '""') + '"'


class SearchIndex(SqliteStore):
    """The search table of one registry; safe across threads and processes."""

    schema = CATALOG
    synchronous = "NORMAL"
    # The keys of `page`'s parameter `keys`, a JSON list of strings.
    _json_list_sql = "SELECT value FROM json_each(:keys)"
    # Newest publication first, a crate without one last.
    _newest_first = "s.published DESC"

    def is_built(self) -> bool:
        """True once the table holds every crate (a new registry's, or after `rebuild`)."""
        row = self._connection().execute("SELECT value FROM crate_search_state WHERE key = 'built'").fetchone()
        return row is not None

    def rebuild(self, crates: Iterable[tuple[str, str, str]], published: dict[str, float]) -> None:
        """Replace the table with `crates` ((name, max version, description) each); `published` gives each
        crate's newest publication time by normalised name."""
        with self._db() as db:
            db.execute("DELETE FROM crate_search")
            db.execute("DELETE FROM crate_text")
            for name, max_version, description in crates:
                self._put(db, name, max_version, description, published.get(normalise(name)))
            db.execute(
                "INSERT INTO crate_search_state (key, value) VALUES ('built', '1') "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            )

    def put(self, name: str, max_version: str, description: str, published: float | None) -> None:
        """Add or replace a crate (nothing is written if it is unchanged); `published` is its newest publication
        time if it is new (the catalog keeps it afterwards, as each version is recorded or forgotten)."""
        with self._db() as db:
            row = db.execute(
                "SELECT name, max_version, description, published FROM crate_search WHERE crate = ?", (normalise(name),)
            ).fetchone()
            if row is not None and row[:3] == (name, max_version, description):
                return
            self._put(db, name, max_version, description, published if row is None else row[3])

    def descriptions(self) -> dict[str, str]:
        """Each crate's description as search shows it, by normalised name."""
        return dict(self._connection().execute("SELECT crate, description FROM crate_search").fetchall())

    def known(self, key: str) -> bool:
        """True if the crate of normalised name `key` is in the table."""
        return self._connection().execute("SELECT 1 FROM crate_search WHERE crate = ?", (key,)).fetchone() is not None

    def remove(self, name: str) -> None:
        """Forget a crate that no longer exists."""
        with self._db() as db:
            row = db.execute("SELECT id FROM crate_search WHERE crate = ?", (normalise(name),)).fetchone()
            if row is not None:
                db.execute("DELETE FROM crate_search WHERE id = ?", row)
                db.execute("DELETE FROM crate_text WHERE rowid = ?", row)

    @staticmethod
    def _put(db: Connection, name: str, max_version: str, description: str, published: float | None) -> None:
        """Write a crate's row and its text row, whose rowid is the row's id (so that each is found by its
        key, never by scanning the text table)."""
        key = normalise(name)
        row = db.execute("SELECT id FROM crate_search WHERE crate = ?", (key,)).fetchone()
        values = (name, max_version, description, published)
        if row is None:
            rowid = db.execute(
                "INSERT INTO crate_search (crate, name, max_version, description, published) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (key, *values),
            ).fetchone()[0]
        else:
            rowid = row[0]
            db.execute(
                "UPDATE crate_search SET name = ?, max_version = ?, description = ?, published = ? WHERE id = ?",
                (*values, rowid),
            )
            db.execute("DELETE FROM crate_text WHERE rowid = ?", (rowid,))
        db.execute(
            "INSERT INTO crate_text (rowid, key, name, text) VALUES (?, ?, ?, ?)",
            (rowid, key, key, f"{key} {description.lower()}"),
        )

    def matching(self, query: str) -> set[str] | None:
        """The normalised names of the crates whose normalised name contains the normalised `query`, or whose
        name and description hold every word of it (a word also matching the name normalised); None for an
        empty query (every crate). Through the trigram index where each string looked for has at least
        three characters, else by a scan of the table."""
        words = [w for w in query.lower().split() if w]
        wanted = normalise(query.strip())
        if not wanted and not words:
            return None
        db = self._connection()
        found = self._keys(db, "name", wanted) if wanted else set()
        if words:
            found |= set.intersection(
                *(self._keys(db, "text", w) | self._keys(db, "name", normalise(w)) for w in words)
            )
        return found

    @staticmethod
    def _keys(db: Connection, column: str, text: str) -> set[str]:
        if len(text) >= _TRIGRAM:
            rows = db.execute(f"SELECT key FROM crate_text WHERE {column} MATCH ?", (_phrase(text),))
        else:
            rows = db.execute(f"SELECT key FROM crate_text WHERE {column} LIKE ? ESCAPE '\\'", (like_pattern(text),))
        return {row[0] for row in rows}

    def page(
        self, keys: set[str] | None, wanted: str, sort: str | None, limit: int, offset: int = 0
    ) -> tuple[int, list[SearchRow]]:
        """The crates of `keys` (None: all): (how many, `limit` of them from `offset`), the crate named
        `wanted` (normalised) first, then by `sort` (one of `SORTS`: newest publication, name, most downloads;
        None: names starting with `wanted` first), then by name. By downloads, each crate of `keys` has its
        download rows summed (the other orders follow an index)."""
        order = ["s.crate != :wanted"] if wanted else []
        order += {
            "recent": [self._newest_first],
            "name": [],
            "downloads": [f"{_DOWNLOADS} DESC"],
            None: ["substr(s.crate, 1, length(CAST(:wanted AS TEXT))) != :wanted"],
        }[sort]
        query = (
            "SELECT s.name, s.max_version, s.description, s.published FROM crate_search s {where} "
            f"ORDER BY {', '.join([*order, 'lower(s.name)'])} LIMIT :limit OFFSET :offset"
        )
        params = {"wanted": wanted, "limit": limit, "offset": offset, "keys": json.dumps(sorted(keys or ()))}
        where = "" if keys is None else f"WHERE s.crate IN ({self._json_list_sql})"
        db = self._connection()
        total = db.execute(f"SELECT COUNT(*) FROM crate_search s {where}", params).fetchone()[0]
        rows = db.execute(query.format(where=where), params).fetchall()
        return total, [SearchRow(*row) for row in rows]
