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
import json
import logging
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .config import CRATES_IO_ALIASES, RegistryConfig
from .errors import BadRequest, Forbidden, NotFound, PalletizerError, StorageError, UpstreamError
from .index_cache import CachedFile
from .layout import Layout
from .crate_names import normalise, validate_name
from .read_ahead import Budget, ReadAhead, current_budget, likely_next
from .storage import TEMP_PREFIX, WriteBehind, atomic_write, atomic_write_with, exclusive_lock, file_lock
from .upstream import Upstream, download_url
from .upstream_credentials import load_credentials
from .upstream_gate import PROCESS_GATE
from .versions import max_version, parse_version

MISSING_TTL = 60
MAX_MEMORY_ENTRIES = 4096
_CKSUM = re.compile(r"[0-9a-f]{64}\Z")
log = logging.getLogger("palletizer.mirror")

if TYPE_CHECKING:
    from .registry import Registry


@dataclass(frozen=True)
class _Cached:
    """One cached index file: the upstream's validators, when it was fetched, and the file (None: missing)."""

    etag: str | None
    last_modified: str | None
    fetched: float
    file: CachedFile | None


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


# Index files fetched but not yet written by `WRITER`: every Mirror of the process serves them from here.
_PENDING: dict[Path, _Cached] = {}
_PENDING_LOCK = threading.Lock()
WRITER = WriteBehind()


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
        self.stats = stats if stats is not None else PROCESS_STATS
        self._clock = clock
        self._memory: dict[Path, tuple[tuple[int, int, int], _Cached]] = {}
        self._checked: dict[Path, tuple[int, int, int]] = {}
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._dl: str | None = None
        self._background = background

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
        cached = self._read(path)
        if cached is not None and self._fresh(cached):
            self._count("index_hits")
            return cached.file
        with self._name_lock(normalise(name)):
            cached = self._read(path)
            if cached is not None and self._fresh(cached):
                self._count("index_hits")
                return cached.file
            self._count("index_misses")
            return self._revalidate(name, path, cached)

    def _fresh(self, cached: _Cached) -> bool:
        ttl = self.freshness if cached.file is not None else min(self.freshness, MISSING_TTL)
        return 0 <= self._clock() - cached.fetched < ttl

    def _revalidate(self, name: str, path: Path, cached: _Cached | None) -> CachedFile | None:
        try:
            self._count("upstream_requests")
            answer = self.upstream.index(name, cached.etag if cached and cached.file else None,
                                         cached.last_modified if cached and cached.file else None)
            if answer.status == 200:
                entries = _check_index(name, answer.data)
                self._count("bytes_fetched", len(answer.data))
        except UpstreamError as exc:
            self._count("errors")
            if cached is not None and cached.file is not None:
                self._count("stale_served")
                log.warning("upstream failed for the index file of %s, serving the cached copy: %s", name,
                            exc.detail)
                return cached.file
            raise
        now = self._clock()
        if answer.status == 304 and cached is not None and cached.file is not None:
            if path not in _PENDING:
                self._touch(path, now)
            return cached.file
        if answer.status == 404:
            meta: dict = {"missing": True}
            stored = _Cached(None, None, now, None)
        else:
            changed = now
            if cached is not None and cached.file is not None and cached.file.data == answer.data:
                changed = cached.file.last_modified.timestamp()
            meta = {"etag": answer.etag, "last_modified": answer.last_modified, "changed": changed}
            file = CachedFile(answer.data, _digest(answer.data), datetime.fromtimestamp(int(changed), tz=timezone.utc))
            stored = _Cached(answer.etag, answer.last_modified, now, file)
        raw = encode_cached(meta, answer.data if answer.status == 200 else b"")
        if self._background:
            with _PENDING_LOCK:
                _PENDING[path] = stored
            WRITER.submit(lambda: self._store(path, raw, now, stored))
            if answer.status == 200:
                self._read_ahead(entries)
        else:
            self._store(path, raw, now, stored)
        return stored.file

    def _read_ahead(self, entries: list[dict]) -> None:
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
        """Write a cached index file (`stored` as it is encoded in `raw`), fetched at `now`. Done behind a
        request, a failure is logged and counted (the file is fetched again next time)."""
        try:
            atomic_write(path, raw, durable=False)
            self._touch(path, now)
        except StorageError as exc:
            if not self._background:
                raise
            self._count("errors")
            log.warning("could not cache the index file %s: %s", path.name, exc.detail)
        finally:
            with _PENDING_LOCK:
                if _PENDING.get(path) is stored:
                    del _PENDING[path]

    def _touch(self, path: Path, now: float) -> None:
        """Record that `path` was fetched or revalidated at `now` (its modification time)."""
        try:
            os.utime(path, (now, now))
        except OSError as exc:
            raise StorageError(f"could not update the mirror's {path.name}: {exc.strerror or exc}") from exc

    def _read(self, path: Path) -> _Cached | None:
        """The cached file at `path` (one waiting to be written, else as on disk, parsed once per version of
        the file)."""
        pending = _PENDING.get(path)
        if pending is not None:
            return pending
        try:
            with path.open("rb") as file:
                st = os.fstat(file.fileno())
                key = (st.st_ino, st.st_mtime_ns, st.st_size)
                remembered = self._memory.get(path)
                if remembered is not None and remembered[0] == key:
                    return remembered[1]
                raw = file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"could not read the mirror's {path.name}: {exc.strerror or exc}") from exc
        parsed = _parse_cached(raw)
        if parsed is None:
            return None
        meta, data = parsed
        try:
            changed = float(meta.get("changed", st.st_mtime))
        except (TypeError, ValueError):
            return None
        file = None
        if not meta.get("missing"):
            file = CachedFile(data, meta["sum"], datetime.fromtimestamp(int(changed), tz=timezone.utc))
        cached = _Cached(meta.get("etag"), meta.get("last_modified"), st.st_mtime, file)
        with self._lock:
            if len(self._memory) >= MAX_MEMORY_ENTRIES:
                self._memory.clear()
            self._memory[path] = (key, cached)
        return cached

    def _name_lock(self, key: str) -> threading.Lock:
        with self._lock:
            if len(self._name_locks) >= MAX_MEMORY_ENTRIES:
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
            return path
        cksum = self._cksum(name, version)
        with _file_lock(self.layout.mirror_lock(name, version)):
            if self._intact(path, name, version, cksum):
                self._count("crate_hits")
                return path
            self._count("crate_misses")
            self._fetch_crate(name, version, cksum, path)
            self._remember_intact(path)
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
        return False

    def _remember_intact(self, path: Path) -> None:
        st = os.stat(path)
        with self._lock:
            if len(self._checked) >= MAX_MEMORY_ENTRIES:
                self._checked.clear()
            self._checked[path] = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _cksum(self, name: str, version: str) -> str:
        file = self.index_file(name)
        cksum = _entry_cksum(file.data, name, version) if file is not None else None
        if cksum is None:
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        return cksum

    def _fetch_crate(self, name: str, version: str, cksum: str, path: Path) -> None:
        url = download_url(self._download_template(), name, version, cksum)

        def download(out: BinaryIO) -> int:
            self._count("upstream_requests")
            try:
                return self.upstream.download(url, out, cksum)
            except UpstreamError:
                self._count("errors")
                raise

        self._count("bytes_fetched", atomic_write_with(path, download, durable=False))

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
    missing_names: int
    crate_files: int
    crate_bytes: int
    stale_index_files: int


def cache_status(layout: Layout, freshness: int, now: float | None = None) -> CacheStatus:
    """Count the cached index files (and names known missing, and files older than `freshness`) and
    crate files (with their size), reading only the cache."""
    now = time.time() if now is None else now
    index_files = missing = stale = 0
    for path in (layout.mirror / "index").rglob("*") if (layout.mirror / "index").is_dir() else []:
        if not path.is_file() or path.name.startswith(TEMP_PREFIX):
            continue
        with path.open("rb") as file:
            head = file.readline()
            fetched = os.fstat(file.fileno()).st_mtime
        try:
            meta = json.loads(head)
        except ValueError:
            continue
        if meta.get("missing"):
            missing += 1
            continue
        index_files += 1
        if now - fetched >= freshness:
            stale += 1
    crate_files = crate_bytes = 0
    for path in (layout.mirror / "crates").rglob("*.crate") if (layout.mirror / "crates").is_dir() else []:
        if not path.name.startswith(TEMP_PREFIX):
            crate_files += 1
            crate_bytes += path.stat().st_size
    return CacheStatus(index_files, missing, crate_files, crate_bytes, stale)


def verify_cache(layout: Layout) -> list[str]:
    """Every cached upstream crate whose SHA-256 differs from its cached index entry's `cksum`, or that no
    cached index entry names (the files are only read: nothing is fetched)."""
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
            cksum = _cached_cksum(layout, name, version)
            if cksum is None:
                problems.append(f"{where}: no cached upstream index entry refers to it")
                continue
            if _file_sha256(file) != cksum:
                problems.append(f"{where}: its checksum does not match the cached upstream index entry")
    return problems


def _cached_cksum(layout: Layout, name: str, version: str) -> str | None:
    try:
        parsed = _parse_cached(layout.mirror_index_file(name).read_bytes())
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


def _digest(data: bytes) -> str:
    """The digest of a cached index file's content: its ETag, and its check against a torn write."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_cached(meta: dict, data: bytes) -> bytes:
    """A cached index file: `meta` (the upstream's validators, `changed`; or `missing`) with the digest of
    `data` as its first line, then `data`."""
    return json.dumps({**meta, "sum": _digest(data)}).encode() + b"\n" + data


def _parse_cached(raw: bytes) -> tuple[dict, bytes] | None:
    """(first line's JSON, content) of a cached index file; None if it is not whole (torn by a crash, or
    not written by this version)."""
    head, _, data = raw.partition(b"\n")
    try:
        meta = json.loads(head)
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("sum") != _digest(data):
        return None
    return meta, data


def check_new_name(registry: "Registry", name: str) -> None:
    """Refuse (`Forbidden`) a new crate `name` the upstream has, as spelt or with all `-` or all `_`,
    unless the administrator allowed it (`allowed_names` in config.yaml, read afresh); `UpstreamError`
    if the upstream cannot say."""
    allowed = {normalise(n) for n in RegistryConfig.load(registry.layout.config).allowed_names}
    if normalise(name) in allowed:
        return
    mirror = Mirror(registry)
    try:
        for spelling in dict.fromkeys((name, name.replace("_", "-"), name.replace("-", "_"))):
            try:
                found = mirror.upstream_index_file(spelling)
            except UpstreamError as exc:
                raise UpstreamError(f"cannot publish the new crate `{name}`: whether the upstream registry "
                                    f"has it could not be checked ({exc.detail})") from exc
            if found is not None:
                raise Forbidden(
                    f"crate `{name}` exists on the upstream registry {registry.config.upstream}: a new crate of "
                    "that name here would take its place for everyone using this registry (dependency "
                    f"confusion). An administrator can allow it with `palletizer allow-name {name}` "
                    "(allowed_names in config.yaml)")
    finally:
        mirror.upstream.close()


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


def _check_index(name: str, data: bytes) -> list[dict]:
    """The entries of an upstream index file; `UpstreamError` unless it is one JSON entry of crate `name` a
    line (with a checksum)."""
    key = normalise(name)
    entries = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise UpstreamError(f"the upstream's index file of `{name}` is not JSON (line {number})") from exc
        if (not isinstance(entry, dict) or not isinstance(entry.get("name"), str)
                or normalise(entry["name"]) != key or not isinstance(entry.get("vers"), str)
                or not isinstance(entry.get("cksum"), str) or not _CKSUM.match(entry["cksum"])):
            raise UpstreamError(f"the upstream's index file of `{name}` has an invalid entry (line {number})")
        entries.append(entry)
    return entries


def _file_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive `flock` on `path` (it and its folder created if needed), across threads and processes."""
    description = f"the mirror lock {path.name}"
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not open {description}: {exc.strerror or exc}") from exc
    return file_lock(path, description)


MAX_SUMMARY_MEMORY = 65536
_SUMMARIES: dict[Path, tuple[tuple[int, int, int], tuple[str, str] | None]] = {}
_SUMMARIES_LOCK = threading.Lock()


def cached_entries(layout: Layout, name: str) -> list[dict] | None:
    """The index entries of `name` as the mirror's cache holds them (never fetched, however old); None if
    the cache has no index file of that name (or knows it missing). Lines that are not an entry with a
    valid version are left out; `yanked`, `deps` and `features` are always present."""
    try:
        raw = layout.mirror_index_file(name).read_bytes()
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    except OSError as exc:
        raise StorageError(f"could not read the mirror's index file of {name}: {exc.strerror or exc}") from exc
    return _entries(raw)


def cached_summaries(layout: Layout) -> Iterator[tuple[str, str]]:
    """(name, version search shows) of every crate whose index file the mirror's cache holds, read only
    from the cache; each file is parsed once per version of it on disk (remembered per process)."""
    root = layout.mirror / "index"
    for folder, _, files in os.walk(root):
        for file_name in files:
            if file_name.startswith(TEMP_PREFIX):
                continue
            path = Path(folder) / file_name
            try:
                st = path.stat()
            except OSError:
                continue
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            remembered = _SUMMARIES.get(path)
            if remembered is not None and remembered[0] == key:
                summary = remembered[1]
            else:
                try:
                    entries = _entries(path.read_bytes())
                except OSError:
                    continue
                summary = (entries[-1]["name"], max_version(entries)) if entries else None
                with _SUMMARIES_LOCK:
                    if len(_SUMMARIES) >= MAX_SUMMARY_MEMORY:
                        _SUMMARIES.clear()
                    _SUMMARIES[path] = (key, summary)
            if summary is not None:
                yield summary


def _entries(raw: bytes) -> list[dict] | None:
    parsed = _parse_cached(raw)
    if parsed is None or parsed[0].get("missing"):
        return None
    data = parsed[1]
    entries = []
    for line in data.splitlines():
        try:
            entry = json.loads(line) if line.strip() else None
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            parse_version(entry.get("vers"))
        except (ValueError, PalletizerError):
            continue
        entry["yanked"] = bool(entry.get("yanked"))
        entry["deps"] = [d for d in entry.get("deps") or [] if isinstance(d, dict) and "name" in d and "req" in d]
        entry.setdefault("features", {})
        entries.append(entry)
    return entries
