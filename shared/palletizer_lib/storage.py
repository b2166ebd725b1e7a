"""File-system primitives: atomic writes and the registry-wide write lock."""

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from .errors import StorageError

TEMP_PREFIX = ".tmp-"
T = TypeVar("T")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | memoryview) -> None:
    """Write `data` to `path` so that readers see the old or the new content, never a part."""
    atomic_write_with(path, lambda out: out.write(data))


def atomic_write_with(path: Path, write: Callable[[BinaryIO], T]) -> T:
    """Make `path` what `write` writes into the file it is given (streamed, never whole in memory), so that
    readers see the old or the new content, never a part; `write`'s result is returned. If `write` raises,
    nothing changes."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                result = write(tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(path.parent)
    except OSError as exc:
        raise StorageError(f"could not write {path.name}: {exc.strerror or exc}") from exc
    return result


def remove_file(path: Path) -> None:
    """Delete `path` if it exists and make the removal durable."""
    try:
        path.unlink(missing_ok=True)
        _fsync_dir(path.parent)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(f"could not remove {path.name}: {exc.strerror or exc}") from exc


def exclusive_lock(lock_path: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the registry's write lock (an `flock`), shared by threads and processes alike."""
    return file_lock(lock_path, f"the registry lock {lock_path}")


@contextlib.contextmanager
def file_lock(path: Path, description: str) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if missing), across threads and processes; a failure to
    open it is a `StorageError` naming `description`."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"could not open {description}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
