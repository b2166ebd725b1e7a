"""What the operations, the services and the command line need of an account store and of a catalog, and
the stores one registry is built from (`RegistryStores`).

`accounts.Accounts` and `catalog.Catalog` (SQLite files in the data directory) implement the first two.
"""

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from .accounts import AuditEntry, Identity, TokenInfo
from .catalog import Catalog, VersionInfo
from .crate_store import CrateStore, LocalCrateStore
from .download_counter import DownloadCounter
from .layout import Layout
from .pending import LocalPending, PendingMarker
from .search_index import SearchIndex
from .served_index import LocalServedIndex, ServedIndex
from .storage import exclusive_lock
from .summaries import LocalSummaries, SummaryStore


class AccountStore(Protocol):
    """Users, their tokens, crate owners and the audit log."""

    def add_user(self, name: str) -> None: ...
    def remove_user(self, name: str) -> None: ...
    def users(self) -> list[str]: ...
    def create_token(self, user: str, scopes: Iterable[str] = ..., expires_days: float | None = None
                     ) -> tuple[int, str]: ...
    def tokens(self, user: str | None = None) -> list[TokenInfo]: ...
    def revoke_token(self, token_id: int) -> None: ...
    def authenticate(self, token: str | None) -> Identity: ...
    def owners(self, crate: str) -> list[str]: ...
    def is_owner(self, crate: str, user_id: int) -> bool: ...
    def add_owner(self, crate: str, user: str) -> None: ...
    def remove_owner(self, crate: str, user: str) -> None: ...
    def change_owners(self, crate: str, users: list[str], add: bool, actor: str, address: str | None) -> None: ...
    def record(self, actor: str, action: str, crate: str | None = None, version: str | None = None,
               address: str | None = None, detail: str | None = None) -> None: ...
    def audit(self, limit: int = 100) -> list[AuditEntry]: ...


class CatalogStore(Protocol):
    """What is known of each version beyond the index: who published it and when, its description and
    README, its downloads (counted through `pending`, in batches)."""

    pending: DownloadCounter

    def record_version(self, name: str, vers: str, publisher: str | None, metadata: dict,
                       published: float | None = None) -> None: ...
    def forget_version(self, name: str, vers: str) -> None: ...
    def tagged(self, field: str, value: str) -> set[str]: ...
    def readme_html(self, name: str, vers: str) -> str: ...
    def render_missing_readmes(self) -> list[str]: ...
    def count_download(self, name: str, vers: str) -> None: ...
    def add_downloads(self, counts: Mapping[tuple[str, str], int]) -> None: ...
    def versions(self, name: str) -> dict[str, VersionInfo]: ...
    def downloads(self, name: str) -> int: ...
    def version_downloads(self, name: str) -> dict[str, int]: ...
    def downloads_by_crate(self, names: Iterable[str] | None = None) -> dict[str, int]: ...
    def downloads_by_exact_name(self) -> list[tuple[str, int]]: ...
    def last_published(self) -> dict[str, float]: ...


# The registry's write lock: held around every change; says on entry whether its last holder died holding it.
WriteLock = Callable[[], AbstractContextManager[bool]]


@dataclass(frozen=True)
class RegistryStores:
    """Where one registry keeps what is not its git index: crate files, served index files, crate summaries,
    the catalog and the search table; and how its writers take turns (the write lock, the pending marker)."""

    crates: CrateStore
    served: ServedIndex
    summaries: SummaryStore
    catalog: CatalogStore
    search: SearchIndex
    lock: WriteLock
    pending: PendingMarker


def local_stores(layout: Layout) -> RegistryStores:
    """The stores of a data directory on local disk (SQLite for the catalog and the search table)."""
    return RegistryStores(LocalCrateStore(layout.crates), LocalServedIndex(layout.index), LocalSummaries(layout),
                          Catalog(layout.catalog), SearchIndex(layout.catalog), partial(exclusive_lock, layout.lock),
                          LocalPending(layout.pending))
