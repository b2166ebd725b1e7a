"""A local git index that follows an ordered change log, one commit per change, so that every replica of one
log holds the same commits with the same ids (the same trees, messages, dates and parents), whichever node
built it and whenever. Each commit's message ends with the position of its change in the log, so the head
commit says how far a replica has come. With `squash_every`, the history is squashed after every change whose
position is a multiple of it, into a commit made of that change alone (its tree, date and position), so
squashed replicas stay the same too.

A log may be compacted to such a squash point: it then keeps the index files as they were just after that
change, and the changes after it. A replica behind the log's start is made at once the squashed commit every
other replica made there, from those files, and goes on from it."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from palletizer_lib.disk.files import file_lock
from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.git_index import GitIndex

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

    def start(self) -> LogChange | None:
        """The oldest change the log holds whole, its files not listed (None before the first change): the
        first change, or the squash point the log was compacted to, which stands for every change up to it."""

    def files_at(self, position: int, after: str, limit: int) -> Sequence[tuple[str, bytes]]:
        """Up to `limit` index files (path, content) as they were just after change `position` (at least the
        start), in path order, from the first path after `after`."""

    def changes_after(self, position: int, limit: int) -> Sequence[LogChange] | None:
        """Up to `limit` changes after `position`, in order; None if the log was compacted past `position`."""


class GitReplica:
    """`git` (a local repository only this replica writes) brought up to a change log on request."""

    def __init__(
        self, git: GitIndex, lock_path: Path, squash_every: int | None = None, source: ChangeLog | None = None
    ) -> None:
        self.git = git
        self._lock_path = lock_path
        self._squash_every = squash_every
        self._source = source

    def followed(self) -> GitIndex:
        """The git index brought up to the log it follows (the one it was made with)."""
        if self._source is None:
            raise StorageError("this git replica follows no log")
        self.catch_up(self._source)
        return self.git

    def position(self) -> int:
        """The position of the last change committed here (0 before the first)."""
        head = self.git.head()
        if head is None:
            return 0
        for line in reversed(self.git.message(head).splitlines()):
            if line.startswith(TRAILER):
                return int(line[len(TRAILER) :])
        return 0

    def catch_up(self, log: ChangeLog) -> int:
        """Commit every change of `log` not yet committed here, in order (from the log's start if this replica
        is behind it); how many commits that took."""
        done = 0
        with file_lock(self._lock_path, f"the git replica's lock {self._lock_path}"):
            position = self.position()
            while True:
                start = log.start()
                if start is not None and position < start.position:
                    reached = self._start_at(log, start)
                    done += reached != position
                    position = reached
                    continue
                batch = log.changes_after(position, BATCH)
                if batch is None:
                    continue
                for change in batch:
                    if change.position != position + 1:
                        raise ValueError(f"the change log skips from {position} to {change.position}")
                    self.git.commit(change.changes, _message(change), change.when)
                    position = change.position
                    if self._squashes_at(position):
                        self.git.squash(_squash_message(change), change.when)
                done += len(batch)
                if len(batch) < BATCH:
                    return done

    def _squashes_at(self, position: int) -> bool:
        return self._squash_every is not None and self._squash_every > 0 and position % self._squash_every == 0

    def _start_at(self, log: ChangeLog, start: LogChange) -> int:
        """Make this replica the one commit of the log's start (squashed, as everywhere, where it is a squash
        point or the log was compacted to it), unless the log was compacted further meanwhile (its files
        may then have been read across the compaction); the position the replica is at."""
        squashed = start.position > 1 or self._squashes_at(start.position)
        commit_id = self.git.write_root_commit(
            _files_at(log, start.position), _squash_message(start) if squashed else _message(start), start.when
        )
        now = log.start()
        if now is None or now.position != start.position:
            return self.position()
        self.git.reset(commit_id)
        return start.position


def _message(change: LogChange) -> str:
    return f"{change.message}\n\n{TRAILER}{change.position}"


def _squash_message(change: LogChange) -> str:
    return f"Squash the history before: {change.message}\n\n{TRAILER}{change.position}"


def _files_at(log: ChangeLog, position: int) -> Iterator[tuple[str, bytes]]:
    after = ""
    while True:
        page = log.files_at(position, after, BATCH)
        yield from page
        if len(page) < BATCH:
            return
        after = page[-1][0]
