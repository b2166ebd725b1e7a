"""Hot served index files in memory, with their ETags computed once, dropped whenever the index changes.

The cache keeps one generation per `ServedIndex.version()`: each lookup asks it once (for the local served
index, one `stat`), and any change of it starts a new generation, whichever process made the change.
"""

import hashlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime

from palletizer_lib.stores.served_index import ServedFile, ServedIndex

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# What a cached "no such file" counts for in the byte budget.
_MISS_COST = 128


@dataclass(frozen=True)
class CachedFile:
    """One index file as served: its bytes, ETag (unquoted) and modification time."""

    data: bytes
    etag: str
    last_modified: datetime


def content_etag(data: bytes) -> str:
    """The ETag of an index file as served (unquoted): a hash of its content, whoever serves it."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def cached_file(file: ServedFile | None) -> CachedFile | None:
    """A served file with its ETag computed; None for None."""
    if file is None:
        return None
    return CachedFile(file.data, content_etag(file.data), datetime.fromtimestamp(int(file.modified), tz=UTC))


class _Generation:
    """The files cached while the served index had one version."""

    def __init__(self, version: Hashable | None) -> None:
        self.version = version
        self.files: dict[str, CachedFile | None] = {}
        self.size = 0


class IndexCache:
    """The files of one registry's served index, cached per version of it; safe across threads."""

    def __init__(self, served: ServedIndex, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._served = served
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._generation = _Generation(None)

    def get(self, key: str, load: Callable[[], ServedFile | None]) -> CachedFile | None:
        """The file cached under `key`, else the one `load()` reads (None: there is none), then cached."""
        generation = self._current()
        if generation is None:
            return cached_file(load())
        files = generation.files
        try:
            return files[key]
        except KeyError:
            pass
        found = cached_file(load())
        cost = len(found.data) + len(key) + _MISS_COST if found else len(key) + _MISS_COST
        with self._lock:
            if generation.size + cost > self._max_bytes:
                files.clear()
                generation.size = 0
            if cost <= self._max_bytes:
                files[key] = found
                generation.size += cost
        return found

    def _current(self) -> _Generation | None:
        """The generation of the served index's version now (None: it has none, so nothing is kept)."""
        version = self._served.version()
        if version is None:
            return None
        generation = self._generation
        if generation.version == version:
            return generation
        with self._lock:
            if self._generation.version != version:
                self._generation = _Generation(version)
            return self._generation
