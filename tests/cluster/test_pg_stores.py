"""The accounts, the catalog with its download counts, and the search table on PostgreSQL behave as on SQLite:
the unit tests of each run over both backends, search answers are compared query by query, and what only a
shared database brings is tested on its own: several nodes, racing schema creation, a server that is down or
drops the connection, bounded waits."""

import inspect
import multiprocessing
import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from palletizer_lib.domain.errors import Conflict, StorageError
from palletizer_lib.domain.names import normalise
from palletizer_lib.stores import postgres as postgres_store
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.postgres_tables import (
    PostgresAccounts,
    PostgresCatalog,
    PostgresReverseDependencies,
    PostgresSearchIndex,
    open_pg_stores,
)
from palletizer_lib.stores.reverse_dependencies import ReverseDependencies
from palletizer_lib.stores.search_index import SORTS, SearchIndex
from tests.support.postgres import PostgresServer
from tests.support.server import free_port
from tests.support.threads import errors_at_once
from tests.unit import test_accounts, test_catalog, test_download_counter
from tests.unit.test_accounts import accounts, alice  # noqa: F401 - fixtures of the reused tests

BACKENDS = ("sqlite", "postgresql")


def _reuse(module: object) -> None:
    """Collect here the tests of `module` that reach their store through the backend fixtures only."""
    for name, function in vars(module).items():
        if name.startswith("test_") and not {"tmp_path", "db_path"} & set(inspect.signature(function).parameters):
            globals()[name] = function


for _module in (test_accounts, test_catalog, test_download_counter):
    _reuse(_module)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where the test's stores live: a directory for SQLite files, or a fresh PostgreSQL database's URL."""
    return tmp_path if backend == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def new_accounts(database: Path | str) -> Callable[[], Accounts]:
    if isinstance(database, Path):
        return lambda: Accounts(database / "accounts.sqlite3")
    return lambda: PostgresAccounts(database)


@pytest.fixture
def new_catalog(database: Path | str) -> Callable[[], Catalog]:
    if isinstance(database, Path):
        return lambda: Catalog(database / "catalog.sqlite3")
    return lambda: PostgresCatalog(database)


@pytest.fixture
def new_search(database: Path | str) -> Callable[[], SearchIndex]:
    if isinstance(database, Path):
        return lambda: SearchIndex(database / "catalog.sqlite3")
    return lambda: PostgresSearchIndex(database)


def _rows(server: PostgresServer, url: str, sql: str) -> list[tuple]:
    with server.admin(url.rsplit("/", 1)[1]) as db:
        return db.execute(sql).fetchall()


# -- the same answers --------------------------------------------------------------------------------------------


def test_tags_readmes_and_descriptions_come_from_the_metadata(new_catalog: Callable[[], Catalog]) -> None:
    catalog = new_catalog()
    catalog.record_version(
        "Web_Kit",
        "1.0.0",
        None,
        {"description": "a kit", "keywords": ["HTTP", "Server"], "categories": ["web-programming"], "readme": "# Kit"},
    )
    catalog.record_version(
        "web-kit", "2.0.0", None, {"description": 7, "keywords": ["ßtraße", 3], "readme": ["not", "text"]}
    )
    catalog.record_version("other", "0.1.0", None, {"keywords": ["http-client"], "categories": ["WEB-programming"]})
    assert catalog.tagged("keywords", "http") == {"web-kit"}
    assert catalog.tagged("keywords", "ßTRAßE") == {"web-kit"}
    assert catalog.tagged("keywords", "3") == set()
    assert catalog.tagged("categories", "web-programming") == {"web-kit", "other"}
    assert catalog.description("web_kit", "1.0.0") == "a kit" and catalog.description("web-kit", "2.0.0") == ""
    assert catalog.descriptions() == {("web-kit", "1.0.0"): "a kit"}
    assert catalog.readme_html("web-kit", "1.0.0") == "<h1>Kit</h1>\n"
    assert catalog.readme_html("web-kit", "2.0.0") == "" and catalog.readme_html("other", "0.1.0") == ""
    assert catalog.render_missing_readmes() == []
    assert catalog.versions("web-kit")["2.0.0"].metadata["readme"] == ["not", "text"]


def test_downloads_by_crate_of_some_names(new_catalog: Callable[[], Catalog]) -> None:
    catalog = new_catalog()
    catalog.add_downloads({("a", "1.0.0"): 2**40, ("a", "2.0.0"): 1, ("b-c", "1.0.0"): 3})
    assert catalog.downloads_by_crate(["A", "b_c", "nothing"]) == {"a": 2**40 + 1, "b-c": 3}
    assert catalog.downloads_by_crate([]) == {} and catalog.downloads("a") == 2**40 + 1
    assert all(type(n) is int for n in catalog.downloads_by_crate().values())


_WORDS = ("serde", "json", "http", "tokio", "async", "io", "rs", "x", "100%", "a_b", "a-b", "Ünï", "ab\\c", "_")


def _corpus(seed: int) -> list[tuple[str, str, str, float | None]]:
    chance = random.Random(seed)
    crates = {}
    for _ in range(300):
        name = "_".join(chance.sample(_WORDS[:8], chance.randint(1, 3))) + chance.choice(("", "2", "-Core", "_x"))
        description = " ".join(chance.choices(_WORDS, k=chance.randint(0, 6)))
        published = chance.choice((None, float(chance.randint(1, 20))))
        crates[name.lower().replace("_", "-")] = (name, f"1.{chance.randint(0, 9)}.0", description, published)
    return list(crates.values())


QUERIES = (
    "",
    "serde",
    "SERDE json",
    "se",
    "s",
    "io",
    "json-http",
    "json_http",
    "tokio async",
    "100%",
    "%",
    "a_b",
    "a-b",
    "_",
    "x",
    "ünï",
    "ab\\c",
    "rs io x",
    "  http  ",
    "nothing-like-it",
    "2",
    "core",
)


def test_search_answers_and_orders_as_sqlite_does(tmp_path: Path, postgres_url: str) -> None:
    corpus = _corpus(15)
    stores = [SearchIndex(tmp_path / "catalog.sqlite3"), PostgresSearchIndex(postgres_url)]
    for store in stores:
        store.rebuild(((n, v, d) for n, v, d, _ in corpus[:200]), {})
        for name, vers, description, published in corpus:
            store.put(name, vers, description, published)
        store.remove(corpus[3][0])
    for catalog in (Catalog(tmp_path / "catalog.sqlite3"), PostgresCatalog(postgres_url)):
        catalog.add_downloads(
            {(normalise(name), vers): 1 + number % 7 for number, (name, vers, _, _) in enumerate(corpus[::3])}
        )
    sqlite, postgres = stores
    assert postgres.descriptions() == sqlite.descriptions() and postgres.is_built()
    for query in QUERIES:
        keys = sqlite.matching(query)
        assert postgres.matching(query) == keys, query
        wanted = query.strip().lower().replace("_", "-")
        for sort in (None, *SORTS):
            for offset in (0, 7):
                assert postgres.page(keys, wanted, sort, 25, offset) == sqlite.page(keys, wanted, sort, 25, offset)
    assert sqlite.matching("serde") and sqlite.page(None, "", "recent", 1000)[0] == len(corpus) - 1


def _entry(name: str, vers: str, *deps: str, yanked: bool = False) -> dict:
    return {
        "name": name,
        "vers": vers,
        "deps": [{"name": d, "req": "^1", "kind": "normal"} for d in deps],
        "cksum": "0" * 64,
        "features": {},
        "yanked": yanked,
    }


def test_reverse_dependencies_answer_and_order_as_sqlite_does(tmp_path: Path, postgres_url: str) -> None:
    sqlite_catalog, postgres_catalog = Catalog(tmp_path / "catalog.sqlite3"), PostgresCatalog(postgres_url)
    stores = [ReverseDependencies(tmp_path / "catalog.sqlite3"), PostgresReverseDependencies(postgres_url)]
    for catalog, store in zip((sqlite_catalog, postgres_catalog), stores, strict=False):
        assert not store.is_built()
        store.rebuild([[_entry("old-user", "1.0.0", "hub")]])
        for i in range(12):
            store.put(
                [
                    _entry(f"User_{i:02}", "1.0.0", "hub", "Other"),
                    _entry(f"User_{i:02}", "2.0.0", "hub"),
                    _entry(f"User_{i:02}", "3.0.0", yanked=True),
                ]
            )
        store.put([_entry("old-user", "2.0.0")])
        store.remove("user-05")
        catalog.add_downloads({("user-07", "1.0.0"): 3, ("user-03", "2.0.0"): 1, ("user-03", "1.0.0"): 1})
    sqlite, postgres = stores
    assert postgres.is_built()
    for name, limit, offset in (("hub", 100, 0), ("HUB", 4, 2), ("other", 5, 0), ("old-user", 5, 0)):
        assert postgres.page(name, limit, offset) == sqlite.page(name, limit, offset), (name, limit, offset)
    total, page = postgres.page("hub", 3)
    assert total == 11 and [(d.name, d.entry["vers"]) for d in page] == [
        ("User_07", "2.0.0"),
        ("User_03", "2.0.0"),
        ("User_00", "2.0.0"),
    ]
    assert postgres.page("other", 5) == (0, [])


# -- several nodes on one database --------------------------------------------------------------------------------


def test_two_nodes_see_each_others_catalog_and_search_writes(postgres_url: str) -> None:
    (_, first_catalog, first_search, _), (_, second_catalog, second_search, _) = (
        open_pg_stores(postgres_url) for _ in range(2)
    )
    first_catalog.record_version("shared", "1.0.0", "alice", {"description": "from the first"}, published=5.0)
    first_search.put("shared", "1.0.0", "from the first", 5.0)
    assert second_catalog.versions("shared")["1.0.0"].publisher == "alice"
    assert second_search.matching("first") == {"shared"}
    second_catalog.download_counter.count("shared", "1.0.0")
    second_catalog.download_counter.flush()
    first_catalog.count_download("shared", "1.0.0")
    assert first_catalog.downloads("shared") == second_catalog.downloads("shared") == 2
    second_catalog.forget_version("shared", "1.0.0")
    second_search.remove("shared")
    assert first_catalog.versions("shared") == {} and first_search.matching("first") == set()


def test_a_batch_is_seen_by_another_node_only_when_committed(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    catalog = PostgresCatalog(postgres_url)

    def committed() -> list[str]:
        return [row[0] for row in _rows(postgres_server, postgres_url, "SELECT crate FROM versions ORDER BY crate")]

    with catalog.batch():
        catalog.record_version("one", "1.0.0", None, {}, published=1.0)
        catalog.record_version("two", "1.0.0", None, {}, published=2.0)
        assert committed() == []
    assert committed() == ["one", "two"]
    with pytest.raises(RuntimeError), catalog.batch():
        catalog.record_version("three", "1.0.0", None, {}, published=3.0)
        raise RuntimeError("interrupted")
    catalog.record_version("four", "1.0.0", None, {}, published=4.0)
    assert committed() == ["four", "one", "two"]


def test_the_database_never_holds_a_token_in_plain_text(postgres_server: PostgresServer, postgres_url: str) -> None:
    pg_accounts = PostgresAccounts(postgres_url)
    pg_accounts.add_user("alice")
    _, token = pg_accounts.create_token("alice")
    stored = repr(_rows(postgres_server, postgres_url, "SELECT * FROM tokens"))
    assert token not in stored and token[len("pltz_") :] not in stored


def test_concurrent_user_creation_from_nodes_leaves_one_and_conflicts_the_rest(postgres_url: str) -> None:
    nodes = [PostgresAccounts(postgres_url) for _ in range(4)]
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def work(index: int) -> None:
        start.wait()
        try:
            nodes[index % 4].add_user("alice")
            outcomes.append("added")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["added"] + ["conflict"] * 7
    assert nodes[0].users() == ["alice"]


def _open_all(url: str, start: "multiprocessing.synchronize.Barrier") -> None:
    start.wait(timeout=60)
    open_pg_stores(url)


def test_nodes_creating_the_schema_at_once_all_succeed(postgres_server: PostgresServer, postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    processes = [context.Process(target=_open_all, args=(postgres_url, start)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    tables = {
        row[0]
        for row in _rows(postgres_server, postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables == {
        "users",
        "tokens",
        "owners",
        "audit",
        "versions",
        "readmes",
        "downloads",
        "crate_search",
        "crate_text",
        "crate_search_state",
        "reverse_dependencies",
        "reverse_dependencies_state",
        "schema_version",
    }


def test_stores_opening_at_once_from_threads_all_succeed(postgres_url: str) -> None:
    assert errors_at_once(lambda: open_pg_stores(postgres_url), 4) == []


# -- failures ------------------------------------------------------------------------------------------------------


def test_a_server_that_is_down_is_a_storage_error_naming_it_without_the_password() -> None:
    port = free_port()
    with pytest.raises(StorageError) as error:
        PostgresAccounts(f"postgresql://palletizer:s3cret@127.0.0.1:{port}/registry")
    assert type(error.value) is StorageError and error.value.__cause__ is not None
    assert error.value.detail.startswith(f"PostgreSQL at 127.0.0.1:{port}/registry: ")
    assert "refused" in error.value.detail and "s3cret" not in error.value.detail


def test_a_missing_database_is_a_storage_error_saying_so(postgres_server: PostgresServer) -> None:
    with pytest.raises(StorageError, match='database "missing" does not exist'):
        PostgresCatalog(postgres_server.url("missing"))


def test_a_dropped_connection_fails_one_call_and_the_next_reconnects(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    pg_accounts = PostgresAccounts(postgres_url)
    pg_accounts.add_user("alice")
    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.admin() as admin:
        ended = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'palletizer') t",
            (database,),
        ).fetchone()
    assert ended == (1,)
    with pytest.raises(StorageError, match="PostgreSQL at 127.0.0.1"):
        pg_accounts.users()
    assert pg_accounts.users() == ["alice"]


def test_waiting_for_a_lock_is_bounded_by_the_statement_timeout(
    postgres_server: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_store, "STATEMENT_TIMEOUT_MS", 300)
    pg_accounts = PostgresAccounts(postgres_url)
    with postgres_server.admin(postgres_url.rsplit("/", 1)[1]) as holder, holder.transaction():
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (PostgresAccounts.lock_key,))
        with pytest.raises(StorageError, match="statement timeout"):
            pg_accounts.add_user("alice")
    pg_accounts.add_user("alice")
    assert pg_accounts.users() == ["alice"]


def test_reads_of_one_statement_do_not_wait_for_a_writer_s_lock(
    postgres_server: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_store, "STATEMENT_TIMEOUT_MS", 2000)
    pg_accounts, catalog, search, _ = open_pg_stores(postgres_url)
    pg_accounts.add_user("alice")
    pg_accounts.add_owner("foo", "alice")
    _, token = pg_accounts.create_token("alice")
    catalog.record_version("foo", "1.0.0", "alice", {"description": "d", "readme": "# R"}, published=1.0)
    with postgres_server.admin(postgres_url.rsplit("/", 1)[1]) as holder, holder.transaction():
        for store in (PostgresAccounts, PostgresCatalog):
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (store.lock_key,))
        assert pg_accounts.authenticate(token).user == "alice"
        assert pg_accounts.owners("foo") == ["alice"] and pg_accounts.users() == ["alice"]
        assert catalog.versions("foo")["1.0.0"].publisher == "alice" and catalog.downloads("foo") == 0
        assert catalog.readme_html("foo", "1.0.0") == "<h1>R</h1>\n" and catalog.last_published() == {"foo": 1.0}
        with pytest.raises(StorageError, match="statement timeout"):
            pg_accounts.add_user("bob")
