"""A registry on disk: publish, yank, remove, search and verify.

Every change takes the registry lock, commits to the git index, then brings the
plain-file copy of the index (served as the sparse index) up to date. A crate file
is written before the index entry that names it and removed after it.
"""

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import crate_file
from .catalog import Catalog
from .config import RegistryConfig
from .errors import AlreadyPublished, Conflict, Forbidden, NotFound, PayloadTooLarge, RegistryExists, StorageError
from .git_index import GitIndex
from .index_entry import (dump_lines, entry_from_manifest, entry_from_metadata, parse_lines, pubtime, pubtime_seconds,
                          same_release)
from .layout import Layout
from .search_index import SearchIndex
from .manifest import check_manifest_matches
from .mirror import cached_summaries, check_new_name
from .packaged_crate import PackagedCrate, read_packaged
from .crate_names import index_path, normalise, validate_name
from .progress import Progress
from .storage import TEMP_PREFIX, atomic_write, exclusive_lock, remove_file
from .urls import ServedUrls, config_json, from_config_json
from .versions import Version, parse_version

CONFIG_JSON = "config.json"
Authorize = Callable[[str, bool], None]
UNPACKED_LIMIT_FACTOR = 20


@dataclass(frozen=True)
class CrateSummary:
    """What search and listings show of a crate."""

    name: str
    max_version: str
    description: str
    mirrored_from: str | None = None
    published: float | None = field(default=None, compare=False)


class Registry:
    """One registry in a data directory; safe to share between threads and processes."""

    def __init__(self, data_dir: Path) -> None:
        self.layout = Layout(Path(data_dir))
        self.config = RegistryConfig.load(self.layout.config)
        self.git = GitIndex(self.layout.git, squash_after=self.config.git_squash_after)
        self._urls: ServedUrls | None = None
        self.clock: Callable[[], float] = time.time

    @classmethod
    def create(cls, data_dir: Path, config: RegistryConfig) -> "Registry":
        """Initialise an empty registry in `data_dir`; RegistryExists if it already holds one.

        Done under the registry lock, with `config.yaml` written last: processes racing to
        initialise one directory make exactly one registry, and the others get RegistryExists.
        """
        layout = Layout(Path(data_dir))
        layout.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(layout.lock):
            if layout.config.exists():
                raise RegistryExists(f"{data_dir} already holds a registry")
            for directory in (layout.index, layout.crates, layout.names):
                directory.mkdir(exist_ok=True)
            GitIndex.create(layout.git)
            config.save(layout.config)
        registry = cls(data_dir)
        registry.search_index.rebuild([], {})
        if config.public_url:
            registry.set_urls(config.served_urls(config.public_url))
        return registry

    # -- reading -------------------------------------------------------------------------

    def canonical_name(self, name: str) -> str | None:
        """The stored spelling of the crate `name` refers to (any case, `-` or `_`), if any."""
        try:
            return json.loads(self.layout.summary_file(name).read_bytes())["name"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            raise StorageError(f"the summary of crate `{name}` is unreadable: {exc}") from exc

    def index_file(self, name: str) -> Path | None:
        """The sparse index file cargo should get when it asks for `name` (any spelling)."""
        exact = self.layout.index_file(name)
        if exact.is_file():
            return exact
        canonical = self.canonical_name(name)
        if canonical is None:
            return None
        found = self.layout.index_file(canonical)
        return found if found.is_file() else None

    def entries(self, name: str) -> list[dict]:
        """The index entries of crate `name` (any spelling); NotFound if there is none."""
        path = self.index_file(name)
        if path is None:
            raise NotFound(f"crate `{name}` does not exist in this registry")
        return parse_lines(path.read_bytes())

    def is_published(self, name: str, version: str) -> bool:
        """True if the git index (the source of truth) holds exactly this version of `name`."""
        data = self.git.read(index_path(name))
        return data is not None and any(e.get("vers") == version for e in parse_lines(data))

    def crate_path(self, name: str, version: str) -> Path:
        """The file of one published version, for download; NotFound if absent."""
        validate_name(name)
        parse_version(version)
        path = self.layout.crate_file(name, version)
        if not path.is_file():
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        return path

    def summaries(self) -> Iterator[CrateSummary]:
        """Every crate's summary, in no particular order."""
        with os.scandir(self.layout.names) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith(TEMP_PREFIX):
                    yield _summary(json.loads(Path(entry.path).read_bytes()))

    @cached_property
    def search_index(self) -> SearchIndex:
        """What search and the list pages read (kept with each summary; built on first use if missing)."""
        return SearchIndex(self.layout.catalog)

    def search(self, query: str, limit: int, offset: int = 0,
               recent: bool = False, only: set[str] | None = None) -> tuple[int, list[CrateSummary]]:
        """Crates whose name or description matches `query` (all for an empty one), limited to the normalised
        names of `only` if given: (total matches, `limit` of them from `offset`). The crate named exactly
        `query` comes first, then names starting with it (`recent`: the newest publication first), then by
        name; crates of the mirror's cache come after the registry's own."""
        self._build_search_index()
        wanted = normalise(query.strip())
        keys = self.search_index.matching(query)
        if only is not None:
            keys = only if keys is None else keys & only
        total, rows = self.search_index.page(keys, wanted, recent, limit, offset)
        found = [CrateSummary(r.name, r.max_version, r.description, published=r.published) for r in rows]
        if self.config.upstream and only is None:
            mirrored = sorted(self._mirrored_matches(_matcher(query), self.search_index.known),
                              key=lambda s: (normalise(s.name) != wanted, not normalise(s.name).startswith(wanted),
                                             s.name.lower()))
            start = max(0, offset - total)
            found += mirrored[start:start + limit - len(found)]
            total += len(mirrored)
        return total, found

    def _build_search_index(self) -> None:
        """Build the search table from the summaries once, for a registry made before it existed."""
        if self.search_index.is_built():
            return
        with exclusive_lock(self.layout.lock):
            if not self.search_index.is_built():
                self._rebuild_search_index()

    def _rebuild_search_index(self) -> None:
        published = Catalog(self.layout.catalog).last_published()
        self.search_index.rebuild(((s.name, s.max_version, s.description) for s in self.summaries()), published)

    def _mirrored_matches(self, matches: Callable[[CrateSummary], bool],
                          local: Callable[[str], bool]) -> Iterator[CrateSummary]:
        """The crates of the mirror's cache whose name matches (none published here in any spelling: `local`
        tells by normalised name), from the cache alone; described as mirrored from the upstream."""
        upstream = self.config.upstream
        if not upstream:
            return
        seen: set[str] = set()
        for name, version in cached_summaries(self.layout):
            key = normalise(name)
            if key not in seen and not local(key) and matches(CrateSummary(name, version, "")):
                seen.add(key)
                yield CrateSummary(name, version, f"mirrored from {upstream}", upstream)

    # -- writing -------------------------------------------------------------------------

    def publish(self, metadata: dict, crate: bytes | memoryview, authorize: Authorize | None = None) -> dict:
        """Add a version from cargo's publish metadata and .crate bytes; return its index entry.

        `authorize(name, exists)` is called under the write lock before anything is written.
        """
        entry = entry_from_metadata(metadata, "")  # its checksum comes from the one read of the archive
        parse_version(entry["vers"])
        self._check_crate_size(crate)
        packaged = read_packaged(crate, self._unpacked_limit(), (entry["name"], entry["vers"]))
        entry["cksum"] = packaged.checksum
        check_manifest_matches(packaged.manifest, entry, self.own_index_urls())
        description = metadata.get("description")
        self._store_new_version(entry, crate, description if isinstance(description, str) else "", authorize)
        return entry

    def add(self, crate: bytes | memoryview, packaged: PackagedCrate | None = None) -> dict:
        """Add a version from a .crate file alone (its packaged Cargo.toml); return its index entry.
        `packaged` is the file as `read` returned it, if already read."""
        packaged = packaged or self.read(crate)
        entry = self.entry_of(packaged)
        self._store_new_version(entry, crate, packaged.description)
        return entry

    def read(self, crate: bytes | memoryview) -> PackagedCrate:
        """A .crate file made elsewhere, read once within this registry's limits."""
        self._check_crate_size(crate)
        return read_packaged(crate, self._unpacked_limit())

    def entry_of(self, packaged: PackagedCrate) -> dict:
        """The index entry `add` makes of a .crate file, from its packaged Cargo.toml."""
        return entry_from_manifest(packaged.manifest, packaged.checksum, self.own_index_urls())

    def squash_git(self) -> bool:
        """Replace the git index's history by one commit holding its newest tree; False if it has none."""
        with self._writing():
            commit_id = self.git.squash("Squash the history")
            if commit_id is None:
                return False
            atomic_write(self.layout.index_head, commit_id + b"\n")
            return True

    def set_yanked(self, name: str, version: str, yanked: bool) -> None:
        """Yank (or unyank) one version; doing it twice is not an error."""
        with self._writing():
            canonical, entries = self._locked_entries(name)
            entry = _find_version(canonical, entries, version)
            if entry["yanked"] == yanked:
                return
            entry["yanked"] = yanked
            action = "Yank" if yanked else "Unyank"
            self._commit({index_path(canonical): dump_lines(entries)}, f"{action} {canonical} {entry['vers']}")

    def remove(self, name: str, version: str) -> None:
        """Delete one version's index entry and its crate file."""
        with self._writing():
            canonical, entries = self._locked_entries(name)
            entry = _find_version(canonical, entries, version)
            rest = [e for e in entries if e is not entry]
            self._commit({index_path(canonical): dump_lines(rest) if rest else None},
                         f"Remove {canonical} {entry['vers']}")
            crate_path = self.layout.crate_file(canonical, entry["vers"])
            remove_file(crate_path)
            _remove_empty_dir(crate_path.parent)

    def set_urls(self, urls: ServedUrls) -> None:
        """Make the index's `config.json` point cargo at `urls` (a commit only if it changed)."""
        content = config_json(urls, self.config.auth_required)
        message = f"Serve the registry at {urls.public}"
        if (urls.api, urls.files) != (urls.public, urls.public):
            message += f" (web API at {urls.api}, downloads at {urls.files})"
        if self.config.auth_required:
            message += ", tokens required for reads"
        with self._writing():
            if self.git.read(CONFIG_JSON) != content:
                self._commit({CONFIG_JSON: content}, message)
        self._urls = urls

    def served_urls(self) -> ServedUrls | None:
        """The URLs this registry is served at: those `set_urls` was given, else those its committed
        `config.json` names (read until there are some, then kept: they are fixed while a server runs)."""
        if self._urls is None:
            self._urls = from_config_json(self.git.read(CONFIG_JSON))
        return self._urls

    def own_index_urls(self) -> list[str]:
        """The index URLs cargo may use for this registry (from the served public URL)."""
        urls = self.served_urls()
        return urls.index_urls() if urls is not None else []

    # -- checking ------------------------------------------------------------------------

    def health(self) -> list[str]:
        """What keeps this registry from serving reads and writes right now (empty if nothing):
        a data directory that is missing or not writable, a git index that cannot be read."""
        layout = self.layout
        directories = {"the data directory": layout.root, "index/": layout.index, "crates/": layout.crates,
                       "names/": layout.names, "index.git/": layout.git}
        problems = [f"{name} {reason}" for name, path in directories.items() if (reason := _unwritable(path))]
        reason = self.git.unreadable()
        if reason is not None:
            problems.append(f"the git index (index.git/) cannot be read: {reason}")
        return problems

    def verify(self, progress: Progress | None = None) -> list[str]:
        """Every disagreement between the git index, the served files and the crate files
        (`progress` is told of each index file checked)."""
        problems: list[str] = []
        head = self.git.head()
        if head is not None and _read_text(self.layout.index_head) != head.decode():
            problems.append("the served index files are behind the git index (a write was interrupted)")
        if self.layout.pending.exists():
            problems.append("`pending` names a crate file whose publish was interrupted")
        referenced: set[Path] = set()
        files = [(path, blob_id) for path, blob_id in self.git.files() if path != CONFIG_JSON]
        for done, (path, blob_id) in enumerate(files, 1):
            problems.extend(self._verify_index_file(path, self.git.blob(blob_id), referenced))
            if progress is not None:
                progress("verifying", done, len(files))
        for crate_dir in sorted(self.layout.crates.iterdir()):
            for file in sorted(crate_dir.iterdir()) if crate_dir.is_dir() else [crate_dir]:
                if file not in referenced:
                    problems.append(f"{file.relative_to(self.layout.root)}: no index entry refers to it")
        return problems

    def _verify_index_file(self, path: str, data: bytes, referenced: set[Path]) -> Iterator[str]:
        served = self.layout.index / path
        if not served.is_file() or served.read_bytes() != data:
            yield f"index/{path}: differs from the git index"
        try:
            entries = parse_lines(data)
        except ValueError as exc:
            yield f"index/{path}: not valid JSON lines ({exc})"
            return
        for entry in entries:
            name, vers = entry.get("name", "?"), entry.get("vers", "?")
            if index_path(name) != path:
                yield f"index/{path}: holds an entry for `{name}`, which belongs elsewhere"
                continue
            crate_path = self.layout.crate_file(name, vers)
            referenced.add(crate_path)
            if not crate_path.is_file():
                yield f"{name} {vers}: the crate file is missing"
            elif crate_file.checksum(crate_path.read_bytes()) != entry.get("cksum"):
                yield f"{name} {vers}: the crate file's checksum does not match the index"
        if entries and self.canonical_name(entries[0].get("name", "")) != entries[0].get("name"):
            yield f"index/{path}: the crate has no summary in names/"

    # -- internals -----------------------------------------------------------------------

    def _unpacked_limit(self) -> int:
        return self.config.max_crate_size * UNPACKED_LIMIT_FACTOR

    def _check_crate_size(self, crate: bytes | memoryview) -> None:
        if len(crate) > self.config.max_crate_size:
            raise PayloadTooLarge(
                f"the .crate file is {len(crate)} bytes, more than this registry's limit of "
                f"{self.config.max_crate_size} bytes (max_crate_size)"
            )

    def _check_registries(self, entry: dict) -> None:
        for dep in entry["deps"]:
            registry = dep.get("registry")
            if registry is not None and not self.config.allows_registry(registry):
                raise Forbidden(
                    f"dependency `{dep.get('package') or dep['name']}` comes from the registry {registry}, "
                    "which this registry does not allow (see allowed_registries in config.yaml)"
                )

    def _store_new_version(self, entry: dict, crate: bytes | memoryview, description: str,
                           authorize: Authorize | None = None) -> None:
        name, vers = entry["name"], entry["vers"]
        version = parse_version(vers)
        self._check_registries(entry)
        if self.config.upstream and self.canonical_name(name) is None:
            check_new_name(self, name)
        with self._writing():
            existing = self.canonical_name(name)
            entries = self._read_served(name) if existing else []
            if existing is not None and existing != name:
                raise Conflict(f"crate `{name}` conflicts with the existing crate `{existing}` "
                               "(names differing only in case, `-` or `_` are the same crate)")
            if authorize is not None:
                authorize(name, existing is not None)
            for other in entries:
                if parse_version(other["vers"]) == version:
                    identical = same_release(other, entry)
                    raise AlreadyPublished(
                        f"crate `{name}` version {other['vers']} is already published"
                        + (" with these exact bytes" if identical
                           else " (a published version cannot be replaced; bump the version)"), identical)
            crate_path = self.layout.crate_file(name, vers)
            atomic_write(self.layout.pending, str(crate_path.relative_to(self.layout.root)).encode())
            entry["pubtime"] = pubtime(self.clock())
            entries.append(entry)
            try:
                atomic_write(crate_path, crate)
                # a crate is described by the version search shows (a backport leaves it as it was)
                shown = len(entries) == 1 or max_version(entries) == vers
                self._commit({index_path(name): dump_lines(entries)}, f"Publish {name} {vers}",
                             {name: description} if shown else None)
            except BaseException:
                if not self.is_published(name, vers):
                    remove_file(crate_path)
                raise
            finally:
                remove_file(self.layout.pending)

    def recover(self) -> list[str]:
        """Undo what a writer killed mid-change left (at every server start); return what it did.

        Stale git lock files are removed, a crate file whose publish never committed is deleted, and the
        served index catches up with git: a few file checks. Only when the last writer died holding the
        registry lock are the data directory's files walked, once, for the git objects' lock files and the
        temporary files it left (`repair` always walks them).
        """
        with exclusive_lock(self.layout.lock) as interrupted:
            return self._recover(objects_too=interrupted) + (self._remove_leftovers() if interrupted else [])

    def repair(self) -> list[str]:
        """`recover`, then crate files no entry names are moved to `orphans/` (never deleted), and
        served index files and summaries that disagree with git are rewritten from it (then `index/.head`
        too, so that servers caching the index see the change)."""
        with exclusive_lock(self.layout.lock):
            changes = self._recover(objects_too=True) + self._remove_leftovers()
            changes += self._set_orphans_aside()
            rewritten = self._rewrite_derived()
            self._rebuild_search_index()
            head = self.git.head()
            if rewritten and head is not None:
                atomic_write(self.layout.index_head, head + b"\n")
            return changes + rewritten

    def _remove_leftovers(self) -> list[str]:
        """Delete the temporary files of writes that never finished (call under the lock)."""
        changes = []
        for leftover in sorted(self.layout.root.rglob(TEMP_PREFIX + "*")):
            remove_file(leftover)
            changes.append(f"removed the leftover temporary file {leftover.relative_to(self.layout.root)}")
        return changes

    def _recover(self, objects_too: bool) -> list[str]:
        """Finish or undo an interrupted change; without `objects_too` it costs a few file checks."""
        changes = [f"removed the stale git lock {p.relative_to(self.layout.root)}"
                   for p in self.git.remove_stale_locks(objects_too)]
        pending = _read_text(self.layout.pending)
        if pending is not None:
            crate_path = self.layout.root / pending
            referenced = any(crate_path == self.layout.crate_file(e["name"], e["vers"])
                             for e in parse_lines(self.git.read(index_path(crate_path.parent.name)) or b""))
            if not referenced and crate_path.exists():
                remove_file(crate_path)
                changes.append(f"removed {pending}, written by a publish that never committed")
            for leftover in crate_path.parent.glob(TEMP_PREFIX + "*"):
                remove_file(leftover)
            remove_file(self.layout.pending)
        if self.git.head() is not None and _read_text(self.layout.index_head) != self.git.head().decode():
            self._sync_served_index()
            changes.append("brought the served index up to the git index")
        return changes

    def _set_orphans_aside(self) -> list[str]:
        referenced = {self.layout.crate_file(e["name"], e["vers"])
                      for path, blob_id in self.git.files() if path != CONFIG_JSON
                      for e in parse_lines(self.git.blob(blob_id))}
        changes = []
        for crate_path in sorted(self.layout.crates.glob("*/*")):
            if crate_path not in referenced:
                target = self.layout.orphans / crate_path.name
                self.layout.orphans.mkdir(exist_ok=True)
                os.replace(crate_path, target)
                changes.append(f"moved {crate_path.relative_to(self.layout.root)}, which no index entry names, "
                               f"to {target.relative_to(self.layout.root)}")
        return changes

    def _rewrite_derived(self) -> list[str]:
        """Rewrite every served index file and summary that disagrees with git."""
        changes = []
        in_git = dict(self.git.files())
        served = {str(p.relative_to(self.layout.index)) for p in self.layout.index.rglob("*")
                  if p.is_file() and p != self.layout.index_head}
        for path in sorted(in_git.keys() | served):
            content = self.git.blob(in_git[path]) if path in in_git else None
            target = self.layout.index / path
            if (target.read_bytes() if target.is_file() else None) != content:
                if content is None:
                    remove_file(target)
                else:
                    atomic_write(target, content)
                changes.append(f"rewrote index/{path} from the git index")
            if path != CONFIG_JSON:
                self._sync_summary(path, content, {})
        known = {normalise(path.rsplit("/", 1)[-1]) for path in in_git if path != CONFIG_JSON}
        for summary in self.layout.names.glob("*.json"):
            if summary.stem not in known:
                remove_file(summary)
                changes.append(f"removed names/{summary.name}, the summary of a crate that does not exist")
        return changes

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the write lock, with whatever an interrupted writer left finished or undone first."""
        with exclusive_lock(self.layout.lock) as interrupted:
            self._recover(objects_too=interrupted)
            if interrupted:
                self._remove_leftovers()
            yield

    def _commit(self, changes: dict[str, bytes | None], message: str,
                descriptions: dict[str, str] | None = None) -> None:
        """Commit `changes`, then serve them: straight from `changes` when `index/` was current at the
        commit's parent (the usual case: no tree is read or compared), else by replaying git."""
        parent = self.git.head()
        commit_id = self.git.commit(changes, message)
        if parent is None or _read_text(self.layout.index_head) != parent.decode():
            self._sync_served_index(descriptions)
            return
        for path, content in changes.items():
            self._serve_path(path, content, descriptions or {})
        atomic_write(self.layout.index_head, commit_id + b"\n")

    def _sync_served_index(self, descriptions: dict[str, str] | None = None) -> None:
        """Bring what is derived from git up to its newest commit: the files in `index/` and
        the crate summaries in `names/` (cheap when current).

        Every writer runs this before its change (through `_recover`), so a write interrupted after
        its commit is completed by whoever writes next. `descriptions` gives the description of a
        crate just published; others keep theirs.
        """
        head = self.git.head()
        if head is None:
            return
        synced = _read_text(self.layout.index_head)
        if synced == head.decode():
            return
        old = synced.encode() if synced else None
        for path in self.git.changed_paths(old, head):
            self._serve_path(path, self.git.read(path, head), descriptions or {})
        atomic_write(self.layout.index_head, head + b"\n")

    def _serve_path(self, path: str, content: bytes | None, descriptions: dict[str, str]) -> None:
        """Make `index/PATH` (and its crate's summary) hold `content`, or remove it."""
        target = self.layout.index / path
        if content is None:
            remove_file(target)
        else:
            atomic_write(target, content)
        if path != CONFIG_JSON:
            self._sync_summary(path, content, descriptions)

    def _read_served(self, name: str) -> list[dict]:
        path = self.layout.index_file(name)
        return parse_lines(path.read_bytes()) if path.is_file() else []

    def _locked_entries(self, name: str) -> tuple[str, list[dict]]:
        canonical = self.canonical_name(name)
        entries = self._read_served(canonical) if canonical else []
        if not entries:
            raise NotFound(f"crate `{name}` does not exist in this registry")
        return canonical, entries

    def _sync_summary(self, path: str, content: bytes | None, descriptions: dict[str, str]) -> None:
        entries = parse_lines(content) if content else []
        if not entries:
            remove_file(self.layout.summary_file(path.rsplit("/", 1)[-1]))
            self.search_index.remove(path.rsplit("/", 1)[-1])
            return
        name = entries[0]["name"]
        summary_path = self.layout.summary_file(name)
        description = descriptions.get(name)
        if description is None:
            try:
                description = json.loads(summary_path.read_bytes()).get("description", "")
            except (FileNotFoundError, ValueError):
                description = ""
        summary = {"name": name, "max_version": max_version(entries), "description": description}
        atomic_write(summary_path, json.dumps(summary).encode())
        published = [t for t in map(pubtime_seconds, entries) if t is not None]
        self.search_index.put(name, summary["max_version"], description, max(published, default=None))


def _unwritable(directory: Path) -> str | None:
    if not directory.is_dir():
        return "is missing (or not a directory)"
    if not os.access(directory, os.W_OK | os.X_OK):
        return "is not writable"
    return None


def _summary(raw: dict) -> CrateSummary:
    return CrateSummary(raw["name"], raw["max_version"], raw.get("description") or "")


def _find_version(name: str, entries: list[dict], version: str) -> dict:
    wanted = parse_version(version)
    exact = [e for e in entries if e["vers"] == version]
    same = exact or [e for e in entries if parse_version(e["vers"]) == wanted]
    if not same:
        raise NotFound(f"crate `{name}` has no version {version}")
    return same[0]


def _matcher(query: str) -> Callable[[CrateSummary], bool]:
    """Search's rule, for crates outside the search table: the normalised query in the normalised name, or
    every word in the name and description (a word also matching the name normalised)."""
    words = [w for w in query.lower().split() if w]
    wanted = normalise(query.strip())

    def matches(summary: CrateSummary) -> bool:
        name = normalise(summary.name)
        text = f"{name} {summary.description.lower()}"
        return wanted in name or all(w in text or normalise(w) in name for w in words)
    return matches


def max_version(entries: list[dict]) -> str:
    """The version search shows: the highest not yanked, preferring releases over pre-releases."""
    live = [e for e in entries if not e["yanked"]] or entries
    versions: list[tuple[Version, str]] = [(parse_version(e["vers"]), e["vers"]) for e in live]
    releases = [v for v in versions if not v[0].is_prerelease] or versions
    return max(releases, key=lambda v: v[0])[1]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _remove_empty_dir(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass

