"""The served copy of the index (what cargo's sparse protocol reads), by key: an index path such as
`3/f/foo` or `config.json`, and `HEAD_KEY` for the commit it was last brought up to. The interface is shaped
so that an object store can hold it; `LocalServedIndex` keeps it in a local directory (`index/`)."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from .errors import StorageError
from .storage import atomic_write, key_path, read_key, remove_file

HEAD_KEY = ".head"


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


class LocalServedIndex:
    """The served index under a local directory, one file per key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> None:
        atomic_write(self.path(key), data)

    def get(self, key: str) -> bytes | None:
        return read_key(self.path(key), f"index/{key}")

    def read(self, key: str) -> ServedFile | None:
        path = self.path(key)
        try:
            with path.open("rb") as file:
                return ServedFile(file.read(), os.fstat(file.fileno()).st_mtime)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"could not read index/{key}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        remove_file(self.path(key))

    def list(self) -> Iterator[str]:
        head = self.path(HEAD_KEY)
        return iter(sorted(path.relative_to(self.root).as_posix() for path in self.root.rglob("*")
                           if path.is_file() and path != head))

    def path(self, key: str) -> Path:
        """The local file of `key` (for the in-memory index cache, which watches files)."""
        return key_path(self.root, key, "served index")
