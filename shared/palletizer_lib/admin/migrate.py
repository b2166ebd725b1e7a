"""Moving a registry between the layout of one machine (its data directory's git index, `crates/`, `index/`,
`names/`, `accounts.sqlite3` and `catalog.sqlite3`) and the layout of several nodes (an S3 bucket and a
PostgreSQL database), either way.

Under the source's write lock and the target's, once the source verifies clean and the target is found to hold
nothing: the crate files are copied key by key; the accounts and the catalog table by table, ids kept, so that
owners and tokens still match; the index's current files (`config.json` too) are committed to the target as
one change, "Import the index of ...": the history is not carried over (git's own is squashed anyway), and
what follows from the index (served files, summaries, search, reverse dependencies) is rebuilt by the target's
own sync. Then everything is compared with the source and the target verified; only then does the data
directory switch over: its git index is set aside (`index.git.before-migrate`: the local index, or this node's
replica of the cluster's) for the target's (an empty replica, or the one-commit local index), and
`config.yaml` is rewritten last, atomically. The source is left as it was, for an operator to delete.
"""

import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from palletizer_lib.disk.files import fsync_dir
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import BadRequest, Conflict, PalletizerError, RegistryExists, StorageError
from palletizer_lib.index import maintenance
from palletizer_lib.index.store import IndexStore
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.local import local_stores
from palletizer_lib.stores.opening import open_stores
from palletizer_lib.stores.postgres import PostgresStore, describe
from palletizer_lib.stores.protocols import RegistryStores
from palletizer_lib.stores.served_index import HEAD_KEY
from palletizer_lib.stores.sql import SqlStore

# The columns of every table copied, by store; a table whose `id` the database generates is listed in
# GENERATED_IDS. Parents before children (tokens and owners name users).
ACCOUNT_TABLES = {
    "users": ("id", "name", "created"),
    "tokens": ("id", "user_id", "hash", "scopes", "created", "expires", "revoked"),
    "owners": ("crate", "user_id"),
    "audit": ("id", "time", "actor", "action", "crate", "version", "address", "detail"),
}
CATALOG_TABLES = {
    "versions": ("crate", "vers", "name", "published", "publisher", "metadata"),
    "readmes": ("crate", "vers", "html"),
    "downloads": ("crate", "vers", "count"),
}
GENERATED_IDS = ("users", "tokens", "audit")
SEARCH_TABLE = "crate_search"
REVERSE_DEPENDENCIES_TABLE = "reverse_dependencies"
SHOWN_MISMATCHES = 5


@dataclass(frozen=True)
class Migrated:
    """What a migration copied, to where, and where the data directory's former git index now is."""

    source: str
    target: str
    crate_files: int
    index_files: int
    rows: dict[str, int]
    set_aside: Path | None


def migrate_to_cluster(data_dir: Path, storage: StorageConfig, database: str) -> Migrated:
    """Move the registry in `data_dir` from its own files to the bucket `storage` and the PostgreSQL
    database `database` (see the module's docstring); RegistryExists if either already holds a registry."""
    layout = Layout(Path(data_dir))
    config = RegistryConfig.load(layout.config)
    if config.storage is not None or config.database is not None:
        raise BadRequest(
            f"the registry in {data_dir} is not kept in its own files: `migrate --local` moves "
            "a registry on several nodes back"
        )
    target_config = replace(config, storage=storage.to_mapping(), database=database).checked(layout.config)
    return _migrate(layout, config, target_config)


def migrate_to_local(data_dir: Path) -> Migrated:
    """Move the registry in `data_dir` from its bucket and database to the data directory's own files (see
    the module's docstring); RegistryExists if the data directory already holds a registry's files."""
    layout = Layout(Path(data_dir))
    config = RegistryConfig.load(layout.config)
    if config.storage is None or config.database is None:
        raise BadRequest(
            f"the registry in {data_dir} is not kept in a bucket and a database: `migrate "
            "--storage s3://BUCKET --database URL` moves a registry there"
        )
    if not layout.git.is_dir():
        raise BadRequest(
            f"{data_dir} has no index.git/ (a node's replica of the index): migrate from a copy of "
            "a node's data directory"
        )
    return _migrate(layout, config, replace(config, storage=None, database=None))


def _migrate(layout: Layout, config: RegistryConfig, target_config: RegistryConfig) -> Migrated:
    if layout.git_set_aside.exists():
        raise Conflict(
            f"{layout.git_set_aside} is left from an earlier migration: delete it (or move it elsewhere) first"
        )
    source_name, target_name = _describe(layout, config), _describe(layout, target_config)
    source = open_stores(layout, config)
    with ExitStack() as held:
        held.enter_context(source.lock())
        source_index = IndexStore(layout, source.log, source)
        problems = maintenance.verify(source_index)
        if problems:
            raise Conflict(f"{source_name} does not verify ({problems[0]}): run `palletizer verify --repair` first")
        _remove_staged(layout)
        held.callback(_remove_staged, layout)
        target = _open_target(layout, target_config, target_name)
        held.enter_context(target.lock())
        _refuse_unless_empty(target, target_name)
        if target_config.database is None:
            for folder in (layout.index, layout.crates, layout.names):
                folder.mkdir(exist_ok=True)
        try:
            crate_files, index_files, rows = _copy(
                source_index, IndexStore(layout, target.log, target), f"Import the index of {source_name}"
            )
        except PalletizerError as exc:
            raise StorageError(
                f"migrating to {target_name} failed: {exc.detail}; the source is unchanged, the "
                "target holds part of a copy: empty it before trying again"
            ) from exc
        if target_config.database is not None:
            GitIndex.create(layout.git_staged)
        set_aside = _switch(layout, target_config)
    return Migrated(source_name, target_name, crate_files, index_files, rows, set_aside)


def _describe(layout: Layout, config: RegistryConfig) -> str:
    storage = config.storage_config
    if storage is None or config.database is None:
        return f"the data directory {layout.root}"
    return f"s3://{storage.bucket}/{storage.prefix} with the database at {describe(config.database)}"


def _open_target(layout: Layout, config: RegistryConfig, name: str) -> RegistryStores:
    """The target's stores: the bucket's and the database's (refused first if the bucket holds an object
    under its prefix), or the data directory's own with a new git index at `git_staged` (refused first if
    its folders hold a file)."""
    storage = config.storage_config
    if storage is not None and config.database is not None:
        from palletizer_lib.stores.cluster import cluster_stores
        from palletizer_lib.stores.s3 import first_object

        key = first_object(storage)
        if key is not None:
            raise RegistryExists(f"{name} already holds a registry (the object {key} exists): nothing was changed")
        return cluster_stores(layout, config)
    for folder in (layout.crates, layout.index, layout.names):
        stored = next((path for path in folder.rglob("*") if path.is_file()), None)
        if stored is not None:
            raise RegistryExists(f"{name} already holds a registry ({stored} exists): nothing was changed")
    GitIndex.create(layout.git_staged)
    return local_stores(layout, config, git=layout.git_staged)


def _remove_staged(layout: Layout) -> None:
    """Drop the git index a migration prepared and did not put in place (its own folder only)."""
    if layout.git_staged.exists():
        shutil.rmtree(layout.git_staged)


def _refuse_unless_empty(target: RegistryStores, name: str) -> None:
    """RegistryExists if any of the target's stores holds something already."""
    found = []
    if target.log.head() is not None:
        found.append("an index")
    if next(iter(target.crates.list()), None) is not None or next(iter(target.served.list()), None) is not None:
        found.append("crate or index files")
    if target.served.get(HEAD_KEY) is not None or next(iter(target.summaries.keys()), None) is not None:
        found.append("a served index")
    for store, tables in (
        (target.accounts, ACCOUNT_TABLES),
        (target.catalog, CATALOG_TABLES),
        (target.search, {SEARCH_TABLE: ()}),
        (target.reverse_dependencies, {REVERSE_DEPENDENCIES_TABLE: ()}),
    ):
        found += [f"rows in {table}" for table in tables if _has_rows(_sql(store), table)]
    if found:
        raise RegistryExists(f"{name} already holds a registry ({', '.join(found)}): nothing was changed")


def _copy(source: IndexStore, target: IndexStore, message: str) -> tuple[int, int, dict[str, int]]:
    """Copy the crate files, the accounts, the catalog and the index from `source` to `target`, rebuild
    what follows from the index there, and check that the target holds what the source does: how many crate
    files, index files and rows of each table were copied."""
    crate_files = 0
    for key in source.crates.list():
        data = source.crates.get(key)
        if data is None:
            raise StorageError(f"crates/{key} vanished while being copied")
        target.crates.put(key, data)
        crate_files += 1
    rows = {
        **copy_tables(_sql(source.stores.accounts), _sql(target.stores.accounts), ACCOUNT_TABLES),
        **copy_tables(_sql(source.catalog), _sql(target.catalog), CATALOG_TABLES),
    }
    files: dict[str, bytes | None] = {path: source.log.blob(blob_id) for path, blob_id in source.log.files()}
    if files:
        target.log.commit(files, message)
    target.sync_served_index()
    target.rebuild_search_index()
    target.rebuild_reverse_dependencies()
    mismatches = list(_differences(source, target))
    mismatches += maintenance.verify(target)
    if mismatches:
        shown = "; ".join(mismatches[:SHOWN_MISMATCHES])
        raise StorageError(f"the copy does not match the source ({len(mismatches)} difference(s): {shown})")
    return crate_files, len(files), rows


def copy_tables(source: SqlStore, target: SqlStore, tables: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Copy every row of `tables` (name: columns) from `source` into `target`, in one transaction on each,
    ids included; a database generating ids is then set to go on past the largest copied. How many rows
    each table had."""
    counts = {}
    with source.transaction() as reading, target.transaction() as writing:
        for table, columns in tables.items():
            listed = ", ".join(columns)
            rows = reading.execute(f"SELECT {listed} FROM {table}").fetchall()
            if rows:
                writing.executemany(f"INSERT INTO {table} ({listed}) VALUES ({', '.join('?' * len(columns))})", rows)
            if rows and table in GENERATED_IDS and isinstance(target, PostgresStore):
                writing.execute(f"SELECT setval(pg_get_serial_sequence(?, 'id'), max(id)) FROM {table}", (table,))
            counts[table] = len(rows)
    return counts


def table_rows(store: SqlStore, table: str, columns: tuple[str, ...]) -> Counter[tuple[object, ...]]:
    """Every row of `table` (its `columns`), as a multiset."""
    with store.transaction() as db:
        return Counter(tuple(row) for row in db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall())


def _differences(source: IndexStore, target: IndexStore) -> Iterator[str]:
    """What the target lacks or holds otherwise than the source: index files, crate file keys, table rows."""
    source_files = dict(source.log.files())
    target_paths = {path for path, _ in target.log.files()}
    for path in sorted(source_files.keys() | target_paths):
        if path not in source_files or target.log.read(path) != source.log.blob(source_files[path]):
            yield f"the index file {path} differs"
    source_keys, target_keys = list(source.crates.list()), list(target.crates.list())
    if source_keys != target_keys:
        yield f"the crate files differ ({len(source_keys)} here, {len(target_keys)} there)"
    for source_store, target_store, tables in (
        (source.stores.accounts, target.stores.accounts, ACCOUNT_TABLES),
        (source.catalog, target.catalog, CATALOG_TABLES),
    ):
        for table, columns in tables.items():
            if table_rows(_sql(source_store), table, columns) != table_rows(_sql(target_store), table, columns):
                yield f"the rows of {table} differ"


def _switch(layout: Layout, config: RegistryConfig) -> Path | None:
    """Put the prepared git index in place of the data directory's (set aside, if there is one), then
    write `config.yaml` naming the target; where the former git index now is."""
    set_aside = None
    if layout.git.exists():
        layout.git.rename(layout.git_set_aside)
        set_aside = layout.git_set_aside
    layout.git_staged.rename(layout.git)
    fsync_dir(layout.root)
    config.save(layout.config)
    return set_aside


def _has_rows(store: SqlStore, table: str) -> bool:
    with store.transaction() as db:
        return db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None


def _sql(store: object) -> SqlStore:
    if not isinstance(store, SqlStore):
        raise BadRequest(f"{type(store).__name__} is not kept in a SQL database, so it cannot be migrated")
    return store
