"""File-system primitives: atomic writes and the registry-wide write lock."""

import contextlib
import fcntl
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from palletizer_lib.domain.errors import StorageError

TEMP_PREFIX = ".tmp-"
FILE_MODE = 0o644
T = TypeVar("T")
log = logging.getLogger("palletizer.storage")


def fsync_dir(directory: Path) -> None:
    """Make a rename or deletion in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | memoryview, *, durable: bool = True, mode: int = FILE_MODE) -> None:
    """Write `data` to `path` so that readers see the old or the new content, never a part (see
    `atomic_write_with` for `durable` and `mode`)."""
    atomic_write_with(path, lambda out: out.write(data), durable=durable, mode=mode)


def atomic_write_with(path: Path, write: Callable[[BinaryIO], T], *, durable: bool = True, mode: int = FILE_MODE) -> T:
    """Make `path` what `write` writes into the file it is given (streamed, never whole in memory), so that
    readers see the old or the new content, never a part; `write`'s result is returned. If `write` raises,
    nothing changes. With `durable`, the content and then the new name are on disk before this returns;
    without, a crash may leave `path` missing or torn, so only a cache that checks what it reads (by a
    checksum) may skip that. The file gets permissions `mode`, whatever the umask."""
    try:
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                result = write(tmp)
                if durable:
                    tmp.flush()
                    os.fsync(tmp.fileno())
            os.chmod(tmp_name, mode)
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        if durable:
            fsync_dir(path.parent)
    except OSError as exc:
        raise StorageError(f"could not write {path.name}: {exc.strerror or exc}") from exc
    return result


def key_path(root: Path, key: str, store: str) -> Path:
    """The file under `root` of a store's key (`a/b/c`): ValueError for a key that `check_key` refuses."""
    return root.joinpath(*check_key(key, store))


def check_key(key: str, store: str) -> list[str]:
    """The parts of a store's key (`a/b/c`): ValueError for a key that is empty, absolute or would leave
    the store's root (`.`, `..`, empty parts); `store` names the store in the message."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"`{key}` is not a key of the {store}")
    return parts


def read_key(path: Path, label: str) -> bytes | None:
    """The bytes of a store's file, None if there is none; StorageError naming `label` if unreadable."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StorageError(f"could not read {label}: {exc.strerror or exc}") from exc


def remove_file(path: Path) -> None:
    """Delete `path` if it exists and make the removal durable."""
    try:
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(f"could not remove {path.name}: {exc.strerror or exc}") from exc


HELD, FREE = b"held\n", b"free\n"


def exclusive_lock(lock_path: Path) -> contextlib.AbstractContextManager[bool]:
    """Hold the registry's write lock (an `flock`), shared by threads and processes alike. It gives True
    when the previous holder never let it go (a writer killed mid-change): the lock file says `held` while
    it is held and `free` once let go (overwritten in place, so a full disk does not stop it; no fsync: a
    power cut may lose the mark, see `repair`)."""
    return file_lock(lock_path, f"the registry lock {lock_path}", mark=True)


@contextlib.contextmanager
def file_lock(path: Path, description: str, mark: bool = False) -> Iterator[bool]:
    """Hold an exclusive `flock` on `path` (created if missing), across threads and processes; a failure to
    open it is a `StorageError` naming `description`. With `mark`, the file says HELD while the lock is held,
    and what is given is whether it already did (its last holder died holding it)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"could not open {description}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        interrupted = mark and os.pread(fd, len(HELD), 0) == HELD
        if mark:
            _mark(fd, HELD, description)
        try:
            yield interrupted
        finally:
            if mark:
                _mark(fd, FREE, description)
    finally:
        os.close(fd)


def _mark(fd: int, state: bytes, description: str) -> None:
    try:
        os.pwrite(fd, state, 0)
    except OSError as exc:
        raise StorageError(f"could not write {description}: {exc.strerror or exc}") from exc


class WriteBehind:
    """Writes done in order on one background thread, so that whoever asks for them need not wait for the
    disk. At most `limit` wait at a time: past that, `submit` writes at once (the caller waits, and memory
    stays bounded). Writes still waiting when the process ends are lost: for caches only."""

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, write: Callable[[], None]) -> None:
        """Run `write` on the background thread (or now, if `limit` writes are waiting)."""
        if self._queue.qsize() >= self._limit:
            write()
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="palletizer-write-behind", daemon=True)
                self._thread.start()
        self._queue.put(write)

    def flush(self) -> None:
        """Wait until every write submitted so far is done."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            write = self._queue.get()
            try:
                write()
            except Exception:
                log.exception("a background write failed")
            finally:
                self._queue.task_done()
