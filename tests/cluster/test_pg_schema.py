"""Schema versions in PostgreSQL: a database made before versions were recorded is upgraded with its data
intact and the schema of a new one, a database newer than the code is refused, each migration runs once, and a
migration waits for the registry's write lock."""

import threading
import time
from pathlib import Path

import pytest

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.migrations import ACCOUNTS, CATALOG, INDEX
from palletizer_lib.stores.postgres import PostgresStore, describe
from palletizer_lib.stores.postgres_index import PgIndex, PgIndexLog
from palletizer_lib.stores.postgres_tables import PostgresAccounts, PostgresCatalog, open_pg_stores
from palletizer_lib.stores.schema import Schema
from tests.support.postgres import PostgresServer
from tests.support.threads import errors_at_once

# A database filled by Palletizer at commit b89ed82, before schema versions (pg_dump --inserts): users alice
# and bob, a token of alice's, crate old-crate 1.0.0 (owned by both, downloaded 7 times) in the catalog, the
# search table and the index's log.
OLD_DATABASE = Path(__file__).parent.parent / "fixtures" / "postgres-before-schema-versions.sql"
ALICE_TOKEN = "pltz_23JxHF9qrclByn33gsew3ZCqA-Zlrd1XRz8J_8QQGmk"
NEWEST = {"accounts": ACCOUNTS.version, "catalog": CATALOG.version, "index": INDEX.version}


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _versions(server: PostgresServer, url: str) -> dict[str, int]:
    """The schema versions recorded in the database at `url` (none: {})."""
    with server.admin(_name(url)) as db:
        if db.execute("SELECT to_regclass('public.schema_version')").fetchone() == (None,):
            return {}
        return dict(db.execute("SELECT name, version FROM schema_version").fetchall())


def _schema(server: PostgresServer, url: str) -> dict[str, list[tuple]]:
    """The tables' columns, constraints and indexes of the database at `url` (its version table aside)."""
    with server.admin(_name(url)) as db:
        return {
            "columns": db.execute(
                "SELECT table_name, column_name, data_type, collation_name, is_nullable, is_identity, column_default "
                "FROM information_schema.columns WHERE table_schema = 'public' AND table_name != 'schema_version' "
                "ORDER BY table_name, column_name"
            ).fetchall(),
            "constraints": db.execute(
                "SELECT table_name, constraint_name, constraint_type FROM information_schema.table_constraints "
                "WHERE table_schema = 'public' AND table_name != 'schema_version' AND constraint_type != 'CHECK' "
                "ORDER BY table_name, constraint_name"
            ).fetchall(),
            "indexes": db.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "AND tablename != 'schema_version' ORDER BY indexname"
            ).fetchall(),
        }


def _open_everything(url: str) -> tuple:
    """The registry's stores in the database at `url`, the index's included."""
    return (PgIndex(url), *open_pg_stores(url))


@pytest.fixture
def old_url(postgres_server: PostgresServer) -> str:
    """A fresh database holding what the code before schema versions made."""
    url = postgres_server.create_database()
    with postgres_server.admin(_name(url)) as db:
        db.execute(OLD_DATABASE.read_text())
    return url


# -- a database made before schema versions -------------------------------------------------------------------


def test_a_database_made_before_schema_versions_is_upgraded_with_its_data_intact(
    postgres_server: PostgresServer, old_url: str
) -> None:
    assert _versions(postgres_server, old_url) == {}
    index, accounts, catalog, search, _ = _open_everything(old_url)
    assert _versions(postgres_server, old_url) == NEWEST
    assert accounts.users() == ["alice", "bob"]
    assert accounts.authenticate(ALICE_TOKEN).user == "alice"
    assert accounts.owners("old-crate") == ["alice", "bob"]
    assert [(e.actor, e.action, e.crate) for e in accounts.audit()] == [("alice", "publish", "old-crate")]
    described = catalog.versions("old-crate")["1.0.0"]
    assert (described.publisher, described.metadata["keywords"], described.downloads) == ("alice", ["legacy"], 7)
    assert catalog.readme_html("old-crate", "1.0.0").startswith("<h1>Old</h1>")
    assert search.matching("long ago") == {"old-crate"}
    log = PgIndexLog(index)
    assert log.read("ol/d-/old-crate") == b'{"name":"old-crate","vers":"1.0.0"}\n'
    assert index.state("served_head") == ("1", 1)

    accounts.add_user("carol")
    _, token = accounts.create_token("carol")
    assert accounts.authenticate(token).user == "carol"
    catalog.record_version("old-crate", "1.1.0", "carol", {"description": "newer"})
    assert sorted(catalog.versions("old-crate")) == ["1.0.0", "1.1.0"]
    assert log.commit({"ol/d-/old-crate": b"two lines\n"}, "Publish old-crate 1.1.0") == b"2"


def test_migration_1_gives_a_database_made_before_versions_the_schema_of_a_new_one(
    postgres_server: PostgresServer, old_url: str, postgres_url: str
) -> None:
    _open_everything(old_url)
    _open_everything(postgres_url)
    assert _schema(postgres_server, old_url) == _schema(postgres_server, postgres_url)


# -- a database newer than the code ---------------------------------------------------------------------------


def test_a_database_newer_than_the_code_is_refused_saying_both_versions(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    _open_everything(postgres_url)
    with postgres_server.admin(_name(postgres_url)) as db:
        db.execute("UPDATE schema_version SET version = version + 1 WHERE name = 'catalog'")
    with pytest.raises(StorageError) as error:
        PostgresCatalog(postgres_url)
    assert error.value.detail == (
        f"PostgreSQL at {describe(postgres_url)} holds version {CATALOG.version + 1} of the catalog schema, but "
        f"this Palletizer knows versions up to {CATALOG.version}: run the Palletizer that wrote it, or a newer one "
        f"(a database is never downgraded)"
    )
    PostgresAccounts(postgres_url).add_user("alice")
    assert _versions(postgres_server, postgres_url) == {**NEWEST, "catalog": CATALOG.version + 1}


# -- each migration runs once ---------------------------------------------------------------------------------


class Probe(PostgresStore):
    """A store whose migration fails if run twice (a table created without IF NOT EXISTS) and says it ran."""

    schema = Schema("probe", ("CREATE TABLE runs (migration BIGINT NOT NULL); INSERT INTO runs VALUES (1)",))


def _runs(server: PostgresServer, url: str) -> list[int]:
    with server.admin(_name(url)) as db:
        return [row[0] for row in db.execute("SELECT migration FROM runs").fetchall()]


def test_migrations_run_once_and_a_second_open_runs_none(postgres_server: PostgresServer, postgres_url: str) -> None:
    Probe(postgres_url)
    Probe(postgres_url)
    assert _runs(postgres_server, postgres_url) == [1]
    assert _versions(postgres_server, postgres_url) == {"probe": 1}


def test_stores_opening_a_new_database_at_once_migrate_it_once(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    errors = errors_at_once(lambda: Probe(postgres_url), 4)
    assert errors == [] and _runs(postgres_server, postgres_url) == [1]


def test_a_migration_waits_for_the_registry_s_write_lock(postgres_server: PostgresServer, postgres_url: str) -> None:
    index = PgIndex(postgres_url)
    errors: list[BaseException] = []

    def open_accounts() -> None:
        try:
            PostgresAccounts(postgres_url)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    opener = threading.Thread(target=open_accounts)
    with index.write_lock():
        opener.start()
        with postgres_server.admin(_name(postgres_url)) as db:
            for _ in range(1200):
                if db.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone() == (1,):
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the migration never waited for the write lock")
        assert "accounts" not in _versions(postgres_server, postgres_url)
    opener.join(timeout=60)
    assert errors == [] and _versions(postgres_server, postgres_url) == {
        "index": INDEX.version,
        "accounts": ACCOUNTS.version,
    }
