"""How big the index is (crates, versions, yanked versions) and each crate's exact name, kept up to date
with the git index cheaply: a look at its head, and when it moved, a read of only the files the new
commits changed. The first count reads every file once.
"""

import threading
from dataclasses import dataclass, field

from .git_index import GitIndex
from .index_entry import parse_lines
from .names import normalise
from .registry import CONFIG_JSON


@dataclass(frozen=True)
class IndexSize:
    """The index at one commit: how many crates, versions and yanked versions; exact names by normalised name."""

    crates: int = 0
    versions: int = 0
    yanked: int = 0
    names: dict[str, str] = field(default_factory=dict)


class IndexStats:
    """The size of one registry's index, recounted from the changed files only; safe across threads."""

    def __init__(self, git: GitIndex) -> None:
        self._git = git
        self._lock = threading.Lock()
        self._head: bytes | None = None
        self._files: dict[str, tuple[str, int, int]] = {}  # path -> (name, versions, yanked)
        self._size = IndexSize()

    def current(self) -> IndexSize:
        """The size at the git index's newest commit."""
        with self._lock:
            head = self._git.head()
            if head is not None and head != self._head:
                for path in self._git.changed_paths(self._head, head):
                    if path != CONFIG_JSON:
                        self._recount(path, self._git.read(path, head))
                self._head = head
                self._size = IndexSize(
                    crates=len(self._files),
                    versions=sum(versions for _, versions, _ in self._files.values()),
                    yanked=sum(yanked for _, _, yanked in self._files.values()),
                    names={normalise(name): name for name, _, _ in self._files.values()},
                )
            return self._size

    def _recount(self, path: str, content: bytes | None) -> None:
        entries = parse_lines(content) if content else []
        if entries:
            self._files[path] = (entries[0]["name"], len(entries), sum(1 for e in entries if e.get("yanked")))
        else:
            self._files.pop(path, None)
