"""How many of a server's threads may wait on the upstream at once, and how long a failed upstream is left
alone: a request past the bound, or for an upstream that failed moments ago, is refused at once
(`UpstreamBusy`, 503 with `Retry-After`) rather than holding a thread. Background threads (reading ahead)
are not counted against the bound (they are few and fixed) but respect a remembered failure."""

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator

from palletizer_lib.domain.errors import UpstreamBusy

DEFAULT_SERVING_THREADS = 8
DEFAULT_FAILURE_HOLD = 5


class UpstreamGate:
    """The bound on threads waiting on the upstream (`limit`; None: half the serving threads, at least 1),
    and the failures remembered for `hold` seconds, per upstream."""

    def __init__(
        self, limit: int | None = None, hold: float = DEFAULT_FAILURE_HOLD, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.hold = hold
        self.serving_threads = DEFAULT_SERVING_THREADS
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting = 0
        self._failed: dict[str, float] = {}
        self._local = threading.local()

    @property
    def bound(self) -> int:
        """The number of threads that may wait on the upstream at once."""
        return self.limit if self.limit else max(1, self.serving_threads // 2)

    def configure(self, limit: int | None, hold: float) -> None:
        """Set the bound (None: half the serving threads) and how long a failure is remembered."""
        with self._lock:
            self.limit = limit
            self.hold = hold

    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        """Within this, the calling thread is a background one: not counted against the bound."""
        self._local.background = True
        try:
            yield
        finally:
            self._local.background = False

    @contextlib.contextmanager
    def entered(self, upstream: str) -> Iterator[None]:
        """Hold a place to wait on `upstream`; `UpstreamBusy` at once if it failed within the last `hold`
        seconds or if `bound` threads already wait."""
        counted = not getattr(self._local, "background", False)
        with self._lock:
            failed = self._failed.get(upstream)
            if failed is not None:
                left = failed + self.hold - self._clock()
                if left > 0:
                    raise UpstreamBusy(
                        f"the upstream registry failed moments ago: try again in {math.ceil(left)} s", math.ceil(left)
                    )
                del self._failed[upstream]
            if counted:
                if self._waiting >= self.bound:
                    raise UpstreamBusy("too many requests are waiting on the upstream registry: try again shortly", 1)
                self._waiting += 1
        try:
            yield
        finally:
            if counted:
                with self._lock:
                    self._waiting -= 1

    def failed(self, upstream: str) -> None:
        """Remember that `upstream` failed (could not be reached, timed out, answered 5xx) just now."""
        if self.hold > 0:
            with self._lock:
                self._failed[upstream] = self._clock()


PROCESS_GATE = UpstreamGate()
