"""What every `Mirror` of a process shares: the counts of what it did (`PROCESS_STATS`), the index files
fetched but not yet written (`PENDING`, served from there until `WRITER` has written them, within
`MAX_PENDING_BYTES`: past it, a file is written before it is answered), the parsed index files of the cache
(`MEMORY`, per version of the file on disk, within a byte budget), the names the upstream lacks (`MISSING`,
with when it said so: in memory only, at most `MAX_MISSING` of them) and the threads that read ahead
(`READ_AHEAD`). Outside this module, `PENDING` and `MISSING` are only read."""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.disk.files import WriteBehind
from palletizer_lib.disk.layout import Layout
from palletizer_lib.mirror.byte_lru import ByteLru
from palletizer_lib.mirror.cache_files import CachedIndex, index_cost
from palletizer_lib.mirror.read_ahead import ReadAhead

MISSING_TTL = 60
MAX_MISSING = 16_384
MEMORY_BYTES = 16 * 1024 * 1024
MAX_PENDING_BYTES = 16 * 1024 * 1024


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

    def count(self, field: str, amount: int = 1) -> None:
        """Add `amount` to the count `field` (safe across threads)."""
        with _STATS_LOCK:
            setattr(self, field, getattr(self, field) + amount)


PROCESS_STATS = MirrorStats()
_STATS_LOCK = threading.Lock()

WRITER = WriteBehind()
READ_AHEAD = ReadAhead()
MEMORY: ByteLru[CachedIndex] = ByteLru(index_cost, MEMORY_BYTES)

PENDING: dict[Path, CachedIndex] = {}
_PENDING_LOCK = threading.Lock()
_PENDING_WRITTEN = threading.Condition(_PENDING_LOCK)
_pending_bytes = 0

MISSING: OrderedDict[Path, float] = OrderedDict()
_MISSING_LOCK = threading.Lock()


def hold_pending(path: Path, stored: CachedIndex) -> bool:
    """Keep `stored` to be served until it is written, if the files waiting hold less than
    `MAX_PENDING_BYTES`; False if not (the caller writes it at once)."""
    global _pending_bytes
    with _PENDING_LOCK:
        if _pending_bytes + len(stored.file.data) > MAX_PENDING_BYTES:
            return False
        old = PENDING.get(path)
        if old is not None:
            _pending_bytes -= len(old.file.data)
        PENDING[path] = stored
        _pending_bytes += len(stored.file.data)
        return True


def release_pending(path: Path, stored: CachedIndex) -> None:
    """Stop serving `stored` from memory (it was written, or could not be)."""
    global _pending_bytes
    with _PENDING_WRITTEN:
        if PENDING.get(path) is stored:
            del PENDING[path]
            _pending_bytes -= len(stored.file.data)
            _PENDING_WRITTEN.notify_all()


def settle(layout: Layout, name: str, timeout: float = 30.0) -> None:
    """Wait until the index file of `name`, if this process fetched it and has not written it yet, is in the
    cache (at most `timeout` seconds), so that what reads the cache's files sees what was just served."""
    path = layout.mirror_index_file(name)
    with _PENDING_WRITTEN:
        _PENDING_WRITTEN.wait_for(lambda: path not in PENDING, timeout)


def known_missing(path: Path, now: float, within: float) -> bool:
    """True if the upstream said less than `within` seconds before `now` that it lacks this file."""
    when = MISSING.get(path)
    return when is not None and 0 <= now - when < within


def remember_missing(path: Path, now: float) -> None:
    """Note that the upstream lacks this file, as of `now` (forgetting the oldest past `MAX_MISSING`)."""
    with _MISSING_LOCK:
        MISSING[path] = now
        MISSING.move_to_end(path)
        while len(MISSING) > MAX_MISSING:
            MISSING.popitem(last=False)


def forget_missing(path: Path) -> None:
    """Note that the upstream has this file."""
    with _MISSING_LOCK:
        MISSING.pop(path, None)
