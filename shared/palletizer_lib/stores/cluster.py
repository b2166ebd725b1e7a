"""The stores of a registry beyond one machine: crate files and served index files in an S3 bucket
(`storage`), and the index itself (its files and the log of changes), accounts, catalog, search, summaries,
the publish marker and the write lock in PostgreSQL (`database`). With both, several nodes serve one
registry: each keeps only a config-only data directory and its own git replica of the index, rebuilt from the
log with the same commits on every node. Either alone keeps the rest in the data directory (one machine).

Imported only when `config.yaml` names `storage` or `database`, so a registry on one machine never imports
boto3 or psycopg.
"""

from dataclasses import replace

from palletizer_lib.disk.layout import Layout
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.crates import CrateStore, LocalCrateStore
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.git_replica import GitReplica
from palletizer_lib.stores.local import local_directories, local_stores
from palletizer_lib.stores.protocols import RegistryStores
from palletizer_lib.stores.served_index import LocalServedIndex, ServedIndex


def cluster_stores(layout: Layout, config: RegistryConfig) -> RegistryStores:
    """The stores `config` names (`storage`, `database`), the data directory's for the rest; the database's
    schema is created if missing, the bucket is not asked anything yet."""
    storage = config.storage_config
    crates: CrateStore
    served: ServedIndex
    if storage is not None:
        from palletizer_lib.stores.s3 import open_s3_stores

        crates, served = open_s3_stores(storage)
    else:
        crates, served = LocalCrateStore(layout.crates), LocalServedIndex(layout.index)
    directories = {
        name: path
        for name, path in local_directories(layout).items()
        if storage is None or name not in ("index/", "crates/")
    }
    if config.database is None:
        return replace(local_stores(layout, config), crates=crates, served=served, directories=directories)
    from palletizer_lib.stores.postgres_index import HeadInDatabase, PgIndex, PgIndexLog, PgPublishMarker, PgSummaries
    from palletizer_lib.stores.postgres_tables import open_pg_stores

    index = PgIndex(config.database)
    accounts, catalog, search, reverse_dependencies = open_pg_stores(config.database)
    log = PgIndexLog(index, squash_every=config.git_squash_after)
    replica = GitReplica(
        GitIndex(layout.git) if layout.git.exists() else GitIndex.create(layout.git),
        layout.root / "git-replica.lock",
        squash_every=config.git_squash_after,
        source=log,
    )
    directories = {name: path for name, path in directories.items() if name in ("the data directory", "index.git/")}
    return RegistryStores(
        crates,
        HeadInDatabase(served, index),
        PgSummaries(index),
        catalog,
        search,
        reverse_dependencies,
        index.write_lock,
        PgPublishMarker(index),
        accounts,
        log,
        replica,
        directories,
    )


def prepare_bucket(config: RegistryConfig) -> None:
    """Ask the bucket `config` names for one key, so that a wrong endpoint, bucket or credentials is a
    StorageError before a registry is set up over it (the database was reached when its stores opened); with
    `direct_reads`, let anyone read (and list) its `index/` and `crates/`."""
    storage = config.storage_config
    if storage is not None:
        from palletizer_lib.stores.s3 import check_storage, publish_prefixes

        check_storage(storage)
        if storage.direct_reads:
            publish_prefixes(storage)
