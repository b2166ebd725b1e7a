"""Schema versions of the SQLite stores: a data directory made before versions were recorded is upgraded with
its data intact, a database newer than the code is refused, and each migration runs once, however many
processes open the database at once."""

import sqlite3
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from palletizer_lib.core.actor import Actor
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import StorageError
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores import sql
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.migrations import ACCOUNTS, CATALOG
from palletizer_lib.stores.schema import SQLITE, Schema
from palletizer_lib.stores.search_index import SearchIndex
from palletizer_lib.stores.sqlite import SqliteStore
from tests.support.cratekit import crate_for, metadata
from tests.support.threads import errors_at_once

# A data directory made by Palletizer at commit b89ed82, before schema versions: users alice and bob, a token
# of each (bob's revoked), crates old-crate 1.0.0 (owned by alice and bob, with a README and a keyword) and
# old-user 0.1.0 (depending on old-crate), published by alice, downloaded 7 and 2 times.
OLD_REGISTRY = Path(__file__).parent.parent / "fixtures" / "registry-before-schema-versions.tar.gz"
ALICE_TOKEN = "pltz_X2N7w36NiceZvYeXYPKcZ8yIlA2nq3a0NU8YEmu-ytM"


def _versions(path: Path) -> dict[str, int]:
    """The schema versions recorded in the SQLite file at `path` (none: {})."""
    with sqlite3.connect(path) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone():
            return {}
        return dict(db.execute("SELECT name, version FROM schema_version").fetchall())


def _set_version(path: Path, name: str, version: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ? WHERE name = ?", (version, name))


@pytest.fixture
def old_data(tmp_path: Path) -> Path:
    """The data directory made before schema versions, unpacked."""
    with tarfile.open(OLD_REGISTRY) as archive:
        archive.extractall(tmp_path / "data", filter="data")
    return tmp_path / "data"


# -- a data directory made before schema versions -------------------------------------------------------------


def test_a_data_directory_made_before_schema_versions_is_upgraded_with_its_data_intact(old_data: Path) -> None:
    assert _versions(old_data / "accounts.sqlite3") == {} and _versions(old_data / "catalog.sqlite3") == {}
    registry = Registry(old_data)
    assert _versions(old_data / "accounts.sqlite3") == {"accounts": ACCOUNTS.version}
    assert _versions(old_data / "catalog.sqlite3") == {"catalog": CATALOG.version}
    accounts, catalog = registry.stores.accounts, registry.stores.catalog
    assert accounts.users() == ["alice", "bob"]
    assert [(t.user, t.scopes, t.revoked is not None) for t in accounts.tokens()] == [
        ("alice", ("publish", "yank", "owners", "read"), False),
        ("bob", ("read",), True),
    ]
    alice = accounts.authenticate(ALICE_TOKEN)
    assert alice.user == "alice"
    assert accounts.owners("old-crate") == ["alice", "bob"] and accounts.owners("old-user") == ["alice"]
    assert [(e.actor, e.action, e.crate) for e in accounts.audit()] == [
        ("alice", "publish", "old-crate"),
        ("alice", "publish", "old-user"),
        ("alice", "add owners", "old-crate"),
    ]
    described = catalog.versions("old-crate")["1.0.0"]
    assert (described.publisher, described.metadata["keywords"], described.downloads) == ("alice", ["legacy"], 7)
    assert catalog.downloads_by_crate() == {"old-crate": 7, "old-user": 2}
    assert "Old crate" in catalog.readme_html("old-crate", "1.0.0")
    assert catalog.tagged("keywords", "LEGACY") == {"old-crate"}
    assert [e["vers"] for e in registry.entries("old-crate")] == ["1.0.0"]
    assert [row.name for row in registry.search("old", 10)[1]] == ["old-crate", "old-user"]
    assert [d.name for d in registry.dependents("old-crate", 10)[1]] == ["old-user"]

    meta = metadata("old-crate", "1.1.0")
    Operations(registry, accounts, catalog).publish(Actor.user(alice, "192.0.2.1"), meta, crate_for(meta))
    reopened = Registry(old_data)
    assert [e["vers"] for e in reopened.entries("old-crate")] == ["1.0.0", "1.1.0"]
    assert sorted(reopened.stores.catalog.versions("old-crate")) == ["1.0.0", "1.1.0"]
    assert reopened.stores.accounts.owners("old-crate") == ["alice", "bob"]


def _schema(path: Path) -> dict[str, list[tuple]]:
    """The columns of each table and the indexes of the SQLite file at `path` (its version table aside)."""
    with sqlite3.connect(path) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') "
                "AND name != 'schema_version' ORDER BY name"
            )
        ]
        return {
            name: db.execute(f"PRAGMA table_xinfo('{name}')").fetchall()
            + db.execute(f"PRAGMA index_xinfo('{name}')").fetchall()
            for name in names
        }


def test_migration_1_gives_a_database_made_before_versions_the_schema_of_a_new_one(
    old_data: Path, tmp_path: Path
) -> None:
    assert "tokens_by_user" not in _schema(old_data / "accounts.sqlite3")
    Registry(old_data)
    new = Registry.create(tmp_path / "new", RegistryConfig(public_url="http://registry.test"))
    for file in ("accounts.sqlite3", "catalog.sqlite3"):
        assert _schema(old_data / file) == _schema(new.layout.root / file)
    assert {"tokens_by_user", "owners_by_user"} <= set(_schema(old_data / "accounts.sqlite3"))


# -- a database newer than the code ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("store", "file", "schema"),
    [
        (Accounts, "accounts.sqlite3", ACCOUNTS),
        (Catalog, "catalog.sqlite3", CATALOG),
        (SearchIndex, "catalog.sqlite3", CATALOG),
    ],
)
def test_a_database_newer_than_the_code_is_refused_saying_both_versions(
    tmp_path: Path, store: type[SqliteStore], file: str, schema: Schema
) -> None:
    store(tmp_path / file)
    _set_version(tmp_path / file, schema.name, schema.version + 1)
    with pytest.raises(StorageError) as error:
        store(tmp_path / file)
    assert error.value.detail == (
        f"{tmp_path / file} holds version {schema.version + 1} of the {schema.name} schema, but this Palletizer "
        f"knows versions up to {schema.version}: run the Palletizer that wrote it, or a newer one (a database is "
        f"never downgraded)"
    )
    assert _versions(tmp_path / file) == {schema.name: schema.version + 1}


def test_a_registry_whose_catalog_is_newer_than_the_code_does_not_open(old_data: Path) -> None:
    Registry(old_data)
    _set_version(old_data / "catalog.sqlite3", "catalog", CATALOG.version + 1)
    with pytest.raises(StorageError, match=f"holds version {CATALOG.version + 1} of the catalog schema"):
        Registry(old_data)


# -- each migration runs once ---------------------------------------------------------------------------------

# Migrations that fail if run twice (a table created without IF NOT EXISTS) and say when they ran.
FIRST = "CREATE TABLE runs (migration INTEGER NOT NULL); INSERT INTO runs (migration) VALUES (1)"
SECOND = "INSERT INTO runs (migration) VALUES (2)"


class Probe(SqliteStore):
    schema = Schema("probe", (FIRST,))


class ProbeTwo(SqliteStore):
    schema = Schema("probe", (FIRST, SECOND))


class ProbeBroken(SqliteStore):
    schema = Schema("probe", (FIRST, SECOND + "; INSERT INTO missing VALUES (1)"))


def _runs(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT migration FROM runs ORDER BY rowid")]


def test_migrations_run_once_and_a_second_open_runs_none(tmp_path: Path) -> None:
    path = tmp_path / "probe.sqlite3"
    Probe(path)
    Probe(path)
    assert _runs(path) == [1] and _versions(path) == {"probe": 1}
    ProbeTwo(path)
    ProbeTwo(path)
    assert _runs(path) == [1, 2] and _versions(path) == {"probe": 2}


def test_the_registry_s_stores_open_a_migrated_database_without_migrating(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="palletizer.schema"):
        Accounts(tmp_path / "accounts.sqlite3")
        Catalog(tmp_path / "catalog.sqlite3")
        assert len(caplog.records) == 2
        Accounts(tmp_path / "accounts.sqlite3")
        Catalog(tmp_path / "catalog.sqlite3")
        SearchIndex(tmp_path / "catalog.sqlite3")
    assert [record.getMessage() for record in caplog.records] == [
        f"{tmp_path / 'accounts.sqlite3'}: the accounts schema migrated from version 0 to {ACCOUNTS.version}",
        f"{tmp_path / 'catalog.sqlite3'}: the catalog schema migrated from version 0 to {CATALOG.version}",
    ]


def test_a_failed_migration_leaves_the_database_at_its_version(tmp_path: Path) -> None:
    path = tmp_path / "probe.sqlite3"
    Probe(path)
    with pytest.raises(StorageError, match="no such table: missing"):
        ProbeBroken(path)
    assert _runs(path) == [1] and _versions(path) == {"probe": 1}


def test_a_store_that_found_the_database_behind_migrates_only_what_is_still_missing_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process migrates between this store's first look and its taking the lock: it runs nothing."""
    path = tmp_path / "probe.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    looked = threading.Event()
    first_look = sql.recorded_version

    def look(*args: Any) -> int:
        version = first_look(*args)
        looked.set()
        return version

    monkeypatch.setattr(sql, "recorded_version", look)
    errors: list[BaseException] = []

    def open_probe() -> None:
        try:
            Probe(path)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    other.execute("BEGIN IMMEDIATE")
    opener = threading.Thread(target=open_probe)
    opener.start()
    assert looked.wait(timeout=60)
    assert sql.migrate(other, Probe.schema, SQLITE, "the other process") == [1]
    other.execute("COMMIT")
    opener.join(timeout=60)
    assert errors == [] and _runs(path) == [1] and _versions(path) == {"probe": 1}


def test_stores_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "probe.sqlite3"
    errors = errors_at_once(lambda: Probe(path), 6)
    assert errors == [] and _runs(path) == [1] and _versions(path) == {"probe": 1}
