"""The index and what is derived from it: the git index (the source of truth), the served copy of its newest
commit, the crate summaries under `names/` (name and shown version), the search table and the reverse
dependencies, kept in step by one commit protocol.

Every change commits to git, then serves it: the served files, each crate's summary, its search row and its
reverse dependency rows, and
last the served `HEAD_KEY` naming the commit they now match. A writer that finds the served head behind git
replays the commits it missed (`sync_served_index`), so a change interrupted after its commit is completed by
whoever writes next. A new version's crate file is stored before the commit naming it, with `pending` naming
it until then; a removed version's crate file is deleted after its commit.
"""

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.index_entry import IndexEntry, dump_lines, parse_lines, pubtime_seconds
from palletizer_lib.domain.names import crate_key, index_path, normalise
from palletizer_lib.domain.versions import max_version
from palletizer_lib.stores.protocols import IndexLog, RegistryStores
from palletizer_lib.stores.reverse_dependencies import Dependent
from palletizer_lib.stores.served_index import CONFIG_JSON, HEAD_KEY, ServedFile


class IndexStore:
    """The git index, the served index, the summaries, the search table and the reverse dependencies of one
    registry (writes are called under the registry lock)."""

    def __init__(self, layout: Layout, log: IndexLog, stores: RegistryStores) -> None:
        self.layout = layout
        self.log = log
        self.stores = stores
        self.served = stores.served
        self.crates = stores.crates
        self.summaries = stores.summaries
        self.catalog = stores.catalog
        self.search_index = stores.search
        self.reverse_dependencies = stores.reverse_dependencies
        self.publish_marker = stores.publish_marker

    # -- reading -------------------------------------------------------------------------

    def canonical_name(self, name: str) -> str | None:
        """The stored spelling of the crate `name` refers to (any case, `-` or `_`), if any."""
        summary = self.summaries.get(name)
        return summary[0] if summary is not None else None

    def served_file(self, name: str) -> ServedFile | None:
        """The served index file of crate `name` (any spelling), if it has one."""
        exact = self.served.read(index_path(name))
        if exact is not None:
            return exact
        canonical = self.canonical_name(name)
        if canonical is None or index_path(canonical) == index_path(name):
            return None
        return self.served.read(index_path(canonical))

    def served_entries(self, name: str) -> list[IndexEntry]:
        """The served index entries of crate `name` exactly as spelt (none if it has no file)."""
        return parse_lines(self.served.get(index_path(name)) or b"")

    def is_published(self, name: str, version: str) -> bool:
        """True if the git index (the source of truth) holds exactly this version of `name`."""
        data = self.log.read(index_path(name))
        return data is not None and any(e.get("vers") == version for e in parse_lines(data))

    def dependents(self, name: str, limit: int, offset: int = 0) -> tuple[int, list[Dependent]]:
        """The crates depending on `name`: (how many, `limit` of them from `offset`), the most downloaded
        first (downloads counted so far included), then by name."""
        self.catalog.download_counter.flush()
        return self.reverse_dependencies.page(name, limit, offset)

    def served_head(self) -> str | None:
        """The commit the served index was last brought up to, if any."""
        data = self.served.get(HEAD_KEY)
        return data.decode().strip() or None if data is not None else None

    def is_current(self) -> bool:
        """True if the served index matches the git index's newest commit (or git has none)."""
        head = self.log.head()
        return head is None or self.served_head() == head.decode()

    def pending_key(self) -> str | None:
        """The crate file an interrupted publish was storing, if any."""
        return self.publish_marker.get()

    def clear_pending(self) -> None:
        """Forget the crate file a publish was storing."""
        self.publish_marker.clear()

    # -- writing (under the registry lock) -----------------------------------------------

    def store_version(
        self, name: str, vers: str, crate: bytes | memoryview, entries: list[IndexEntry], description: str | None
    ) -> None:
        """Store a new version's crate file, then commit `entries` (holding its entry) and serve them;
        `description` describes the crate in search when this version is the one shown. A failure
        before the commit leaves no crate file behind."""
        key = crate_key(name, vers)
        self.publish_marker.set(key)
        try:
            self.crates.put(key, crate)
            self.commit(
                {index_path(name): dump_lines(entries)},
                f"Publish {name} {vers}",
                {name: description} if description is not None else None,
            )
        except BaseException:
            if not self.is_published(name, vers):
                self.crates.delete(key)
            raise
        finally:
            self.clear_pending()

    def remove_version(self, name: str, vers: str, rest: list[IndexEntry]) -> None:
        """Commit the entries `rest` left of crate `name` once version `vers` is gone, then delete its file."""
        self.commit({index_path(name): dump_lines(rest) if rest else None}, f"Remove {name} {vers}")
        self.crates.delete(crate_key(name, vers))

    def squash(self) -> bool:
        """Replace the git index's history by one commit holding its newest tree; False if it has none."""
        commit_id = self.log.squash("Squash the history")
        if commit_id is None:
            return False
        self.served.put(HEAD_KEY, commit_id + b"\n")
        return True

    def commit(
        self, changes: dict[str, bytes | None], message: str, descriptions: dict[str, str] | None = None
    ) -> None:
        """Commit `changes`, then serve them: straight from `changes` when the served index was current at
        the commit's parent (the usual case: no tree is read or compared), else by replaying git."""
        parent = self.log.head()
        commit_id = self.log.commit(changes, message)
        if parent is None or self.served_head() != parent.decode():
            self.sync_served_index(descriptions)
            return
        for path, content in changes.items():
            self._serve_path(path, content, descriptions or {})
        self.served.put(HEAD_KEY, commit_id + b"\n")

    def sync_served_index(self, descriptions: dict[str, str] | None = None) -> None:
        """Bring what is derived from git up to its newest commit: the served files, the summaries, the
        search table and the reverse dependencies (cheap when current). `descriptions` gives the description
        of a crate just published; the others are described by the catalog."""
        head = self.log.head()
        if head is None:
            return
        synced = self.served_head()
        if synced == head.decode():
            return
        old = synced.encode() if synced else None
        for path in self.log.changed_paths(old, head):
            self._serve_path(path, self.log.read(path, head), descriptions or {})
        self.served.put(HEAD_KEY, head + b"\n")

    def mark_served(self) -> None:
        """Record that the served index matches git's newest commit (after it was rewritten from git)."""
        head = self.log.head()
        if head is not None:
            self.served.put(HEAD_KEY, head + b"\n")

    def sync_summary(self, path: str, content: bytes | None, descriptions: dict[str, str]) -> bool:
        """Make the summary, search row and reverse dependency rows of the crate at index `path` follow
        `content` (None: it is gone); True if its summary was missing or said something else."""
        entries = parse_lines(content) if content else []
        if not entries:
            name = path.rsplit("/", 1)[-1]
            self.search_index.remove(name)
            self.reverse_dependencies.remove(name)
            return self.summaries.delete(name)
        self.reverse_dependencies.put(entries)
        name = entries[0]["name"]
        shown = max_version(entries)
        changed = self.summaries.put(name, shown)
        description = descriptions.get(name)
        if description is None:
            description = self.catalog.description(name, shown)
        published = [t for t in map(pubtime_seconds, entries) if t is not None]
        self.search_index.put(name, shown, description, max(published, default=None))
        return changed

    def rebuild_search_index(self) -> None:
        """Rebuild the search table from the summaries and the catalog (descriptions, publication times)."""
        described = self.catalog.descriptions()
        crates = ((name, shown, described.get((normalise(name), shown), "")) for name, shown in self.summaries.list())
        self.search_index.rebuild(crates, self.catalog.last_published())

    def rebuild_reverse_dependencies(self) -> None:
        """Rebuild the reverse dependencies from the git index's newest files."""
        self.reverse_dependencies.rebuild(
            parse_lines(self.log.blob(blob_id)) for path, blob_id in self.log.files() if path != CONFIG_JSON
        )

    def _serve_path(self, path: str, content: bytes | None, descriptions: dict[str, str]) -> None:
        """Make the served file `path` (and its crate's summary) hold `content`, or remove it."""
        if content is None:
            self.served.delete(path)
        else:
            self.served.put(path, content)
        if path != CONFIG_JSON:
            self.sync_summary(path, content, descriptions)
