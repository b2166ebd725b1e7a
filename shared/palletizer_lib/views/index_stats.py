"""How big the index is (crates, versions, yanked versions), kept up to date with the git index cheaply:
a look at its head, and when it moved, the files the new commits changed, counted at the old commit and
at the new. The size is kept in `index-size.json` with the commit it was counted at, so a new process
starts from there; only a registry that never had one is counted whole, once.
"""

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.disk.files import atomic_write
from palletizer_lib.domain.index_entry import parse_lines
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.served_index import CONFIG_JSON


@dataclass(frozen=True)
class IndexSize:
    """The index at one commit: how many crates, versions and yanked versions."""

    crates: int = 0
    versions: int = 0
    yanked: int = 0

    def __add__(self, other: "IndexSize") -> "IndexSize":
        return IndexSize(self.crates + other.crates, self.versions + other.versions, self.yanked + other.yanked)

    def __sub__(self, other: "IndexSize") -> "IndexSize":
        return IndexSize(self.crates - other.crates, self.versions - other.versions, self.yanked - other.yanked)


def file_size(content: bytes | None) -> IndexSize:
    """What one index file adds to the index's size."""
    entries = parse_lines(content) if content else []
    if not entries:
        return IndexSize()
    return IndexSize(1, len(entries), sum(1 for e in entries if e.get("yanked")))


class IndexStats:
    """The size of one registry's index, from its kept size and the files changed since; safe across
    threads and processes (each writes a size true at the commit it names)."""

    def __init__(self, git: GitIndex, kept: Path) -> None:
        self._git = git
        self._kept = kept
        self._lock = threading.Lock()
        self._head: bytes | None = None
        self._size = IndexSize()
        self._loaded = False

    def current(self) -> IndexSize:
        """The size at the git index's newest commit."""
        with self._lock:
            if not self._loaded:
                self._head, self._size = self._load()
                self._loaded = True
            head = self._git.head()
            if head is not None and head != self._head:
                size = self._size
                for path, old, new in self._git.changes(self._head, head):
                    if path != CONFIG_JSON:
                        size = size - file_size(old) + file_size(new)
                self._head, self._size = head, size
                atomic_write(
                    self._kept,
                    json.dumps(
                        {"head": head.decode(), "crates": size.crates, "versions": size.versions, "yanked": size.yanked}
                    ).encode(),
                    durable=False,
                )
            return self._size

    def _load(self) -> tuple[bytes | None, IndexSize]:
        """The kept size and its commit; none (an empty index before any commit) if absent or unreadable,
        or if its commit is not in the repository."""
        try:
            kept = json.loads(self._kept.read_bytes())
            head = kept["head"].encode()
            self._git.read(CONFIG_JSON, head)
            return head, IndexSize(int(kept["crates"]), int(kept["versions"]), int(kept["yanked"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None, IndexSize()
