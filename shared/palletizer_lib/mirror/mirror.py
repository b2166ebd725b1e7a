"""A pull-through cache of an upstream sparse registry (`upstream` in `config.yaml`), under `mirror/`.

Index files are fetched on demand (conditionally, with the upstream's ETag / Last-Modified), stored with
their validators in one atomic write, served with an ETag of their own (a hash of the content), revalidated
once older than `upstream_freshness` seconds, and served stale while the upstream fails. When a file was
last fetched or revalidated is its modification time (a revalidation that changes nothing only touches it).
A name the upstream lacks is remembered as missing for at most `MISSING_TTL` seconds. A crate file is
fetched once (one of a fixed set of lock files, so threads and processes alike wait for one fetch), its
SHA-256 checked against the cached index entry while it streams to a temporary file, and only then renamed
into place. The cache is written without waiting for the disk (no fsync): what it reads back is checked
instead, an index file against the digest in its first line, a crate file against its index entry's
checksum (once per process and version of the file), so that a file torn by a crash is fetched again,
never served. A crate published here shadows the upstream's in every spelling: none of its names goes upstream.
"""

import contextlib
import hashlib
import itertools
import json
import logging
import os
import re
import threading
import time
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from palletizer_lib.disk.files import (
    TEMP_PREFIX,
    WriteBehind,
    atomic_write,
    atomic_write_with,
    exclusive_lock,
    file_lock,
)
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import BadRequest, Forbidden, NotFound, PalletizerError, StorageError, UpstreamError
from palletizer_lib.domain.index_entry import IndexEntry
from palletizer_lib.domain.names import normalise, validate_name
from palletizer_lib.domain.urls import CRATES_IO_ALIASES
from palletizer_lib.domain.versions import max_version, parse_version
from palletizer_lib.index.cache import CachedFile
from palletizer_lib.mirror.cache_files import (
    ByteLru,
    digest,
    encode_cached,
    file_identity,
    parse_cached,
    read_once,
    valid_lines,
)
from palletizer_lib.mirror.catalog import MirrorCatalog, catalog_of
from palletizer_lib.mirror.credentials import load_credentials
from palletizer_lib.mirror.gate import PROCESS_GATE
from palletizer_lib.mirror.read_ahead import Budget, ReadAhead, current_budget, likely_next
from palletizer_lib.mirror.upstream import Upstream, download_url
from palletizer_lib.settings.config import RegistryConfig

MISSING_TTL = 60
MAX_MISSING = 16_384
MAX_NAME_LOCKS = 4096
MAX_CHECKED = 4096
MEMORY_BYTES = 16 * 1024 * 1024
MAX_PENDING_BYTES = 16 * 1024 * 1024
MAX_SPELLING_PROBES = 64
log = logging.getLogger("palletizer.mirror")

if TYPE_CHECKING:
    from palletizer_lib.core.registry import Registry


@dataclass(frozen=True)
class _Cached:
    """One cached index file: the upstream's validators, when it was fetched, and the file."""

    etag: str | None
    last_modified: str | None
    fetched: float
    file: CachedFile


@dataclass
class MirrorStats:
    """What a mirror did: every `Mirror` of a process counts into `PROCESS_STATS` unless given its own."""

    upstream_requests: int = 0
    index_hits: int = 0
    index_misses: int = 0
    crate_hits: int = 0
    crate_misses: int = 0
    stale_served: int = 0
    errors: int = 0
    bytes_fetched: int = 0
    read_ahead: int = 0


PROCESS_STATS = MirrorStats()
_STATS_LOCK = threading.Lock()


# Index files fetched but not yet written by `WRITER`: every Mirror of the process serves them from here,
# within `MAX_PENDING_BYTES` (past it, a file is written before it is answered).
_PENDING: dict[Path, _Cached] = {}
_PENDING_LOCK = threading.Lock()
_PENDING_WRITTEN = threading.Condition(_PENDING_LOCK)
_pending_bytes = 0
WRITER = WriteBehind()

# Parsed index files of the cache, per version of the file on disk, within a byte budget.
_MEMORY: ByteLru[_Cached] = ByteLru(MEMORY_BYTES)
# Names the upstream lacks, with when it said so: in memory only, at most `MAX_MISSING` of them.
_MISSING: OrderedDict[Path, float] = OrderedDict()
_MISSING_LOCK = threading.Lock()


READ_AHEAD = ReadAhead()


class Mirror:
    """The mirror of one registry's upstream; safe to share between threads, and processes share its files.
    With `background` (servers), a fetched index file is answered at once and written to the cache by
    `WRITER`, off the request's path, and the index files of its likely dependencies are fetched ahead
    (`READ_AHEAD`); without (the command line), nothing is guessed and each file is written before the
    call returns."""

    def __init__(self, registry: "Registry", upstream: Upstream | None = None,
                 clock: Callable[[], float] = time.time, stats: MirrorStats | None = None,
                 background: bool = False) -> None:
        config = registry.config
        if not config.upstream and upstream is None:
            raise ValueError("this registry has no upstream")
        self.registry = registry
        self.layout = registry.layout
        if background:
            PROCESS_GATE.configure(config.upstream_concurrency, config.upstream_failure_hold)
        self.upstream = upstream or Upstream(config.upstream, max_crate_bytes=config.max_crate_size,
                                             gate=PROCESS_GATE if background else None,
                                             auth=load_credentials(self.layout.root))
        self.freshness = config.upstream_freshness
        self.cache_size = config.mirror_cache_size
        self.stats = stats if stats is not None else PROCESS_STATS
        self._clock = clock
        self._checked: dict[Path, tuple[int, int, int]] = {}
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._dl: str | None = None
        self._background = background
        self._catalog: MirrorCatalog | None = None

    @property
    def catalog(self) -> MirrorCatalog:
        """What the cache holds (opened on first use)."""
        if self._catalog is None:
            self._catalog = catalog_of(self.layout, self._clock)
        return self._catalog

    def shadowed(self, name: str) -> bool:
        """True if `name`, in any spelling, is a crate of this registry (so never fetched upstream)."""
        return self.registry.canonical_name(name) is not None or self.registry.served_index_file(name) is not None

    # -- index files ---------------------------------------------------------------------

    def index_file(self, name: str) -> CachedFile | None:
        """The upstream's index file of `name` as cached (revalidated when older than the freshness time);
        None if the upstream has no such crate, or if the name is published here."""
        validate_name(name)
        if self.shadowed(name):
            return None
        return self.upstream_index_file(name)

    def upstream_index_file(self, name: str) -> CachedFile | None:
        """The upstream's index file of exactly `name` (lowercased), as cached, whether or not the name is
        published here; None if the upstream lacks it."""
        path = self.layout.mirror_index_file(name)
        known, file = self._cached_answer(path)
        if known:
            return file
        with self._name_lock(normalise(name)):
            known, file = self._cached_answer(path)
            if known:
                return file
            self._count("index_misses")
            return self._revalidate(name, path, self._read(path))

    def _cached_answer(self, path: Path) -> tuple[bool, CachedFile | None]:
        """(True, the answer) if the cache can answer for `path` without the upstream, else (False, None)."""
        if self._known_missing(path):
            self._count("index_hits")
            return True, None
        cached = self._read(path)
        if cached is None or not self._fresh(cached):
            return False, None
        self._count("index_hits")
        if path not in _PENDING:
            self.catalog.used(path)
        return True, cached.file

    def _fresh(self, cached: _Cached) -> bool:
        return 0 <= self._clock() - cached.fetched < self.freshness

    def _known_missing(self, path: Path) -> bool:
        """True if the upstream said within `MISSING_TTL` seconds that it lacks this file."""
        when = _MISSING.get(path)
        return when is not None and 0 <= self._clock() - when < min(self.freshness, MISSING_TTL)

    def _remember_missing(self, path: Path, now: float) -> None:
        with _MISSING_LOCK:
            _MISSING[path] = now
            _MISSING.move_to_end(path)
            while len(_MISSING) > MAX_MISSING:
                _MISSING.popitem(last=False)

    def _revalidate(self, name: str, path: Path, cached: _Cached | None) -> CachedFile | None:
        try:
            self._count("upstream_requests")
            answer = self.upstream.index(name, cached.etag if cached else None,
                                         cached.last_modified if cached else None)
            if answer.status == 200:
                self._count("bytes_fetched", len(answer.data))
                data, entries = valid_lines(name, answer.data)
                if not entries:
                    raise UpstreamError(f"the upstream's index file of `{name}` has no valid entry")
        except UpstreamError as exc:
            self._count("errors")
            if cached is not None:
                self._count("stale_served")
                log.warning("upstream failed for the index file of %s, serving the cached copy: %s", name,
                            exc.detail)
                return cached.file
            raise
        now = self._clock()
        if answer.status == 304 and cached is not None:
            if path not in _PENDING:
                self._touch(path, now, cached)
            return cached.file
        if answer.status != 200:
            self._remember_missing(path, now)
            if cached is not None:
                self._drop(path)
            return None
        with _MISSING_LOCK:
            _MISSING.pop(path, None)
        changed = now
        if cached is not None and cached.file.data == data:
            changed = cached.file.last_modified.timestamp()
        meta = {"etag": answer.etag, "last_modified": answer.last_modified, "changed": changed}
        file = CachedFile(data, digest(data), datetime.fromtimestamp(int(changed), tz=timezone.utc))
        stored = _Cached(answer.etag, answer.last_modified, now, file)
        raw = encode_cached(meta, data)
        shown = (entries[-1]["name"], max_version([{**e, "yanked": bool(e.get("yanked"))} for e in entries]))
        if self._background and _hold_pending(path, stored):
            self._guarded(lambda: self.catalog.put_index(path, shown[0], shown[1], len(raw)), path)
            WRITER.submit(lambda: self._guarded(lambda: self._store(path, raw, now, stored), path))
            self._read_ahead(entries)
        else:
            self.catalog.put_index(path, shown[0], shown[1], len(raw))
            self._store(path, raw, now, stored)
        return stored.file

    def _read_ahead(self, entries: list[IndexEntry]) -> None:
        """Fetch in the background the index files cargo will likely ask for after this one, within the
        budget of the request cargo made (a file read ahead passes on what is left of it)."""
        below = (current_budget() or Budget()).below()
        if below is None:
            return
        for name in likely_next(entries):
            cached = self._read(self.layout.mirror_index_file(name))
            if (cached is None or not self._fresh(cached)) and below.take():
                READ_AHEAD.submit(f"{self.layout.root}:{normalise(name)}",
                                  lambda name=name: self._fetch_ahead(name), below)

    def _fetch_ahead(self, name: str) -> None:
        if not self.shadowed(name):
            self._count("read_ahead")
            self.upstream_index_file(name)

    def _store(self, path: Path, raw: bytes, now: float, stored: _Cached) -> None:
        """Write a cached index file (`stored` as it is encoded in `raw`, already in the catalog), fetched at
        `now`, and keep the cache within its size; if it cannot be written, the catalog forgets it."""
        try:
            atomic_write(path, raw, durable=False)
            self._touch(path, now, stored)
            self.catalog.evict(self.cache_size, keep=path)
        except StorageError:
            with contextlib.suppress(StorageError):
                self.catalog.forget(path)
            raise
        finally:
            _release_pending(path, stored)

    def _guarded(self, write: Callable[[], None], path: Path) -> None:
        """Run a write of the cache done behind a request: a failure is logged and counted (the file is
        fetched again next time), never raised."""
        try:
            write()
        except StorageError as exc:
            self._count("errors")
            log.warning("could not cache the index file %s: %s", path.name, exc.detail)

    def _drop(self, path: Path) -> None:
        """Remove the cached index file of a name the upstream no longer has."""
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            path.unlink()
        self.catalog.forget(path)

    def _touch(self, path: Path, now: float, cached: _Cached) -> None:
        """Record that `path` was fetched or revalidated at `now` (its modification time), and keep what it
        holds parsed for that version of the file."""
        try:
            os.utime(path, (now, now))
            st = os.stat(path)
        except OSError as exc:
            raise StorageError(f"could not update the mirror's {path.name}: {exc.strerror or exc}") from exc
        fresh = _Cached(cached.etag, cached.last_modified, st.st_mtime, cached.file)
        _MEMORY.put(path, file_identity(st), fresh, _cost(cached))

    def _read(self, path: Path) -> _Cached | None:
        """The cached file at `path` (one waiting to be written, else as on disk, parsed once per version of
        the file)."""
        pending = _PENDING.get(path)
        if pending is not None:
            return pending
        return read_once(path, _MEMORY, _parse_stored, _cost)

    def _name_lock(self, key: str) -> threading.Lock:
        with self._lock:
            if len(self._name_locks) >= MAX_NAME_LOCKS:
                self._name_locks = {k: v for k, v in self._name_locks.items() if v.locked()}
            return self._name_locks.setdefault(key, threading.Lock())

    # -- crate files ---------------------------------------------------------------------

    def crate_file(self, name: str, version: str) -> Path:
        """The cached .crate of an upstream crate version, fetched (once) and checked first if needed.
        `NotFound` if the name is published here or the upstream has no such version; `UpstreamError`
        if it cannot be fetched or does not match its index entry's checksum (nothing is stored then)."""
        validate_name(name)
        parse_version(version)
        if self.shadowed(name):
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        path = self.layout.mirror_crate_file(name, version)
        if self._intact(path, name, version):
            self._count("crate_hits")
            self.catalog.used(path)
            return path
        cksum = self._cksum(name, version)
        with _file_lock(self.layout.mirror_lock(name, version)):
            if self._intact(path, name, version, cksum):
                self._count("crate_hits")
                self.catalog.used(path)
                return path
            self._count("crate_misses")
            size = self._fetch_crate(name, version, cksum, path)
            self._remember_intact(path)
            self.catalog.put_crate(path, size)
        self.catalog.evict(self.cache_size, keep=path)
        return path

    def _intact(self, path: Path, name: str, version: str, cksum: str | None = None) -> bool:
        """True if the cached crate at `path` matches `cksum` (by default, the cached index entry's), checked
        once per version of the file on disk, then remembered; a file that does not match is removed."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"could not read the mirror's {path.name}: {exc.strerror or exc}") from exc
        if self._checked.get(path) == (st.st_ino, st.st_mtime_ns, st.st_size):
            return True
        cksum = cksum or _cached_cksum(self.layout, name, version)
        if cksum is None:
            return False
        if _file_sha256(path) == cksum:
            self._remember_intact(path)
            return True
        log.warning("the mirror's %s does not match its index entry (torn by a crash?): fetching it again",
                    path.name)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.catalog.forget(path)
        return False

    def _remember_intact(self, path: Path) -> None:
        st = os.stat(path)
        with self._lock:
            if len(self._checked) >= MAX_CHECKED:
                self._checked.clear()
            self._checked[path] = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _cksum(self, name: str, version: str) -> str:
        file = self.index_file(name)
        cksum = _entry_cksum(file.data, name, version) if file is not None else None
        if cksum is None:
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        return cksum

    def _fetch_crate(self, name: str, version: str, cksum: str, path: Path) -> int:
        url = download_url(self._download_template(), name, version, cksum)

        def download(out: BinaryIO) -> int:
            self._count("upstream_requests")
            try:
                return self.upstream.download(url, out, cksum)
            except UpstreamError:
                self._count("errors")
                raise

        size = atomic_write_with(path, download, durable=False)
        self._count("bytes_fetched", size)
        return size

    def _download_template(self) -> str:
        """The upstream's `dl`, read from its config.json once per process (kept in `mirror/config.json`
        for when the upstream cannot be reached)."""
        if self._dl is not None:
            return self._dl
        stored = self.layout.mirror / "config.json"
        try:
            self._count("upstream_requests")
            config = self.upstream.config()
            atomic_write(stored, json.dumps(config).encode())
        except UpstreamError as exc:
            self._count("errors")
            try:
                config = json.loads(stored.read_bytes())
            except (OSError, ValueError):
                raise exc from None
        self._dl = config["dl"]
        return self._dl

    def _count(self, field: str, amount: int = 1) -> None:
        with _STATS_LOCK:
            setattr(self.stats, field, getattr(self.stats, field) + amount)


@dataclass(frozen=True)
class LockedCrate:
    """A package of a Cargo.lock that comes from the upstream."""

    name: str
    version: str
    checksum: str | None


def upstream_packages(lockfile: Path, upstream_url: str) -> list[LockedCrate]:
    """The packages of `lockfile` whose source is crates.io or `upstream_url` (`BadRequest` if it is not
    a Cargo.lock)."""
    try:
        lock = tomllib.loads(lockfile.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadRequest(f"{lockfile} is not a readable Cargo.lock: {exc}") from exc
    packages = lock.get("package", [])
    if not isinstance(packages, list):
        raise BadRequest(f"{lockfile} is not a Cargo.lock: `package` is not a list")
    bare = upstream_url.removeprefix("sparse+").rstrip("/")
    sources = {f"registry+{url}" for url in CRATES_IO_ALIASES if not url.startswith("sparse+")}
    sources |= {"sparse+https://index.crates.io/", f"sparse+{bare}/", f"sparse+{bare}", f"registry+{bare}"}
    found = []
    for package in packages:
        if (isinstance(package, dict) and package.get("source") in sources
                and isinstance(package.get("name"), str) and isinstance(package.get("version"), str)):
            checksum = package.get("checksum")
            found.append(LockedCrate(package["name"], package["version"],
                                     checksum if isinstance(checksum, str) else None))
    return found


def fetch_locked(mirror: Mirror, crates: list[LockedCrate]) -> Iterator[tuple[LockedCrate, str, str | None]]:
    """Bring each crate into the cache: per crate, `cached`, `fetched`, `skipped` (published here) or
    `failed`, with the reason for the last two."""
    for crate in crates:
        if mirror.shadowed(crate.name):
            yield crate, "skipped", "a crate of that name is published here"
            continue
        try:
            was_cached = mirror.layout.mirror_crate_file(crate.name, crate.version).is_file()
            mirror.crate_file(crate.name, crate.version)
            cksum = _cached_cksum(mirror.layout, crate.name, crate.version)
            if crate.checksum is not None and cksum != crate.checksum:
                yield crate, "failed", "its checksum in Cargo.lock differs from the upstream index entry's"
                continue
        except PalletizerError as exc:
            yield crate, "failed", exc.detail
            continue
        yield crate, "cached" if was_cached else "fetched", None


@dataclass(frozen=True)
class CacheStatus:
    """What the mirror holds."""

    index_files: int
    index_bytes: int
    crate_files: int
    crate_bytes: int
    stale_index_files: int


def cache_status(layout: Layout, freshness: int, now: float | None = None) -> CacheStatus:
    """Count the cached index files (and those older than `freshness`) and crate files, with their sizes,
    from the catalog (and each index file's modification time)."""
    now = time.time() if now is None else now
    catalog = catalog_of(layout)
    index_files, index_bytes, crate_files, crate_bytes = catalog.status()
    stale = 0
    for path in catalog.index_paths():
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime >= freshness:
                stale += 1
    return CacheStatus(index_files, index_bytes, crate_files, crate_bytes, stale)


def verify_cache(layout: Layout) -> list[str]:
    """Every cached upstream crate whose SHA-256 differs from its cached index entry's `cksum`, or that its
    cached index file does not name (the files are only read: nothing is fetched; a crate whose index file
    was evicted is checked when it is next served)."""
    problems: list[str] = []
    crates = layout.mirror / "crates"
    if not crates.is_dir():
        return problems
    for crate_dir in sorted(crates.iterdir()):
        for file in sorted(crate_dir.iterdir()) if crate_dir.is_dir() else []:
            if file.name.startswith(TEMP_PREFIX):
                continue
            where = file.relative_to(layout.root)
            name = crate_dir.name
            version = file.name.removeprefix(f"{name}-").removesuffix(".crate")
            if not layout.mirror_index_file(name).is_file():
                continue
            cksum = _cached_cksum(layout, name, version)
            if cksum is None:
                problems.append(f"{where}: no cached upstream index entry refers to it")
                continue
            if _file_sha256(file) != cksum:
                problems.append(f"{where}: its checksum does not match the cached upstream index entry")
    return problems


def _cached_cksum(layout: Layout, name: str, version: str) -> str | None:
    try:
        parsed = parse_cached(layout.mirror_index_file(name).read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StorageError(f"could not read the mirror's index file of {name}: {exc.strerror or exc}") from exc
    return _entry_cksum(parsed[1], name, version) if parsed else None


def _entry_cksum(data: bytes, name: str, version: str) -> str | None:
    """The `cksum` of `name` `version` in an index file's content (only lines naming the version are parsed)."""
    wanted = version.encode()
    for line in data.splitlines():
        if wanted in line:
            entry = json.loads(line)
            if entry.get("name") == name and entry.get("vers") == version:
                return entry.get("cksum")
    return None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def spellings(name: str) -> list[str] | None:
    """`name` with its `-` and `_` in every mix (as spelt first, then all `-`, then all `_`), as crates.io
    counts them one name; None if there are more than `MAX_SPELLING_PROBES`."""
    parts = re.split(r"[-_]", name)
    if 2 ** (len(parts) - 1) > MAX_SPELLING_PROBES:
        return None
    found = dict.fromkeys((name, name.replace("_", "-"), name.replace("-", "_")))
    for mix in itertools.product("-_", repeat=len(parts) - 1):
        found[parts[0] + "".join(sep + part for sep, part in zip(mix, parts[1:], strict=True))] = None
    return list(found)


def check_new_name(registry: "Registry", name: str) -> None:
    """Refuse (`Forbidden`) a new crate `name` the upstream has in any spelling crates.io counts as the same
    name (`-` and `_` alike, any case), unless the administrator allowed it (`allowed_names` in config.yaml,
    read afresh); `UpstreamError` if the upstream cannot say. A name with more `-`/`_` mixes than
    `MAX_SPELLING_PROBES` cannot be checked, so it needs allowing too."""
    allowed = {normalise(n) for n in RegistryConfig.load(registry.layout.config).allowed_names}
    if normalise(name) in allowed:
        return
    how = (f"An administrator can allow it with `palletizer allow-name {name}` (allowed_names in config.yaml)")
    names = spellings(name)
    if names is None:
        raise Forbidden(f"crate `{name}` cannot be checked against the upstream registry: with its `-` and `_` it "
                        f"has more than {MAX_SPELLING_PROBES} spellings crates.io counts as one name. {how}")
    mirror = Mirror(registry)
    try:
        found = mirror.catalog.holds(normalise(name))
        for spelling in names:
            if found is not None:
                break
            try:
                if mirror.upstream_index_file(spelling) is not None:
                    found = spelling
            except UpstreamError as exc:
                raise UpstreamError(f"cannot publish the new crate `{name}`: whether the upstream registry "
                                    f"has it could not be checked ({exc.detail})") from exc
    finally:
        mirror.upstream.close()
    if found is not None:
        raise Forbidden(
            f"crate `{name}` exists on the upstream registry {registry.config.upstream} (as `{found}`): a new "
            "crate of that name here would take its place for everyone using this registry (dependency "
            f"confusion). {how}")


def allow_name(registry: "Registry", name: str) -> bool:
    """Let a new crate `name` be published here though the upstream has it (recorded in `allowed_names`,
    under the registry lock); False if it already was allowed."""
    validate_name(name)
    with exclusive_lock(registry.layout.lock):
        config = RegistryConfig.load(registry.layout.config)
        if normalise(name) in {normalise(n) for n in config.allowed_names}:
            return False
        config.allowed_names.append(name)
        config.save(registry.layout.config)
    return True


def _file_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive `flock` on `path` (it and its folder created if needed), across threads and processes."""
    description = f"the mirror lock {path.name}"
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not open {description}: {exc.strerror or exc}") from exc
    return file_lock(path, description)


def _parse_stored(raw: bytes, st: os.stat_result) -> _Cached | None:
    """A cached index file as stored (its validators, when it was fetched: its modification time); None if
    it is not whole."""
    parsed = parse_cached(raw)
    if parsed is None:
        return None
    meta, data = parsed
    try:
        changed = float(meta.get("changed", st.st_mtime))
    except (TypeError, ValueError):
        return None
    content = CachedFile(data, meta["sum"], datetime.fromtimestamp(int(changed), tz=timezone.utc))
    return _Cached(meta.get("etag"), meta.get("last_modified"), st.st_mtime, content)


def _cost(cached: _Cached) -> int:
    """What a parsed index file costs in memory, roughly."""
    return len(cached.file.data) + 512


def _hold_pending(path: Path, stored: _Cached) -> bool:
    """Keep `stored` to be served until it is written, if the files waiting hold less than
    `MAX_PENDING_BYTES`; False if not (the caller writes it at once)."""
    global _pending_bytes
    with _PENDING_LOCK:
        if _pending_bytes + len(stored.file.data) > MAX_PENDING_BYTES:
            return False
        old = _PENDING.get(path)
        if old is not None:
            _pending_bytes -= len(old.file.data)
        _PENDING[path] = stored
        _pending_bytes += len(stored.file.data)
        return True


def _release_pending(path: Path, stored: _Cached) -> None:
    global _pending_bytes
    with _PENDING_WRITTEN:
        if _PENDING.get(path) is stored:
            del _PENDING[path]
            _pending_bytes -= len(stored.file.data)
            _PENDING_WRITTEN.notify_all()


def settle(layout: Layout, name: str, timeout: float = 30.0) -> None:
    """Wait until the index file of `name`, if this process fetched it and has not written it yet, is in the
    cache (at most `timeout` seconds), so that what reads the cache's files sees what was just served."""
    path = layout.mirror_index_file(name)
    with _PENDING_WRITTEN:
        _PENDING_WRITTEN.wait_for(lambda: path not in _PENDING, timeout)
