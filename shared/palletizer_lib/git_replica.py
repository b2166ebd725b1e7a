"""A local git index that follows an ordered change log, one commit per change, so that every replica of one
log holds the same commits with the same ids (the same trees, messages, dates and parents), whichever node
built it and whenever. Each commit's message ends with the position of its change in the log, so the head
commit says how far a replica has come. With `squash_every`, the history is squashed after every change whose
position is a multiple of it, into a commit made of that change alone (its tree, date and position), so
squashed replicas stay the same too."""

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from .git_index import GitIndex
from .storage import file_lock

TRAILER = "Palletizer-Change: "
BATCH = 500


class LogChange(NamedTuple):
    """One change of the log: its position (1, 2, ...), when it was made (POSIX seconds), its message and
    the index files it set (None: removed)."""

    position: int
    when: int
    message: str
    changes: dict[str, bytes | None]


class ChangeLog(Protocol):
    """The ordered changes of an index."""

    def changes_after(self, position: int, limit: int) -> Sequence[LogChange]:
        """Up to `limit` changes after `position`, in order."""


class GitReplica:
    """`git` (a local repository only this replica writes) brought up to a change log on request."""

    def __init__(self, git: GitIndex, lock_path: Path, squash_every: int | None = None) -> None:
        self.git = git
        self._lock_path = lock_path
        self._squash_every = squash_every

    def position(self) -> int:
        """The position of the last change committed here (0 before the first)."""
        head = self.git.head()
        if head is None:
            return 0
        for line in reversed(self.git.message(head).splitlines()):
            if line.startswith(TRAILER):
                return int(line[len(TRAILER):])
        return 0

    def catch_up(self, log: ChangeLog) -> int:
        """Commit every change of `log` not yet committed here, in order; how many there were."""
        done = 0
        with file_lock(self._lock_path, f"the git replica's lock {self._lock_path}"):
            position = self.position()
            while True:
                batch = log.changes_after(position, BATCH)
                for change in batch:
                    if change.position != position + 1:
                        raise ValueError(f"the change log skips from {position} to {change.position}")
                    self.git.commit(change.changes, f"{change.message}\n\n{TRAILER}{change.position}", change.when)
                    position = change.position
                    if self._squash_every and position % self._squash_every == 0:
                        self.git.squash(f"Squash the history before: {change.message}\n\n{TRAILER}{position}",
                                        change.when)
                done += len(batch)
                if len(batch) < BATCH:
                    return done
