"""The stores of a registry on one machine: files in the data directory, git for the index, SQLite for the rest."""

from functools import partial
from pathlib import Path

from palletizer_lib.disk.files import exclusive_lock
from palletizer_lib.disk.layout import Layout
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.crates import LocalCrateStore
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.protocols import RegistryStores
from palletizer_lib.stores.publish_marker import LocalPublishMarker
from palletizer_lib.stores.reverse_dependencies import ReverseDependencies
from palletizer_lib.stores.search_index import SearchIndex
from palletizer_lib.stores.served_index import LocalServedIndex
from palletizer_lib.stores.summaries import LocalSummaries


def local_stores(layout: Layout, config: RegistryConfig, git: Path | None = None) -> RegistryStores:
    """The stores of a data directory on local disk (git for the index, SQLite for the catalog, the search
    table, the reverse dependencies and the accounts); the git index at `git` if given, else `index.git/`."""
    return RegistryStores(
        LocalCrateStore(layout.crates),
        LocalServedIndex(layout.index),
        LocalSummaries(layout),
        Catalog(layout.catalog),
        SearchIndex(layout.catalog),
        ReverseDependencies(layout.catalog),
        partial(exclusive_lock, layout.lock),
        LocalPublishMarker(layout.pending),
        Accounts(layout.accounts),
        GitIndex(git or layout.git, squash_after=config.git_squash_after),
        directories=local_directories(layout),
    )


def local_directories(layout: Layout) -> dict[str, Path]:
    """The directories a registry on local disk writes, by what they are called."""
    return {
        "the data directory": layout.root,
        "index/": layout.index,
        "crates/": layout.crates,
        "names/": layout.names,
        "index.git/": layout.git,
    }
