"""What the index does not carry: when and by whom each version was published, the metadata cargo
sends with it (description, README, links), each README rendered as the web pages show it, and download
counts. SQLite (`catalog.sqlite3`; PostgreSQL through `postgres_tables`).

The index stays the source of truth for which versions exist; the catalog only describes them.
"""

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from palletizer_lib.domain.names import normalise
from palletizer_lib.domain.packaged_crate import DESCRIBED_KEYS
from palletizer_lib.domain.readme import render_readme
from palletizer_lib.stores.download_counter import DownloadCounter
from palletizer_lib.stores.migrations import CATALOG
from palletizer_lib.stores.sql import Connection
from palletizer_lib.stores.sqlite import SqliteStore

# What the catalog keeps of a version's publish metadata: the package's own keys, its README, its binaries.
DESCRIBED_FIELDS = (DESCRIBED_KEYS[0], "readme", *DESCRIBED_KEYS[1:], "bin_names")
TAG_FIELDS = ("keywords", "categories")

# A `downloads d` row (joined to `crate_search s`) of one of the registry's own crates.
_OWN_CRATE = "(s.crate IS NOT NULL OR EXISTS (SELECT 1 FROM versions v WHERE v.crate = d.crate))"


@dataclass(frozen=True)
class VersionInfo:
    """One published version as the catalog knows it."""

    name: str
    vers: str
    published: float
    publisher: str | None
    metadata: dict[str, Any]
    downloads: int


@dataclass(frozen=True)
class ListedVersions:
    """What search results show of a crate from the catalog: each version's publication time, and the
    metadata of the version search shows ({} if not described)."""

    published: dict[str, float]
    metadata: dict[str, Any]


class Catalog(SqliteStore):
    """The catalog of one registry (download counts may lose the last moments at a power cut).

    Downloads counted through `download_counter` are added in batches; this object's reads of downloads add them
    first, so a process always sees its own."""

    schema = CATALOG
    synchronous = "NORMAL"
    # The crates with a tag: `field` a tag field, the one parameter the tag.
    _tagged_sql = (
        "SELECT DISTINCT v.crate FROM versions v, json_each(v.metadata, '$.{field}') t "
        "WHERE t.type = 'text' AND lower(t.value) = lower(?)"
    )

    def __init__(self, location: Path | str) -> None:
        """The catalog at `location`: a SQLite file (a `postgresql://` URL for `PostgresCatalog`)."""
        super().__init__(location)
        self.download_counter = DownloadCounter(self.add_downloads)

    @staticmethod
    def _text_field(key: str) -> str:
        """SQL of a version's metadata field `key` if it is a string, else NULL."""
        return f"(CASE json_type(metadata, '$.{key}') WHEN 'text' THEN json_extract(metadata, '$.{key}') END)"

    def record_version(
        self, name: str, vers: str, publisher: str | None, metadata: dict[str, Any], published: float | None = None
    ) -> None:
        """Describe a version just published, with its README rendered (keeps the first record if it is
        recorded twice). `bin_names` is kept even empty (known to build no binary)."""
        described = {
            key: metadata.get(key)
            for key in DESCRIBED_FIELDS
            if metadata.get(key) not in (None, "", []) or (key == "bin_names" and metadata.get(key) == [])
        }
        readme = described.get("readme")
        rendered = render_readme(readme) if isinstance(readme, str) else None
        with self._db() as db:
            db.execute(
                "INSERT INTO versions (crate, vers, name, published, publisher, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (normalise(name), vers, name, published or time.time(), publisher, json.dumps(described)),
            )
            _update_last_published(db, normalise(name))
            if rendered is not None:
                db.execute(
                    "INSERT INTO readmes (crate, vers, html) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (normalise(name), vers, rendered),
                )

    def tagged(self, field: str, value: str) -> set[str]:
        """The crates (normalised names) with `value` (any case) among the `keywords` or the `categories`
        (`field`) of one of their versions."""
        if field not in TAG_FIELDS:
            raise ValueError(f"not a tag field: {field}")
        with self._read() as db:
            rows = db.execute(self._tagged_sql.format(field=field), (value,)).fetchall()
        return {row[0] for row in rows}

    def readme_html(self, name: str, vers: str) -> str:
        """The README of a version as the web pages show it (empty if it has none): as rendered when it was
        recorded, or, for a version recorded before READMEs were kept rendered, rendered now and kept."""
        with self._read() as db:
            row = db.execute(
                "SELECT html FROM readmes WHERE crate = ? AND vers = ?", (normalise(name), vers)
            ).fetchone()
        if row is not None:
            return str(row[0])
        return self._render_missing(name, vers) or ""

    def render_missing_readmes(self) -> list[str]:
        """Render and keep the README of every version that has one not rendered yet; say which."""
        with self._read() as db:
            rows = db.execute(
                "SELECT v.name, v.vers FROM versions v LEFT JOIN readmes r "
                "ON r.crate = v.crate AND r.vers = v.vers "
                f"WHERE r.html IS NULL AND {self._text_field('readme')} IS NOT NULL "
                "ORDER BY v.crate, v.vers"
            ).fetchall()
        return [
            f"rendered the README of {name} {vers}"
            for name, vers in rows
            if self._render_missing(name, vers) is not None
        ]

    def _render_missing(self, name: str, vers: str) -> str | None:
        """Render the recorded README of a version and keep it; None if the version has no README."""
        with self._read() as db:
            row = db.execute(
                f"SELECT {self._text_field('readme')} FROM versions WHERE crate = ? AND vers = ? "
                f"AND {self._text_field('readme')} IS NOT NULL",
                (normalise(name), vers),
            ).fetchone()
        if row is None:
            return None
        rendered = render_readme(row[0])
        with self._db() as db:
            db.execute(
                "INSERT INTO readmes (crate, vers, html) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (normalise(name), vers, rendered),
            )
        return rendered

    def forget_version(self, name: str, vers: str) -> None:
        """Drop a removed version's description and counts."""
        self.download_counter.flush()
        with self._db() as db:
            for table in ("versions", "readmes", "downloads"):
                db.execute(f"DELETE FROM {table} WHERE crate = ? AND vers = ?", (normalise(name), vers))
            _update_last_published(db, normalise(name))

    def count_download(self, name: str, vers: str) -> None:
        """Add one download of a version."""
        self.add_downloads({(normalise(name), vers): 1})

    def add_downloads(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add downloads to versions, (normalised name, version) -> how many, in one transaction."""
        with self._db() as db:
            db.executemany(
                "INSERT INTO downloads (crate, vers, count) VALUES (?, ?, ?) "
                "ON CONFLICT (crate, vers) DO UPDATE SET count = downloads.count + excluded.count",
                [(crate, vers, n) for (crate, vers), n in counts.items()],
            )

    def versions(self, name: str) -> dict[str, VersionInfo]:
        """What the catalog knows of each version of a crate, by version string."""
        self.download_counter.flush()
        with self._read() as db:
            rows = db.execute(
                "SELECT v.name, v.vers, v.published, v.publisher, v.metadata, COALESCE(d.count, 0) "
                "FROM versions v LEFT JOIN downloads d ON d.crate = v.crate AND d.vers = v.vers "
                "WHERE v.crate = ?",
                (normalise(name),),
            ).fetchall()
        return {row[1]: VersionInfo(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5]) for row in rows}

    def downloads(self, name: str) -> int:
        """All downloads of every version of a crate."""
        self.download_counter.flush()
        with self._read() as db:
            row = db.execute(
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM downloads WHERE crate = ?", (normalise(name),)
            ).fetchone()
        return int(row[0])

    def version_downloads(self, name: str) -> dict[str, int]:
        """Downloads of each version of a crate that was downloaded at least once, by version string."""
        self.download_counter.flush()
        with self._read() as db:
            rows = db.execute("SELECT vers, count FROM downloads WHERE crate = ?", (normalise(name),)).fetchall()
        return dict(rows)

    def downloads_by_crate(self, names: Iterable[str] | None = None) -> dict[str, int]:
        """All downloads of each crate (of `names`, else of every crate downloaded at least once), by
        normalised name; a crate never downloaded is left out."""
        self.download_counter.flush()
        query = "SELECT crate, CAST(SUM(count) AS BIGINT) FROM downloads"
        keys: list[str] = []
        if names is not None:
            keys = sorted({normalise(name) for name in names})
            if not keys:
                return {}
            query += f" WHERE crate IN ({', '.join('?' * len(keys))})"
        with self._read() as db:
            rows = db.execute(query + " GROUP BY crate", keys).fetchall()
        return dict(rows)

    def downloads_by_exact_name(self) -> list[tuple[str, int]]:
        """All downloads of each of the registry's own crates (in its search table, or described here) that was
        downloaded at least once, by its exact name, sorted by normalised name."""
        self.download_counter.flush()
        with self._read() as db:
            rows = db.execute(
                f"SELECT COALESCE(s.name, (SELECT v.name FROM versions v WHERE v.crate = d.crate "
                f"ORDER BY v.vers LIMIT 1)), CAST(SUM(d.count) AS BIGINT) FROM downloads d "
                f"LEFT JOIN crate_search s ON s.crate = d.crate WHERE {_OWN_CRATE} "
                f"GROUP BY d.crate, s.name ORDER BY d.crate"
            ).fetchall()
        return [(str(name), int(count)) for name, count in rows]

    def other_downloads(self) -> int:
        """All downloads of crates that are not the registry's own (mirrored from the upstream) together."""
        self.download_counter.flush()
        with self._read() as db:
            row = db.execute(
                f"SELECT CAST(COALESCE(SUM(d.count), 0) AS BIGINT) FROM downloads d "
                f"LEFT JOIN crate_search s ON s.crate = d.crate WHERE NOT ({_OWN_CRATE})"
            ).fetchone()
        return int(row[0])

    def listed(self, shown: Mapping[str, str]) -> dict[str, ListedVersions]:
        """For each crate of `shown` (normalised name -> the version search shows) that the catalog describes:
        its versions' publication times and the shown version's metadata, in two queries."""
        if not shown:
            return {}
        keys = sorted(shown)
        listed: dict[str, ListedVersions] = {}
        with self._read() as db:
            rows = db.execute(
                f"SELECT crate, vers, published FROM versions WHERE crate IN ({', '.join('?' * len(keys))})", keys
            ).fetchall()
            pairs = [value for key in keys for value in (key, shown[key])]
            described = db.execute(
                "SELECT crate, metadata FROM versions WHERE " + " OR ".join(["(crate = ? AND vers = ?)"] * len(keys)),
                pairs,
            ).fetchall()
        metadata = {crate: json.loads(text) for crate, text in described}
        for crate, vers, published in rows:
            listed.setdefault(crate, ListedVersions({}, metadata.get(crate, {}))).published[vers] = published
        return listed

    def description(self, name: str, vers: str) -> str:
        """The description one version was published with ("" if none, or not described)."""
        with self._read() as db:
            row = db.execute(
                f"SELECT {self._text_field('description')} FROM versions WHERE crate = ? AND vers = ?",
                (normalise(name), vers),
            ).fetchone()
        return row[0] if row is not None and isinstance(row[0], str) else ""

    def descriptions(self) -> dict[tuple[str, str], str]:
        """Every described version's description, by (normalised name, version)."""
        with self._read() as db:
            rows = db.execute(f"SELECT crate, vers, {self._text_field('description')} FROM versions").fetchall()
        return {(crate, vers): text for crate, vers, text in rows if isinstance(text, str)}

    def last_published(self) -> dict[str, float]:
        """Each crate's newest publication time, by normalised name (for sorting by recency)."""
        with self._read() as db:
            rows = db.execute("SELECT crate, MAX(published) FROM versions GROUP BY crate").fetchall()
        return dict(rows)


def _update_last_published(db: Connection, crate: str) -> None:
    """Keep the search table's newest publication time of `crate` as the versions table says."""
    db.execute(
        "UPDATE crate_search SET published = COALESCE((SELECT MAX(published) FROM versions WHERE crate = ?), "
        "published) WHERE crate = ?",
        (crate, crate),
    )
