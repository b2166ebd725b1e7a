"""The files of the mirror's cache: an index file as stored (its validators and digest on a first JSON line,
then the upstream's content), the entries an upstream index file may hold, and a cached crate's versions as
its page shows them, parsed once per version of the file and kept within a byte budget."""

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import InvalidCrate, PalletizerError, StorageError
from palletizer_lib.domain.index_entry import IndexEntry, check_entry
from palletizer_lib.domain.names import normalise
from palletizer_lib.domain.versions import max_version, parse_version

DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024
# What one version of a parsed crate costs in memory, roughly (its row, its line's place in the file).
_ROW_COST = 160
V = TypeVar("V")


class ByteLru(Generic[V]):
    """Values by key, each with its version (a file's identity on disk) and its cost in bytes, the least
    recently used dropped once they cost more than `max_bytes`; safe across threads."""

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self._max = max_bytes
        self._items: OrderedDict[Hashable, tuple[Hashable, V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> V | None:
        """The value kept under `key` for `version`, else None."""
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != version:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: Hashable, version: Hashable, value: V, cost: int) -> None:
        """Keep `value` (nothing if it alone costs more than the budget)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[2]
            if cost > self._max:
                return
            self._items[key] = (version, value, cost)
            self._size += cost
            while self._size > self._max:
                self._size -= self._items.popitem(last=False)[1][2]

    @property
    def size(self) -> int:
        """The bytes the kept values cost."""
        return self._size


def digest(data: bytes) -> str:
    """The digest of a cached index file's content: its ETag, and its check against a torn write."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_cached(meta: dict, data: bytes) -> bytes:
    """A cached index file: `meta` (the upstream's validators, `changed`) with the digest of `data` as its
    first line, then `data`."""
    return json.dumps({**meta, "sum": digest(data)}).encode() + b"\n" + data


def parse_cached(raw: bytes) -> tuple[dict, bytes] | None:
    """(first line's JSON, content) of a cached index file; None if it is not whole (torn by a crash, or not
    written by this version) or says a name is missing (as older versions stored those)."""
    head, _, data = raw.partition(b"\n")
    try:
        meta = json.loads(head)
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("sum") != digest(data) or meta.get("missing"):
        return None
    return meta, data


def valid_lines(name: str, data: bytes) -> tuple[bytes, list[IndexEntry]]:
    """The lines of an upstream index file of crate `name` that are entries as a publish would make them,
    all of one spelling of the name (the first valid entry's): (those lines, their entries). Lines that are
    not, and blank lines, are left out."""
    key = normalise(name)
    kept: list[bytes] = []
    entries: list[IndexEntry] = []
    spelling = None
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            entry = check_entry(json.loads(line))
        except (ValueError, RecursionError, PalletizerError):
            continue
        if normalise(entry["name"]) != key or spelling not in (None, entry["name"]):
            continue
        spelling = entry["name"]
        kept.append(line)
        entries.append(entry)
    return b"".join(line + b"\n" for line in kept), entries


def summary_of(raw: bytes) -> tuple[str, str] | None:
    """(crate name, version search shows) of a cached index file as stored; None if it is not usable."""
    parsed = parse_cached(raw)
    if parsed is None:
        return None
    entries = _entries(parsed[1])
    return (entries[-1]["name"], max_version(entries)) if entries else None


def _entries(data: bytes) -> list[dict]:
    """The entries of a cached file's content, each with a valid version (lines that are not are skipped)."""
    entries = []
    for line in data.splitlines():
        try:
            entry = json.loads(line) if line.strip() else None
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                parse_version(entry.get("vers"))
                entries.append(entry)
        except (ValueError, PalletizerError):
            continue
    return entries


@dataclass(frozen=True)
class MirroredCrate:
    """A crate of the mirror's cache as its page shows it: its name, every version newest first with whether
    it is yanked, the version search shows, and where each version's line is in the file."""

    path: Path
    identity: tuple[int, int, int]
    name: str
    versions: list[tuple[str, bool]]
    shown: str
    lines: dict[str, tuple[int, int]]

    def entry(self, version: str) -> IndexEntry | None:
        """The index entry of `version` (read from the file: only its line), with `yanked`, `deps` and
        `features` present; None if there is no such version or the file changed since."""
        place = self.lines.get(version)
        if place is None:
            return None
        try:
            with self.path.open("rb") as file:
                if file_identity(os.fstat(file.fileno())) != self.identity:
                    return None
                entry = json.loads(os.pread(file.fileno(), place[1], place[0]))
        except (OSError, ValueError):
            return None
        entry["yanked"] = bool(entry.get("yanked"))
        entry["deps"] = [d for d in entry.get("deps") or [] if isinstance(d, dict) and "name" in d and "req" in d]
        entry.setdefault("features", {})
        return entry


_CRATES: ByteLru[MirroredCrate] = ByteLru()


def file_identity(st: os.stat_result) -> tuple[int, int, int]:
    """One version of a file on disk: an atomic write (a new inode) or a touch makes another."""
    return st.st_ino, st.st_mtime_ns, st.st_size


def read_once(path: Path, memory: ByteLru[V], parse: Callable[[bytes, os.stat_result], V | None],
              cost: Callable[[V], int]) -> V | None:
    """What `parse` makes of the cache's file at `path` (its bytes and status), parsed once per version of the
    file and kept in `memory` at `cost`; None if there is no such file or `parse` finds nothing usable."""
    try:
        with path.open("rb") as file:
            st = os.fstat(file.fileno())
            found = memory.get(path, file_identity(st))
            if found is not None:
                return found
            raw = file.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StorageError(f"could not read the mirror's {path.name}: {exc.strerror or exc}") from exc
    value = parse(raw, st)
    if value is not None:
        memory.put(path, file_identity(st), value, cost(value))
    return value


def cached_crate(layout: Layout, name: str) -> MirroredCrate | None:
    """The crate `name` as the mirror's cache holds it (never fetched, however old); None if the cache has
    no usable index file of that name. Each version of the file is parsed once per process."""
    path = layout.mirror_index_file(name)
    return read_once(path, _CRATES, lambda raw, st: _parse_crate(path, file_identity(st), raw),
                     lambda crate: _ROW_COST * (len(crate.versions) + 1))


def _parse_crate(path: Path, identity: tuple[int, int, int], raw: bytes) -> MirroredCrate | None:
    if parse_cached(raw) is None:
        return None
    offset = raw.index(b"\n") + 1
    rows: list[tuple[str, bool]] = []
    lines: dict[str, tuple[int, int]] = {}
    entries: list[dict] = []
    for line in raw[offset:].splitlines(keepends=True):
        try:
            entry = json.loads(line)
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                parse_version(entry.get("vers"))
                entries.append({"name": entry["name"], "vers": entry["vers"], "yanked": bool(entry.get("yanked"))})
                lines[entry["vers"]] = (offset, len(line))
        except (ValueError, InvalidCrate):
            pass
        offset += len(line)
    if not entries:
        return None
    for entry in sorted(entries, key=lambda e: parse_version(e["vers"]), reverse=True):
        rows.append((entry["vers"], entry["yanked"]))
    return MirroredCrate(path, identity, entries[-1]["name"], rows, max_version(entries), lines)
