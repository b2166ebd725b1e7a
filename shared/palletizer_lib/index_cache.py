"""Hot sparse index files in memory, with their ETags computed once, dropped whenever the index changes.

Every writer (a server process or the CLI, under the registry lock) rewrites the changed files in `index/`
first and `index/.head` last, each by an atomic rename. So a reader that sees `.head` name commit C, and
only then reads a file, gets that file as of C or newer. The cache keeps one generation per `.head`: each
lookup costs one `stat` of it, and any change of that stat (even a rewrite with the same commit id, as
after a repair of the files) or of its content starts a new generation. Its content is read again only
when the stat changes, or while `.head` is so new that a replacement could have the same stat (the same
inode number and a timestamp within one clock tick), so no change is ever missed, whichever process made it.
"""

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# A `.head` younger than this may be replaced by one with an identical stat: its content is read every time.
RACY_NS = 2_000_000_000
# What a cached "no such file" counts for in the byte budget.
_MISS_COST = 128
_ABSENT = object()


def changed_ns(st: os.stat_result) -> int:
    """When a file last changed, as far as a stat tells: its content (mtime) or its inode (ctime)."""
    return max(st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class CachedFile:
    """One index file as served: its bytes, ETag (unquoted) and modification time."""

    data: bytes
    etag: str
    last_modified: datetime


def load_file(path: Path) -> CachedFile | None:
    """Read `path` and compute its ETag (a hash of the content); None if it does not exist."""
    try:
        with path.open("rb") as file:
            data = file.read()
            mtime = os.fstat(file.fileno()).st_mtime
    except FileNotFoundError:
        return None
    etag = hashlib.blake2b(data, digest_size=16).hexdigest()
    return CachedFile(data, etag, datetime.fromtimestamp(int(mtime), tz=timezone.utc))


class _Generation:
    """The files cached while `.head` held one commit id."""

    def __init__(self, head: bytes | None, stat: tuple[int, ...] | None, trusted: bool) -> None:
        self.head = head
        self.stat = stat
        self.trusted = trusted
        self.files: dict[str, CachedFile | None] = {}
        self.size = 0


class IndexCache:
    """The files of one registry's `index/` directory, cached per index commit; safe across threads."""

    def __init__(self, index_head: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._head_path = index_head
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._generation = _Generation(None, None, False)

    def get(self, key: str, locate: Callable[[], Path | None]) -> CachedFile | None:
        """The file cached under `key`, else the one `locate()` finds (None: there is none), read and cached."""
        generation = self._current()
        if generation.stat is None:
            return _load(locate())
        files = generation.files
        cached = files.get(key, _ABSENT)
        if cached is not _ABSENT:
            return cached
        found = _load(locate())
        cost = len(found.data) + len(key) + _MISS_COST if found else len(key) + _MISS_COST
        with self._lock:
            if generation.size + cost > self._max_bytes:
                files.clear()
                generation.size = 0
            if cost <= self._max_bytes:
                files[key] = found
                generation.size += cost
        return found

    def _current(self) -> _Generation:
        """The generation of what `.head` names now; a stat of it, and rarely a read."""
        generation = self._generation
        try:
            st = os.stat(self._head_path)
        except FileNotFoundError:
            return _Generation(None, None, False)
        stat = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if stat == generation.stat and generation.trusted:
            return generation
        try:
            head = self._head_path.read_bytes()
        except FileNotFoundError:
            return _Generation(None, None, False)
        trusted = time.time_ns() - changed_ns(st) > RACY_NS
        with self._lock:
            current = self._generation
            if stat == current.stat and head == current.head:
                current.trusted = trusted
                return current
            self._generation = _Generation(head, stat, trusted)
            return self._generation


def _load(path: Path | None) -> CachedFile | None:
    return load_file(path) if path is not None else None
