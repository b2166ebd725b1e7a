"""The composition root: one registry's parts, built once per process for a data directory."""

from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.core.access import Access, FailureLimiter
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.stores.protocols import AccountStore, CatalogStore


@dataclass(frozen=True)
class Site:
    """A registry with its account store, its catalog, authentication and the operations over them."""

    registry: Registry
    accounts: AccountStore
    catalog: CatalogStore
    access: Access
    operations: Operations


def compose(registry: Registry, accounts: AccountStore | None = None, limiter: FailureLimiter | None = None) -> Site:
    """The parts around an open `registry`: its catalog, and the given account store, by default its own."""
    accounts = accounts or registry.stores.accounts
    catalog = registry.stores.catalog
    return Site(
        registry, accounts, catalog, Access(registry, accounts, limiter), Operations(registry, accounts, catalog)
    )


def open_site(data_dir: Path | str) -> Site:
    """The registry in `data_dir`, with its parts."""
    return compose(Registry(Path(data_dir)))
