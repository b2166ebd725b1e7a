"""Where the .crate files are kept, by key (`NAME/NAME-VERSION.crate`): the interface, shaped so that an
object store can hold them, and its implementation over a local directory (`crates/`)."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

from palletizer_lib.disk.files import TEMP_PREFIX, atomic_write, key_path, read_key, remove_file
from palletizer_lib.domain.errors import StorageError

# How a crate store key is shown to people (and the folder of the local store): `crates/KEY`.
CRATES_PREFIX = "crates/"


class StoredCrate(NamedTuple):
    """An open stored file and its size in bytes."""

    stream: BinaryIO
    size: int


class CrateStore(Protocol):
    """Crate files by key; a key is `NAME/NAME-VERSION.crate` (see `crate_key`)."""

    def put(self, key: str, data: bytes | memoryview) -> None:
        """Store `data` at `key` atomically and durably: readers see the old file or the new, never a part."""

    def get(self, key: str) -> bytes | None:
        """The file at `key`, or None if there is none."""

    def open(self, key: str) -> StoredCrate | None:
        """The file at `key` opened for streaming (the caller closes it), or None if there is none."""

    def size(self, key: str) -> int | None:
        """The size of the file at `key`, or None if there is none."""

    def exists(self, key: str) -> bool:
        """True if a file is stored at `key`."""

    def delete(self, key: str) -> None:
        """Remove the file at `key` durably (nothing if there is none)."""

    def discard_partial(self, key: str) -> None:
        """Drop what an interrupted `put` of `key` left behind (never a whole stored file)."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every stored key starting with `prefix`, sorted; a stray stored object is listed too."""

    def unreadable(self) -> str | None:
        """Why the store cannot be reached right now (one cheap request), None if it can."""


class LocalCrateStore:
    """Crate files under a local directory, one file per key."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def put(self, key: str, data: bytes | memoryview) -> None:
        atomic_write(self._path(key), data)

    def get(self, key: str) -> bytes | None:
        return read_key(self._path(key), key)

    def open(self, key: str) -> StoredCrate | None:
        try:
            stream = self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"could not open {key}: {exc.strerror or exc}") from exc
        return StoredCrate(stream, os.fstat(stream.fileno()).st_size)

    def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            return path.stat().st_size if path.is_file() else None
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        remove_file(path)
        if path.parent != self._root:
            with contextlib.suppress(OSError):
                path.parent.rmdir()

    def discard_partial(self, key: str) -> None:
        directory = self._path(key).parent
        if directory.is_dir():
            for leftover in directory.glob(TEMP_PREFIX + "*"):
                remove_file(leftover)

    def list(self, prefix: str = "") -> Iterator[str]:
        if not self._root.is_dir():
            return iter(())
        keys = (path.relative_to(self._root).as_posix() for path in self._root.rglob("*") if path.is_file())
        return iter(sorted(key for key in keys if key.startswith(prefix)))

    def unreadable(self) -> str | None:
        """None: the data directory's own check (`maintenance.health`) covers a local directory."""
        return None

    def _path(self, key: str) -> Path:
        return key_path(self._root, key, "crate store")
