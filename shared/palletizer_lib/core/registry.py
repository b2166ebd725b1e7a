"""A registry on disk: publish, yank, remove, search and verify; a façade over the crate store
(`stores.crates`), the index store and its commit protocol (`index.store`), search (`core.search`) and
maintenance (`index.maintenance`).

Every change takes the registry lock, then goes through the index store.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from palletizer_lib.core.search import CrateSearch, CrateSummary
from palletizer_lib.core.undo_on_failure import directories_removed_on_failure, entries_removed_on_failure
from palletizer_lib.disk.files import exclusive_lock
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import (
    AlreadyPublished,
    Conflict,
    CrateNotFound,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RegistryExists,
    StorageError,
)
from palletizer_lib.domain.index_entry import (
    IndexEntry,
    dump_lines,
    entry_from_manifest,
    entry_from_metadata,
    pubtime,
    same_release,
)
from palletizer_lib.domain.manifest import check_manifest_matches
from palletizer_lib.domain.names import crate_key, index_path, validate_name
from palletizer_lib.domain.packaged_crate import PackagedCrate, read_packaged
from palletizer_lib.domain.progress import Progress
from palletizer_lib.domain.urls import ServedUrls, config_json, from_config_json, root_of_index
from palletizer_lib.domain.versions import find_version, max_version, parse_version
from palletizer_lib.index import maintenance
from palletizer_lib.index.store import IndexStore
from palletizer_lib.mirror.credentials import save_credentials
from palletizer_lib.mirror.policy import check_new_name
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.settings.permissions import PRIVATE_DIR_MODE, make_private
from palletizer_lib.stores.crates import StoredCrate
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.opening import open_stores
from palletizer_lib.stores.protocols import RegistryStores
from palletizer_lib.stores.reverse_dependencies import Dependent
from palletizer_lib.stores.search_index import SearchIndex
from palletizer_lib.stores.served_index import CONFIG_JSON, ServedFile

Authorize = Callable[[str, bool], None]
UNPACKED_LIMIT_FACTOR = 20


class Registry:
    """One registry in a data directory; safe to share between threads and processes."""

    def __init__(self, data_dir: Path, stores: RegistryStores | None = None) -> None:
        """The registry in `data_dir`, over `stores` (by default those of the data directory itself)."""
        self.layout = Layout(Path(data_dir))
        self.config = RegistryConfig.load(self.layout.config)
        self._urls: ServedUrls | None = None
        self.stores = stores or open_stores(self.layout, self.config)
        self.log = self.stores.log
        self.crates = self.stores.crates
        self.index = IndexStore(self.layout, self.log, self.stores)
        self.searching = CrateSearch(self.index, self.stores.lock, self.layout, self.config.upstream)
        self.clock: Callable[[], float] = time.time

    @classmethod
    def create(
        cls, data_dir: Path, config: RegistryConfig, upstream_credentials: tuple[str, str] | None = None
    ) -> "Registry":
        """Initialise an empty registry in `data_dir` (with the upstream's user and password, if given, kept
        apart from `config.yaml`); RegistryExists if it already holds one.

        Done under the registry lock, with `config.yaml` written last, once the stores it names are reached:
        processes racing to initialise one directory make exactly one registry, and the others get
        RegistryExists; a bucket or database that cannot be reached leaves no registry behind: what this call
        made in the data directory (and the directory itself, if it made it) is removed again. The data
        directory and its private files are made readable by their owner only (`permissions.make_private`).
        """
        layout = Layout(Path(data_dir))
        config = config.checked(layout.config)
        with directories_removed_on_failure(layout):
            layout.root.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            with exclusive_lock(layout.lock):
                if layout.config.exists():
                    raise RegistryExists(f"{data_dir} already holds a registry")
                with entries_removed_on_failure(layout.root):
                    make_private(layout)
                    for directory in (layout.index, layout.crates, layout.names):
                        directory.mkdir(exist_ok=True)
                    if not layout.git.exists():
                        GitIndex.create(layout.git)
                    stores = open_stores(layout, config)
                    if config.storage is not None:
                        from palletizer_lib.stores.cluster import prepare_bucket

                        prepare_bucket(config)
                    if upstream_credentials is not None:
                        save_credentials(layout.root, upstream_credentials)
                    config.save(layout.config)
        registry = cls(data_dir, stores)
        if not registry.search_index.is_built():
            registry.search_index.rebuild([], {})
        if not registry.index.reverse_dependencies.is_built():
            registry.index.reverse_dependencies.rebuild([])
        if config.public_url:
            registry.set_urls(config.served_urls(config.public_url))
        make_private(layout)
        return registry

    # -- reading -------------------------------------------------------------------------

    def served_git(self) -> GitIndex:
        """The git index served over HTTP, brought up to the index first where it is a replica of it."""
        if self.stores.replica is not None:
            return self.stores.replica.followed()
        if isinstance(self.log, GitIndex):
            return self.log
        raise StorageError("this registry's index is neither a git index nor followed by a git replica")

    def canonical_name(self, name: str) -> str | None:
        """The stored spelling of the crate `name` refers to (any case, `-` or `_`), if any."""
        return self.index.canonical_name(name)

    def served_index_file(self, name: str) -> ServedFile | None:
        """The served sparse index file cargo should get when it asks for `name` (any spelling)."""
        return self.index.served_file(name)

    def is_local(self, name: str) -> bool:
        """True if crate `name`, in any spelling, is published here (so the mirror never asks the upstream)."""
        return self.canonical_name(name) is not None or self.served_index_file(name) is not None

    def entries(self, name: str) -> list[IndexEntry]:
        """The index entries of crate `name` (any spelling); NotFound if there is none."""
        canonical = self.canonical_name(name)
        entries = self.index.served_entries(name) or (self.index.served_entries(canonical) if canonical else [])
        if not entries:
            raise CrateNotFound(name)
        return entries

    def is_published(self, name: str, version: str) -> bool:
        """True if the git index (the source of truth) holds exactly this version of `name`."""
        return self.index.is_published(name, version)

    def open_crate(self, name: str, version: str) -> StoredCrate:
        """The file of one published version opened for download (the caller closes it); NotFound if absent."""
        stored = self.crates.open(self._crate_key(name, version))
        if stored is None:
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        return stored

    def stored_crate(self, name: str, version: str) -> bytes:
        """The file of one published version; NotFound if absent."""
        stored = self.crates.get(self._crate_key(name, version))
        if stored is None:
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        return stored

    def crate_size(self, name: str, version: str) -> int | None:
        """The size of one published version's file, or None if it has none."""
        return self.crates.size(self._crate_key(name, version))

    def summaries(self) -> Iterator[CrateSummary]:
        """Every crate's summary, in no particular order."""
        return self.searching.summaries()

    @property
    def search_index(self) -> SearchIndex:
        """What search and the list pages read (kept with each summary; built on first use if missing)."""
        return self.index.search_index

    def search(
        self, query: str, limit: int, offset: int = 0, sort: str | None = None, only: set[str] | None = None
    ) -> tuple[int, list[CrateSummary]]:
        """Crates matching `query`: (total matches, `limit` of them from `offset`); see `CrateSearch.search`."""
        return self.searching.search(query, limit, offset, sort, only)

    def dependents(self, name: str, limit: int, offset: int = 0) -> tuple[int, list[Dependent]]:
        """The crates whose shown version depends on crate `name` (any spelling; NotFound if there is none):
        (how many, `limit` of them from `offset`), the most downloaded first, then by name. From the reverse
        dependencies table alone (built under the write lock on first use, for a registry made before it)."""
        if self.canonical_name(name) is None:
            raise CrateNotFound(name)
        table = self.index.reverse_dependencies
        if not table.is_built():
            with self.stores.lock():
                if not table.is_built():
                    self.index.rebuild_reverse_dependencies()
        return self.index.dependents(name, limit, offset)

    # -- writing -------------------------------------------------------------------------

    def publish(
        self, metadata: dict[str, object], crate: bytes | memoryview, authorize: Authorize | None = None
    ) -> IndexEntry:
        """Add a version from cargo's publish metadata and .crate bytes; return its index entry.

        `authorize(name, exists)` is called under the write lock before anything is written.
        """
        return self.publish_packaged(metadata, crate, authorize)[0]

    def publish_packaged(
        self, metadata: dict[str, object], crate: bytes | memoryview, authorize: Authorize | None = None
    ) -> tuple[IndexEntry, PackagedCrate]:
        """`publish`, returning the .crate file as it was read too."""
        entry = entry_from_metadata(metadata, "")  # its checksum comes from the one read of the archive
        parse_version(entry["vers"])
        self.check_crate_size(len(crate))
        packaged = read_packaged(crate, self._unpacked_limit(), (entry["name"], entry["vers"]))
        entry["cksum"] = packaged.checksum
        check_manifest_matches(packaged.manifest, entry, self.own_index_urls())
        description = metadata.get("description")
        self._store_new_version(entry, crate, description if isinstance(description, str) else "", authorize)
        return entry, packaged

    def add(
        self,
        crate: bytes | memoryview,
        packaged: PackagedCrate | None = None,
        *,
        published: float | None = None,
        yanked: bool = False,
    ) -> IndexEntry:
        """Add a version from a .crate file alone (its packaged Cargo.toml); return its index entry.
        `packaged` is the file as `read` returned it, if already read; `published` the time its entry's
        `pubtime` says (default: now), `yanked` whether it is added yanked (in the same commit)."""
        packaged = packaged or self.read(crate)
        entry = self.entry_of(packaged)
        entry["yanked"] = yanked
        self._store_new_version(entry, crate, packaged.description, published=published)
        return entry

    def read(self, crate: bytes | memoryview) -> PackagedCrate:
        """A .crate file made elsewhere, read once within this registry's limits."""
        self.check_crate_size(len(crate))
        return read_packaged(crate, self._unpacked_limit())

    def entry_of(self, packaged: PackagedCrate) -> IndexEntry:
        """The index entry `add` makes of a .crate file, from its packaged Cargo.toml."""
        return entry_from_manifest(packaged.manifest, packaged.checksum, self.own_index_urls())

    def squash_git(self) -> bool:
        """Replace the git index's history by one commit holding its newest tree; False if it has none."""
        with self._writing():
            return self.index.squash()

    def set_yanked(self, name: str, version: str, yanked: bool) -> None:
        """Yank (or unyank) one version; doing it twice is not an error."""
        with self._writing():
            parse_version(version)
            canonical, entries = self._locked_entries(name)
            entry = find_version(canonical, entries, version)
            if entry["yanked"] == yanked:
                return
            entry["yanked"] = yanked
            action = "Yank" if yanked else "Unyank"
            self._commit({index_path(canonical): dump_lines(entries)}, f"{action} {canonical} {entry['vers']}")

    def remove(self, name: str, version: str) -> None:
        """Delete one version's index entry and its crate file."""
        with self._writing():
            parse_version(version)
            canonical, entries = self._locked_entries(name)
            entry = find_version(canonical, entries, version)
            self.index.remove_version(canonical, entry["vers"], [e for e in entries if e is not entry])

    def set_urls(self, urls: ServedUrls) -> None:
        """Make the index's `config.json` point cargo at `urls` (a commit only if it changed)."""
        content = config_json(urls, self.config.auth_required)
        message = f"Serve the registry at {urls.public}"
        if (urls.api, urls.files) != (urls.public, urls.public):
            message += f" (web API at {urls.api}, downloads at {urls.files})"
        if self.config.auth_required:
            message += ", tokens required for reads"
        with self._writing():
            if self.log.read(CONFIG_JSON) != content:
                self._commit({CONFIG_JSON: content}, message)
        self._urls = urls

    def served_urls(self) -> ServedUrls | None:
        """The URLs this registry is served at: those `set_urls` was given, else those its committed
        `config.json` names (read until there are some, then kept: they are fixed while a server runs)."""
        if self._urls is None:
            self._urls = from_config_json(self.log.read(CONFIG_JSON))
        return self._urls

    def own_index_urls(self) -> list[str]:
        """The index URLs cargo may use for this registry (from the served public URL)."""
        urls = self.served_urls()
        return urls.index_urls() if urls is not None else []

    # -- checking ------------------------------------------------------------------------

    def health(self) -> list[str]:
        """What keeps this registry from serving reads and writes right now (empty if nothing):
        a data directory that is missing or not writable, a git index that cannot be read."""
        return maintenance.health(self.index)

    def verify(self, progress: Progress | None = None) -> list[str]:
        """Every disagreement between the git index, the served files and the crate files
        (`progress` is told of each index file checked)."""
        return maintenance.verify(self.index, progress)

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    def _crate_key(name: str, version: str) -> str:
        validate_name(name)
        parse_version(version)
        return crate_key(name, version)

    def _unpacked_limit(self) -> int:
        return self.config.max_crate_size * UNPACKED_LIMIT_FACTOR

    def check_crate_size(self, size: int) -> None:
        """PayloadTooLarge if a .crate file of `size` bytes is more than this registry takes."""
        if size > self.config.max_crate_size:
            raise PayloadTooLarge(
                f"the .crate file is {size} bytes, more than this registry's limit of "
                f"{self.config.max_crate_size} bytes (max_crate_size)"
            )

    def _check_registries(self, entry: IndexEntry) -> None:
        for dep in entry["deps"]:
            registry = dep.get("registry")
            if registry is not None and not self.config.allows_registry(registry):
                raise Forbidden(refused_registry(dep.get("package") or dep["name"], registry))

    def _store_new_version(
        self,
        entry: IndexEntry,
        crate: bytes | memoryview,
        description: str,
        authorize: Authorize | None = None,
        published: float | None = None,
    ) -> None:
        name, vers = entry["name"], entry["vers"]
        version = parse_version(vers)
        self._check_registries(entry)
        if self.config.upstream and self.canonical_name(name) is None:
            check_new_name(self.config, self.layout, self.is_local, name)
        with self._writing():
            existing = self.canonical_name(name)
            entries = self.index.served_entries(name) if existing else []
            if existing is not None and existing != name:
                raise Conflict(
                    f"crate `{name}` conflicts with the existing crate `{existing}` "
                    "(names differing only in case, `-` or `_` are the same crate)"
                )
            if authorize is not None:
                authorize(name, existing is not None)
            for other in entries:
                if parse_version(other["vers"]) == version:
                    identical = same_release(other, entry)
                    raise AlreadyPublished(
                        f"crate `{name}` version {other['vers']} is already published"
                        + (
                            " with these exact bytes"
                            if identical
                            else " (a published version cannot be replaced; bump the version)"
                        ),
                        identical,
                    )
            entry["pubtime"] = pubtime(self.clock() if published is None else published)
            entries.append(entry)
            # a crate is described by the version search shows (a backport leaves it as it was)
            shown = len(entries) == 1 or max_version(entries) == vers
            self.index.store_version(name, vers, crate, entries, description if shown else None)

    def recover(self) -> list[str]:
        """Undo what a writer killed mid-change left (at every server start); return what it did.

        Stale git lock files are removed, a crate file whose publish never committed is deleted, and the
        served index catches up with git: a few file checks. Only when the last writer died holding the
        registry lock are the data directory's files walked, once, for the git objects' lock files and the
        temporary files it left (`repair` always walks them).
        """
        with self.stores.lock() as interrupted:
            return maintenance.recover(self.index, objects_too=interrupted) + (
                maintenance.remove_leftovers(self.index) if interrupted else []
            )

    def repair(self) -> list[str]:
        """`recover`, then crate files no entry names are moved to `orphans/` (never deleted), and
        served index files and summaries that disagree with git are rewritten from it (then `index/.head`
        too, so that servers caching the index see the change)."""
        with self.stores.lock():
            return maintenance.repair(self.index)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the write lock, with whatever an interrupted writer left finished or undone first."""
        with self.stores.lock() as interrupted:
            maintenance.recover(self.index, objects_too=interrupted)
            if interrupted:
                maintenance.remove_leftovers(self.index)
            yield

    def _commit(self, changes: dict[str, bytes | None], message: str) -> None:
        self.index.commit(changes, message)

    def _locked_entries(self, name: str) -> tuple[str, list[IndexEntry]]:
        canonical = self.canonical_name(name)
        entries = self.index.served_entries(canonical) if canonical else []
        if canonical is None or not entries:
            raise CrateNotFound(name)
        return canonical, entries


def refused_registry(dependency: str, registry: str) -> str:
    """Why a dependency from `registry` is refused, and the two ways to accept it."""
    own = root_of_index(registry)
    as_own = (
        f"If that is this registry's own index (the crates were packaged for it), serve this registry at "
        f"{own}: `palletizer init --public-url {own}` for a new registry, or `public_url: {own}` in "
        "config.yaml and a server start for this one. "
        if own
        else ""
    )
    return (
        f"dependency `{dependency}` comes from the registry {registry}, which this registry does not allow. "
        f"{as_own}To allow crates from that registry: `palletizer init --allowed-registry {registry}` for a "
        f"new registry, or add {registry} to `allowed_registries` in config.yaml"
    )
