"""A pull-through cache of an upstream sparse registry (`upstream` in `config.yaml`), under `mirror/`.

Index files are fetched on demand (conditionally, with the upstream's ETag / Last-Modified), stored with
their validators in one atomic write, served with an ETag of their own (a hash of the content), revalidated
once older than `upstream_freshness` seconds, and served stale while the upstream fails. When a file was
last fetched or revalidated is its modification time (a revalidation that changes nothing only touches it).
A name the upstream lacks is remembered as missing for at most `MISSING_TTL` seconds. A crate file is
fetched once (one of a fixed set of lock files, so threads and processes alike wait for one fetch), its
SHA-256 checked against the cached index entry while it streams to a temporary file, and only then renamed
into place. The cache is written without waiting for the disk (no fsync): what it reads back is checked
instead, an index file against the ETag in its first line, a crate file against its index entry's
checksum (once per process and version of the file), so that a file torn by a crash is fetched again,
never served. A crate published here shadows the upstream's in every spelling: none of its names goes upstream.
"""

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO

from palletizer_lib.disk.files import atomic_write, atomic_write_with, file_lock
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import NotFound, StorageError, UpstreamError
from palletizer_lib.domain.index_entry import IndexEntry
from palletizer_lib.domain.names import normalise, validate_name
from palletizer_lib.domain.versions import max_version, parse_version
from palletizer_lib.index.cache import CachedFile, content_etag
from palletizer_lib.mirror.cache_files import (
    CachedIndex,
    cached_cksum,
    cached_index,
    crate_sha256,
    encode_cached,
    entry_cksum,
    file_identity,
    read_index_file,
    valid_lines,
)
from palletizer_lib.mirror.catalog import MirrorCatalog, catalog_of
from palletizer_lib.mirror.credentials import load_credentials
from palletizer_lib.mirror.gate import PROCESS_GATE
from palletizer_lib.mirror.read_ahead import Budget, current_budget, likely_next
from palletizer_lib.mirror.shadowing import IsLocal
from palletizer_lib.mirror.state import (
    MEMORY,
    MISSING_TTL,
    PENDING,
    PROCESS_STATS,
    READ_AHEAD,
    WRITER,
    MirrorStats,
    forget_missing,
    hold_pending,
    known_missing,
    release_pending,
    remember_missing,
)
from palletizer_lib.mirror.upstream import Upstream, download_url
from palletizer_lib.settings.config import RegistryConfig

MAX_NAME_LOCKS = 4096
MAX_CHECKED = 4096
log = logging.getLogger("palletizer.mirror")


class Mirror:
    """The mirror of one registry's upstream (`config`'s, in the data directory of `layout`; the names
    `is_local` says are published here are never asked of it); safe to share between threads, and processes
    share its files. With `background` (servers), a fetched index file is answered at once and written to the
    cache by `WRITER`, off the request's path, and the index files of its likely dependencies are fetched
    ahead (`READ_AHEAD`); without (the command line), nothing is guessed and each file is written before the
    call returns."""

    def __init__(
        self,
        config: RegistryConfig,
        layout: Layout,
        is_local: IsLocal,
        upstream: Upstream | None = None,
        clock: Callable[[], float] = time.time,
        stats: MirrorStats | None = None,
        background: bool = False,
    ) -> None:
        self.layout = layout
        self.is_local = is_local
        if background:
            PROCESS_GATE.configure(config.upstream_concurrency, config.upstream_failure_hold)
        if upstream is None:
            if not config.upstream:
                raise ValueError("this registry has no upstream")
            upstream = Upstream(
                config.upstream,
                max_crate_bytes=config.max_crate_size,
                gate=PROCESS_GATE if background else None,
                auth=load_credentials(layout.root),
            )
        self.upstream = upstream
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

    # -- index files ---------------------------------------------------------------------

    def index_file(self, name: str) -> CachedFile | None:
        """The upstream's index file of `name` as cached (revalidated when older than the freshness time);
        None if the upstream has no such crate, or if the name is published here."""
        validate_name(name)
        if self.is_local(name):
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
            self.stats.count("index_misses")
            return self._revalidate(name, path, self._read(path))

    def _cached_answer(self, path: Path) -> tuple[bool, CachedFile | None]:
        """(True, the answer) if the cache can answer for `path` without the upstream, else (False, None)."""
        if known_missing(path, self._clock(), min(self.freshness, MISSING_TTL)):
            self.stats.count("index_hits")
            return True, None
        cached = self._read(path)
        if cached is None or not self._fresh(cached):
            return False, None
        self.stats.count("index_hits")
        if path not in PENDING:
            self.catalog.used(path)
        return True, cached.file

    def _fresh(self, cached: CachedIndex) -> bool:
        return 0 <= self._clock() - cached.fetched < self.freshness

    def _revalidate(self, name: str, path: Path, cached: CachedIndex | None) -> CachedFile | None:
        try:
            self.stats.count("upstream_requests")
            answer = self.upstream.index(
                name, cached.etag if cached else None, cached.last_modified if cached else None
            )
            if answer.status == 200:
                self.stats.count("bytes_fetched", len(answer.data))
                data, entries = valid_lines(name, answer.data)
                if not entries:
                    raise UpstreamError(f"the upstream's index file of `{name}` has no valid entry")
        except UpstreamError as exc:
            self.stats.count("errors")
            if cached is not None:
                self.stats.count("stale_served")
                log.warning("upstream failed for the index file of %s, serving the cached copy: %s", name, exc.detail)
                return cached.file
            raise
        now = self._clock()
        if answer.status == 304 and cached is not None:
            if path not in PENDING:
                self._touch(path, now, cached)
            return cached.file
        if answer.status != 200:
            remember_missing(path, now)
            if cached is not None:
                self._drop(path)
            return None
        forget_missing(path)
        changed = now
        if cached is not None and cached.file.data == data:
            changed = cached.file.last_modified.timestamp()
        meta = {"etag": answer.etag, "last_modified": answer.last_modified, "changed": changed}
        file = CachedFile(data, content_etag(data), datetime.fromtimestamp(int(changed), tz=UTC))
        stored = CachedIndex(answer.etag, answer.last_modified, now, file)
        self._keep(path, encode_cached(meta, data), now, stored, entries)
        return stored.file

    def _keep(self, path: Path, raw: bytes, now: float, stored: CachedIndex, entries: list[IndexEntry]) -> None:
        """Record a fetched index file (its `entries`, `stored` as encoded in `raw`) in the catalog and write it:
        in the background (then reading ahead) if the files waiting leave room, else at once."""
        name, shown = entries[-1]["name"], max_version([{**e, "yanked": bool(e.get("yanked"))} for e in entries])
        if self._background and hold_pending(path, stored):
            self._guarded(lambda: self.catalog.put_index(path, name, shown, len(raw)), path)
            WRITER.submit(lambda: self._guarded(lambda: self._store(path, raw, now, stored), path))
            self._read_ahead(entries)
        else:
            self.catalog.put_index(path, name, shown, len(raw))
            self._store(path, raw, now, stored)

    def _read_ahead(self, entries: list[IndexEntry]) -> None:
        """Fetch in the background the index files cargo will likely ask for after this one, within the
        budget of the request cargo made (a file read ahead passes on what is left of it)."""
        below = (current_budget() or Budget()).below()
        if below is None:
            return
        for name in likely_next(entries):
            cached = self._read(self.layout.mirror_index_file(name))
            if (cached is None or not self._fresh(cached)) and below.take():
                READ_AHEAD.submit(f"{self.layout.root}:{normalise(name)}", partial(self._fetch_ahead, name), below)

    def _fetch_ahead(self, name: str) -> None:
        if not self.is_local(name):
            self.stats.count("read_ahead")
            self.upstream_index_file(name)

    def _store(self, path: Path, raw: bytes, now: float, stored: CachedIndex) -> None:
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
            release_pending(path, stored)

    def _guarded(self, write: Callable[[], None], path: Path) -> None:
        """Run a write of the cache done behind a request: a failure is logged and counted (the file is
        fetched again next time), never raised."""
        try:
            write()
        except StorageError as exc:
            self.stats.count("errors")
            log.warning("could not cache the index file %s: %s", path.name, exc.detail)

    def _drop(self, path: Path) -> None:
        """Remove the cached index file of a name the upstream no longer has."""
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            path.unlink()
        self.catalog.forget(path)

    def _touch(self, path: Path, now: float, cached: CachedIndex) -> None:
        """Record that `path` was fetched or revalidated at `now` (its modification time), and keep what it
        holds parsed for that version of the file."""
        try:
            os.utime(path, (now, now))
            st = os.stat(path)
        except OSError as exc:
            raise StorageError(f"could not update the mirror's {path.name}: {exc.strerror or exc}") from exc
        fresh = CachedIndex(cached.etag, cached.last_modified, st.st_mtime, cached.file)
        MEMORY.put(path, file_identity(st), fresh)

    def _read(self, path: Path) -> CachedIndex | None:
        """The cached file at `path` (one waiting to be written, else as on disk, parsed once per version of
        the file)."""
        pending = PENDING.get(path)
        if pending is not None:
            return pending
        return read_index_file(path, cached_index, MEMORY)

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
        if self.is_local(name):
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        path = self.layout.mirror_crate_file(name, version)
        if self._intact(path, name, version):
            self.stats.count("crate_hits")
            self.catalog.used(path)
            return path
        cksum = self._cksum(name, version)
        with _file_lock(self.layout.mirror_lock(name, version)):
            if self._intact(path, name, version, cksum):
                self.stats.count("crate_hits")
                self.catalog.used(path)
                return path
            self.stats.count("crate_misses")
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
        if self._checked.get(path) == file_identity(st):
            return True
        cksum = cksum or cached_cksum(self.layout, name, version)
        if cksum is None:
            return False
        if crate_sha256(path) == cksum:
            self._remember_intact(path)
            return True
        log.warning("the mirror's %s does not match its index entry (torn by a crash?): fetching it again", path.name)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.catalog.forget(path)
        return False

    def _remember_intact(self, path: Path) -> None:
        st = os.stat(path)
        with self._lock:
            if len(self._checked) >= MAX_CHECKED:
                self._checked.clear()
            self._checked[path] = file_identity(st)

    def _cksum(self, name: str, version: str) -> str:
        file = self.index_file(name)
        cksum = entry_cksum(file.data, name, version) if file is not None else None
        if cksum is None:
            raise NotFound(f"no file for crate `{name}` version `{version}`")
        return cksum

    def _fetch_crate(self, name: str, version: str, cksum: str, path: Path) -> int:
        url = download_url(self._download_template(), name, version, cksum)

        def download(out: BinaryIO) -> int:
            self.stats.count("upstream_requests")
            try:
                return self.upstream.download(url, out, cksum)
            except UpstreamError:
                self.stats.count("errors")
                raise

        size = atomic_write_with(path, download, durable=False)
        self.stats.count("bytes_fetched", size)
        return size

    def _download_template(self) -> str:
        """The upstream's `dl`, read from its config.json once per process (kept in `mirror/config.json`
        for when the upstream cannot be reached)."""
        if self._dl is not None:
            return self._dl
        stored = self.layout.mirror / "config.json"
        try:
            self.stats.count("upstream_requests")
            config = self.upstream.config()
            atomic_write(stored, json.dumps(config).encode())
        except UpstreamError as exc:
            self.stats.count("errors")
            try:
                config = json.loads(stored.read_bytes())
            except (OSError, ValueError):
                raise exc from None
        dl: str = config["dl"]
        self._dl = dl
        return dl


def _file_lock(path: Path) -> contextlib.AbstractContextManager[bool]:
    """An exclusive `flock` on `path` (it and its folder created if needed), across threads and processes."""
    description = f"the mirror lock {path.name}"
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not open {description}: {exc.strerror or exc}") from exc
    return file_lock(path, description)
