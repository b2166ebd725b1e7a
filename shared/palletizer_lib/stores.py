"""What the operations, the services and the command line need of an account store and of a catalog, and
the stores one registry is built from (`RegistryStores`).

`accounts.Accounts` and `catalog.Catalog` (SQLite files in the data directory) implement the first two.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from .accounts import Accounts, AuditEntry, Identity, TokenInfo
from .catalog import Catalog, VersionInfo
from .config import RegistryConfig
from .crate_store import CrateStore, LocalCrateStore
from .download_counter import DownloadCounter
from .git_index import GitIndex
from .git_replica import GitReplica
from .layout import Layout
from .pending import LocalPending, PendingMarker
from .reverse_dependencies import ReverseDependencies
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
    def other_downloads(self) -> int: ...
    def last_published(self) -> dict[str, float]: ...


class IndexLog(Protocol):
    """The index's source of truth, one commit per change: the git index (`git_index.GitIndex`) on one
    machine, PostgreSQL's log (`pg_index.PgIndexLog`) on several."""

    def head(self) -> bytes | None: ...
    def read(self, path: str, commit_id: bytes | None = None) -> bytes | None: ...
    def commit(self, changes: dict[str, bytes | None], message: str) -> bytes: ...
    def changed_paths(self, old: bytes | None, new: bytes) -> Iterator[str]: ...
    def files(self, commit_id: bytes | None = None) -> Iterator[tuple[str, bytes]]: ...
    def blob(self, blob_id: bytes) -> bytes: ...
    def squash(self, message: str) -> bytes | None: ...
    def unreadable(self) -> str | None: ...
    def remove_stale_locks(self, objects_too: bool) -> list[Path]: ...


# The registry's write lock: held around every change; says on entry whether its last holder died holding it.
WriteLock = Callable[[], AbstractContextManager[bool]]


@dataclass(frozen=True)
class RegistryStores:
    """Where one registry keeps its index (`log`, the source of truth, and `replica`, the git index served on
    a node when the log is not one), crate files, served index files, crate summaries, the catalog, the search
    table, the reverse dependencies and the accounts; how its writers take turns (the write lock, the pending
    marker); and which directories of the data directory must be writable (by what they are called)."""

    crates: CrateStore
    served: ServedIndex
    summaries: SummaryStore
    catalog: CatalogStore
    search: SearchIndex
    reverse_dependencies: ReverseDependencies
    lock: WriteLock
    pending: PendingMarker
    accounts: AccountStore
    log: IndexLog
    replica: GitReplica | None = None
    directories: dict[str, Path] = field(default_factory=dict)


def open_stores(layout: Layout, config: RegistryConfig) -> RegistryStores:
    """The stores `config` names: the data directory's own (`local_stores`), or, when it names `storage` or
    `database`, those of a registry on several nodes (`cluster.cluster_stores`, imported only then)."""
    if config.storage is None and config.database is None:
        return local_stores(layout, config)
    from .cluster import cluster_stores

    return cluster_stores(layout, config)


def local_stores(layout: Layout, config: RegistryConfig, git: Path | None = None) -> RegistryStores:
    """The stores of a data directory on local disk (git for the index, SQLite for the catalog, the search
    table, the reverse dependencies and the accounts); the git index at `git` if given, else `index.git/`."""
    return RegistryStores(LocalCrateStore(layout.crates), LocalServedIndex(layout.index), LocalSummaries(layout),
                          Catalog(layout.catalog), SearchIndex(layout.catalog), ReverseDependencies(layout.catalog),
                          partial(exclusive_lock, layout.lock),
                          LocalPending(layout.pending), Accounts(layout.accounts),
                          GitIndex(git or layout.git, squash_after=config.git_squash_after),
                          directories=local_directories(layout))


def local_directories(layout: Layout) -> dict[str, Path]:
    """The directories a registry on local disk writes, by what they are called."""
    return {"the data directory": layout.root, "index/": layout.index, "crates/": layout.crates,
            "names/": layout.names, "index.git/": layout.git}
