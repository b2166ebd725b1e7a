"""The one place that opens a registry's stores: those of the data directory, or of a registry on several nodes."""

from palletizer_lib.disk.layout import Layout
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.local import local_stores
from palletizer_lib.stores.protocols import RegistryStores


def open_stores(layout: Layout, config: RegistryConfig) -> RegistryStores:
    """The stores `config` names: the data directory's own (`local_stores`), or, when it names `storage` or
    `database`, those of a registry on several nodes (`cluster.cluster_stores`, imported only then)."""
    if config.storage is None and config.database is None:
        return local_stores(layout, config)
    from palletizer_lib.stores.cluster import cluster_stores

    return cluster_stores(layout, config)
