"""Downloads counted in memory and added to the catalog (`Catalog.add_downloads`) in batches: no catalog write
per download.

A background thread adds the counts at least every `interval` seconds, and `close` adds what is left
(a clean stop loses nothing; a crash loses at most the last interval's). Each batch adds its counts to
those stored, so any number of processes may count the same versions at once.
"""

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.domain.names import normalise

FLUSH_INTERVAL = 1.0
log = logging.getLogger("palletizer.downloads")


class DownloadCounter:
    """The downloads one process counted and has not yet added to the catalog; safe across threads."""

    def __init__(self, add: Callable[[Mapping[tuple[str, str], int]], None], interval: float = FLUSH_INTERVAL) -> None:
        self._add = add
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, str]] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, name: str, vers: str) -> None:
        """One download of a version (the background thread starts with the first)."""
        with self._lock:
            self._pending[(normalise(name), vers)] += 1
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="download-counter", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Add the counts not yet added to the catalog (kept for the next flush if that fails)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if pending:
            try:
                self._add(pending)
            except BaseException:
                with self._lock:
                    self._pending.update(pending)
                raise

    def close(self) -> None:
        """Stop the background thread and add what is left."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except StorageError as error:
                log.warning("download counts kept for the next try: %s", error)
