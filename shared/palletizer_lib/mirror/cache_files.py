"""The files of the mirror's cache, and the one place its index files are read (`read_index_file`, and
`read_span` for one line of a file already read): an index file as stored (its validators and ETag on a
first JSON line, then the upstream's content), used only when whole; the entries an upstream index file may
hold; the checksums a cached crate file is checked against."""

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import PalletizerError, StorageError
from palletizer_lib.domain.index_entry import IndexEntry, check_entry
from palletizer_lib.domain.names import normalise
from palletizer_lib.domain.versions import max_version, parse_version
from palletizer_lib.index.cache import CachedFile, content_etag
from palletizer_lib.mirror.byte_lru import ByteLru

V = TypeVar("V")
# What a parsed index file costs in memory beyond its content, roughly.
_INDEX_OVERHEAD = 512


def encode_cached(meta: dict[str, Any], data: bytes) -> bytes:
    """A cached index file: `meta` (the upstream's validators, `changed`) with the ETag of `data` (its
    `content_etag`, which a torn write does not match) as its first line, then `data`."""
    return json.dumps({**meta, "sum": content_etag(data)}).encode() + b"\n" + data


def file_identity(st: os.stat_result) -> tuple[int, int, int]:
    """One version of a file on disk: an atomic write (a new inode) or a touch makes another."""
    return st.st_ino, st.st_mtime_ns, st.st_size


@dataclass(frozen=True)
class StoredIndexFile:
    """A whole cached index file as read: where it is, its first line's fields, its content, where the content
    starts in the file, and the file's status when it was read."""

    path: Path
    meta: dict[str, Any]
    data: bytes
    start: int
    stat: os.stat_result

    @property
    def identity(self) -> tuple[int, int, int]:
        """The version of the file that was read."""
        return file_identity(self.stat)


def read_index_file(
    path: Path, parse: Callable[[StoredIndexFile], V | None], memory: ByteLru[V] | None = None
) -> V | None:
    """What `parse` makes of the cache's index file at `path`; None if there is no such file, if it is not
    whole (torn by a crash, or not written by this version) or says a name is missing (as older versions
    stored those), or if `parse` finds nothing usable. With `memory`, each version of the file is parsed once
    and kept there."""
    try:
        with path.open("rb") as file:
            st = os.fstat(file.fileno())
            found = memory.get(path, file_identity(st)) if memory is not None else None
            if found is not None:
                return found
            raw = file.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StorageError(f"could not read the mirror's {path.name}: {exc.strerror or exc}") from exc
    stored = _whole(path, raw, st)
    value = parse(stored) if stored is not None else None
    if value is not None and memory is not None:
        memory.put(path, file_identity(st), value)
    return value


def read_span(path: Path, identity: tuple[int, int, int], start: int, length: int) -> bytes | None:
    """`length` bytes from `start` of the cache's index file at `path`, if it is still the version `identity`
    (as `read_index_file` read it); None if it is not, or cannot be read."""
    try:
        with path.open("rb") as file:
            if file_identity(os.fstat(file.fileno())) != identity:
                return None
            return os.pread(file.fileno(), length, start)
    except OSError:
        return None


def _whole(path: Path, raw: bytes, st: os.stat_result) -> StoredIndexFile | None:
    head, _, data = raw.partition(b"\n")
    try:
        meta = json.loads(head)
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("sum") != content_etag(data) or meta.get("missing"):
        return None
    return StoredIndexFile(path, meta, data, len(head) + 1, st)


@dataclass(frozen=True)
class CachedIndex:
    """One cached index file as the mirror serves it: the upstream's validators, when it was fetched, and
    the file."""

    etag: str | None
    last_modified: str | None
    fetched: float
    file: CachedFile


def cached_index(stored: StoredIndexFile) -> CachedIndex | None:
    """A cached index file as the mirror serves it (when it was fetched: its modification time); None if its
    first line's `changed` is not a time."""
    try:
        changed = float(stored.meta.get("changed", stored.stat.st_mtime))
    except (TypeError, ValueError):
        return None
    content = CachedFile(stored.data, stored.meta["sum"], datetime.fromtimestamp(int(changed), tz=UTC))
    return CachedIndex(stored.meta.get("etag"), stored.meta.get("last_modified"), stored.stat.st_mtime, content)


def index_cost(cached: CachedIndex) -> int:
    """What a parsed index file costs in memory, roughly."""
    return len(cached.file.data) + _INDEX_OVERHEAD


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


def summary_of(stored: StoredIndexFile) -> tuple[str, str] | None:
    """(crate name, version search shows) of a cached index file; None if it has no usable entry."""
    entries = _entries(stored.data)
    return (entries[-1]["name"], max_version(entries)) if entries else None


def _entries(data: bytes) -> list[dict[str, Any]]:
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


def entry_cksum(data: bytes, name: str, version: str) -> str | None:
    """The `cksum` of `name` `version` in an index file's content (only lines naming the version are parsed)."""
    wanted = version.encode()
    for line in data.splitlines():
        if wanted in line:
            entry = json.loads(line)
            if entry.get("name") == name and entry.get("vers") == version:
                cksum = entry.get("cksum")
                return cksum if isinstance(cksum, str) else None
    return None


def cached_cksum(layout: Layout, name: str, version: str) -> str | None:
    """The `cksum` of `name` `version` in the cache's index file of `name`, as on disk; None if the cache has
    no usable index file of that name, or it has no such version."""
    return read_index_file(layout.mirror_index_file(name), lambda stored: entry_cksum(stored.data, name, version))


def crate_sha256(path: Path) -> str:
    """The SHA-256 of a cached crate file, as its index entry's `cksum` gives it."""
    found = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            found.update(chunk)
    return found.hexdigest()
