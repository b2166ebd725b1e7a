"""Reading ahead for the mirror: the index files cargo will most likely ask for next, fetched on background
threads while cargo works on what it has. Over HTTP/1.1 cargo keeps at most two connections to a registry
and asks for one index file at a time on them, so without this every upstream round trip of a cold cache is
waited for in turn, level by level of the dependency graph. What one request of cargo's may cause to be
read ahead is bounded (`Budget`): `MAX_DEPTH` levels below the file asked for and `MAX_FILES` files in all,
so that an upstream whose files name ever new crates cannot make the mirror crawl it."""

import logging
import queue
import threading
from collections.abc import Callable

from palletizer_lib.domain.errors import PalletizerError
from palletizer_lib.domain.index_entry import IndexEntry
from palletizer_lib.domain.names import is_valid_name
from palletizer_lib.domain.versions import Version, parse_version
from palletizer_lib.mirror.gate import PROCESS_GATE

LINES = 3
WORKERS = 4
MAX_QUEUED = 256
MAX_DEPTH = 2
MAX_FILES = 64
log = logging.getLogger("palletizer.mirror")


class _Count:
    """Files left to read ahead, shared by the levels of one request's budget."""

    def __init__(self, files: int) -> None:
        self.left = files
        self.lock = threading.Lock()


class Budget:
    """What one request of cargo's may still cause to be read ahead: `depth` more levels of the dependency
    graph, and files from a count shared by every level (`files` for the whole request)."""

    def __init__(self, depth: int = MAX_DEPTH, files: int = MAX_FILES, count: _Count | None = None) -> None:
        self.depth = depth
        self._count = count or _Count(files)

    def below(self) -> "Budget | None":
        """The budget of the files one level further down (sharing the file count); None past the depth."""
        return Budget(self.depth - 1, count=self._count) if self.depth > 0 else None

    def take(self) -> bool:
        """Count one file to read ahead; False when the count is spent."""
        with self._count.lock:
            if self._count.left <= 0:
                return False
            self._count.left -= 1
            return True


_RUNNING = threading.local()


def current_budget() -> Budget | None:
    """The budget of the file being read ahead on this thread; None on a thread serving cargo's request."""
    return getattr(_RUNNING, "budget", None)


def likely_next(entries: list[IndexEntry]) -> list[str]:
    """The crates cargo will most likely ask for after this index file: the dependencies (normal and build,
    not optional, of the same registry) of the newest release not yanked in each of its `LINES` newest
    semver-compatible lines (1.x, 0.8.x, ...)."""
    newest: dict[tuple[int, ...], tuple[Version, IndexEntry]] = {}
    for entry in entries:
        if entry.get("yanked"):
            continue
        try:
            version = parse_version(entry.get("vers"))
        except PalletizerError:
            continue
        if version.is_prerelease:
            continue
        line = (version.major,) if version.major else (0, version.minor) if version.minor else (0, 0, version.patch)
        if line not in newest or newest[line][0] < version:
            newest[line] = (version, entry)
    names: dict[str, None] = {}
    for _, entry in sorted(newest.values(), key=lambda pair: pair[0], reverse=True)[:LINES]:
        for dep in entry.get("deps") or []:
            if not isinstance(dep, dict) or dep.get("kind") == "dev" or dep.get("optional") or dep.get("registry"):
                continue
            name = dep.get("package") or dep.get("name")
            if isinstance(name, str) and is_valid_name(name):
                names[name] = None
    return list(names)


class ReadAhead:
    """Fetches run by `workers` background threads: each key at most once at a time, and at most `limit`
    waiting or running (more are dropped: reading ahead is only a guess). The threads are daemons: a
    stopping process does not wait for guesses."""

    def __init__(self, workers: int = WORKERS, limit: int = MAX_QUEUED) -> None:
        self._workers = workers
        self._limit = limit
        self._queue: queue.Queue[tuple[str, Callable[[], object], Budget]] = queue.Queue()
        self._queued: set[str] = set()
        self._idle = threading.Condition()
        self._started = False

    def submit(self, key: str, fetch: Callable[[], object], budget: Budget) -> bool:
        """Run `fetch` in the background (with `budget` as `current_budget()`) unless `key` is already queued
        or too many are; True if queued."""
        with self._idle:
            if key in self._queued or len(self._queued) >= self._limit:
                return False
            self._queued.add(key)
            if not self._started:
                self._started = True
                for number in range(self._workers):
                    threading.Thread(target=self._run, name=f"palletizer-read-ahead-{number}", daemon=True).start()
        self._queue.put((key, fetch, budget))
        return True

    def wait(self, timeout: float) -> bool:
        """Wait until nothing is queued (True), or `timeout` seconds (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._queued, timeout)

    def _run(self) -> None:
        while True:
            key, fetch, budget = self._queue.get()
            _RUNNING.budget = budget
            try:
                with PROCESS_GATE.background():
                    fetch()
            except Exception as exc:
                log.debug("reading ahead %s failed: %s", key, exc)
            finally:
                _RUNNING.budget = None
                with self._idle:
                    self._queued.discard(key)
                    self._idle.notify_all()
