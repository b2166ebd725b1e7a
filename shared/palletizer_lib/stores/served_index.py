"""The served copy of the index (what cargo's sparse protocol reads), by key: an index path such as
`3/f/foo` or `config.json`, and `HEAD_KEY` for the commit it was last brought up to. The interface is shaped
so that an object store can hold it; `LocalServedIndex` keeps it in a local directory (`index/`).

Every writer rewrites the changed files first and `HEAD_KEY` last. So a reader that sees the head name
commit C, and only then reads a file, gets that file as of C or newer: `version()` is what readers that
cache files watch.
"""

import os
import time
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from palletizer_lib.disk.files import atomic_write, key_path, read_key, remove_file
from palletizer_lib.domain.errors import StorageError

# The index's own file, at its root, as cargo reads it.
CONFIG_JSON = "config.json"
HEAD_KEY = ".head"
# A local head younger than this may be replaced by one with an identical stat: its content is read each time.
RACY_NS = 2_000_000_000


class ServedFile(NamedTuple):
    """One served index file: its bytes and when it last changed (POSIX seconds)."""

    data: bytes
    modified: float


class ServedIndex(Protocol):
    """Served index files by key."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` at `key` atomically and durably."""

    def get(self, key: str) -> bytes | None:
        """The file at `key`, or None if there is none."""

    def read(self, key: str) -> ServedFile | None:
        """The file at `key` with its modification time, or None if there is none."""

    def delete(self, key: str) -> None:
        """Remove the file at `key` durably (nothing if there is none)."""

    def list(self) -> Iterator[str]:
        """Every served index file's key (`HEAD_KEY` left out), sorted."""

    def version(self) -> Hashable | None:
        """A value that changes whenever the served files do (a write of `HEAD_KEY` included, even with
        the same content); None if there is no head. Cheap: readers ask it on every request."""


def changed_ns(st: os.stat_result) -> int:
    """When a file last changed, as far as a stat tells: its content (mtime) or its inode (ctime)."""
    return max(st.st_mtime_ns, st.st_ctime_ns)


class LocalServedIndex:
    """The served index under a local directory, one file per key.

    Its `version` is the head file's stat and content: the content is read again only when the stat
    changes, or while the head is so new that a replacement could have the same stat (the same inode number
    and a timestamp within one clock tick), so no change is ever missed, whichever process made it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._head_path = root / HEAD_KEY
        self._head_seen: tuple[tuple[int, ...], bytes, bool] | None = None

    def put(self, key: str, data: bytes) -> None:
        atomic_write(self._path(key), data)

    def get(self, key: str) -> bytes | None:
        return read_key(self._path(key), f"index/{key}")

    def read(self, key: str) -> ServedFile | None:
        path = self._path(key)
        try:
            with path.open("rb") as file:
                return ServedFile(file.read(), os.fstat(file.fileno()).st_mtime)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"could not read index/{key}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        remove_file(self._path(key))

    def list(self) -> Iterator[str]:
        return iter(
            sorted(
                path.relative_to(self.root).as_posix()
                for path in self.root.rglob("*")
                if path.is_file() and path != self._head_path
            )
        )

    def version(self) -> Hashable | None:
        try:
            st = os.stat(self._head_path)
        except FileNotFoundError:
            return None
        stat = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        seen = self._head_seen
        if seen is not None and seen[0] == stat and seen[2]:
            return seen[:2]
        try:
            head = self._head_path.read_bytes()
        except FileNotFoundError:
            return None
        self._head_seen = (stat, head, time.time_ns() - changed_ns(st) > RACY_NS)
        return stat, head

    def _path(self, key: str) -> Path:
        return key_path(self.root, key, "served index")
