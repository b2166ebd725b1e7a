"""Values kept in memory per version of a file, within a byte budget, the least recently used dropped first."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024
V = TypeVar("V")


class ByteLru(Generic[V]):
    """Values by key, each with its version (a file's identity on disk) and its cost in bytes (`cost` of the
    value), the least recently used dropped once they cost more than `max_bytes`; safe across threads."""

    def __init__(self, cost: Callable[[V], int], max_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self._cost = cost
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

    def put(self, key: Hashable, version: Hashable, value: V) -> None:
        """Keep `value` (nothing if it alone costs more than the budget)."""
        cost = self._cost(value)
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
