"""Git replicas of one change log: the same commits everywhere, however far each has come."""

from pathlib import Path

import pytest

from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.git_replica import GitReplica, LogChange


class ListLog:
    """A change log held in a list, compacted to change `start` (0: never compacted)."""

    def __init__(self, changes: list[LogChange], start: int = 0) -> None:
        self.changes = changes
        self.compacted = start

    def start(self) -> LogChange | None:
        if not self.changes:
            return None
        return self.changes[max(self.compacted, 1) - 1]._replace(changes={})

    def files_at(self, position: int, after: str, limit: int) -> list[tuple[str, bytes]]:
        tree: dict[str, bytes | None] = {}
        for change in self.changes[:position]:
            tree.update(change.changes)
        return sorted((path, content) for path, content in tree.items() if content is not None and path > after)[:limit]

    def changes_after(self, position: int, limit: int) -> list[LogChange] | None:
        return None if position < self.compacted else self.changes[position : position + limit]


def replica(path: Path, squash_every: int | None = None) -> GitReplica:
    path.mkdir()
    return GitReplica(GitIndex.create(path / "index.git"), path / "replica.lock", squash_every)


def change(position: int, path: str, content: bytes | None) -> LogChange:
    return LogChange(position, 1_700_000_000 + position, f"Change {position}", {path: content})


LOG = [
    change(1, "config.json", b"{}"),
    change(2, "3/f/foo", b"a\n"),
    change(3, "3/f/foo", b"a\nb\n"),
    change(4, "3/b/bar", b"c\n"),
    change(5, "3/f/foo", None),
]


def test_replicas_of_one_log_hold_the_same_commits(tmp_path: Path) -> None:
    early, late = replica(tmp_path / "early"), replica(tmp_path / "late")
    log = ListLog(LOG[:2])
    assert early.catch_up(log) == 2 and early.position() == 2
    log.changes = LOG
    assert early.catch_up(log) == 3
    assert late.catch_up(log) == 5
    assert early.git.head() == late.git.head()
    assert early.position() == late.position() == 5
    assert late.git.read("3/f/foo") is None and late.git.read("3/b/bar") == b"c\n"
    assert late.git.history_length(10) == 5
    assert early.catch_up(log) == 0


MANY = [
    LogChange(1, 1_700_000_001, "Import", {f"3/c/c{i:02}": f"{i}\n".encode() for i in range(7)}),
    change(2, "3/c/c03", None),
]


@pytest.mark.parametrize("log, batch", [(LOG, 2), (MANY, 3)], ids=["changes", "files-of-the-start"])
def test_a_batch_boundary_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log: list[LogChange], batch: int
) -> None:
    from palletizer_lib.stores import git_replica

    whole = replica(tmp_path / "whole")
    whole.catch_up(ListLog(log))
    monkeypatch.setattr(git_replica, "BATCH", batch)
    batched = replica(tmp_path / "batched")
    assert batched.catch_up(ListLog(log)) == len(log)
    assert batched.git.head() == whole.git.head()
    tree = {path: batched.git.blob(blob) for path, blob in batched.git.files()}
    assert tree == dict(ListLog(log).files_at(len(log), "", 100))


def test_a_gap_in_the_log_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="skips from 1 to 3"):
        replica(tmp_path / "gap").catch_up(ListLog([LOG[0], LOG[2]]))


def test_replicas_squash_at_the_same_changes_into_the_same_commits(tmp_path: Path) -> None:
    step, whole = replica(tmp_path / "step", squash_every=2), replica(tmp_path / "whole", squash_every=2)
    for done in range(1, len(LOG) + 1):
        step.catch_up(ListLog(LOG[:done]))
        history = step.git.history_length(10)
        assert history == (2 if done % 2 and done > 1 else 1) and step.position() == done
    assert whole.catch_up(ListLog(LOG)) == 5
    assert whole.git.head() == step.git.head() and whole.position() == 5
    assert whole.git.read("3/b/bar") == b"c\n" and whole.git.read("3/f/foo") is None

    four = replica(tmp_path / "four", squash_every=2)
    four.catch_up(ListLog(LOG[:4]))
    squashed = four.git.head()
    assert four.git.history_length(10) == 1 and "Palletizer-Change: 4" in four.git.message(squashed)
    assert four.git.read("3/f/foo") == b"a\nb\n" and four.git.read("3/b/bar") == b"c\n"
    unsquashed = replica(tmp_path / "plain")
    unsquashed.catch_up(ListLog(LOG))
    assert unsquashed.git.history_length(10) == 5 and unsquashed.git.head() != whole.git.head()


def test_a_fresh_replica_holds_the_commits_of_the_changes_one_by_one(tmp_path: Path) -> None:
    plain = GitIndex.create(tmp_path / "plain.git")
    for item in LOG:
        plain.commit(item.changes, f"{item.message}\n\nPalletizer-Change: {item.position}", item.when)
    fresh = replica(tmp_path / "fresh")
    assert fresh.catch_up(ListLog(LOG)) == 5
    assert fresh.git.head() == plain.head()


def test_a_replica_behind_a_compacted_log_starts_from_its_squashed_commit(tmp_path: Path) -> None:
    followed = replica(tmp_path / "followed", squash_every=2)
    followed.catch_up(ListLog(LOG))
    for position in (0, 1, 3):
        behind = replica(tmp_path / f"behind{position}", squash_every=2)
        behind.catch_up(ListLog(LOG[:position]))
        assert behind.position() == position
        assert behind.catch_up(ListLog(LOG, start=4)) == 2  # the squashed commit of 4, then 5
        assert behind.git.head() == followed.git.head() and behind.position() == 5
        assert behind.git.read("3/f/foo") is None and behind.git.read("3/b/bar") == b"c\n"
    at_start = replica(tmp_path / "at-start", squash_every=2)
    at_start.catch_up(ListLog(LOG[:4]))
    assert at_start.catch_up(ListLog(LOG, start=4)) == 1  # nothing to start again
    assert at_start.git.head() == followed.git.head()


def test_a_log_compacted_while_a_replica_reads_it_is_started_from_again(tmp_path: Path) -> None:
    class CompactingLog(ListLog):
        """Compacted to 4 just after a replica's first read of its changes."""

        def changes_after(self, position: int, limit: int) -> list[LogChange] | None:
            found = super().changes_after(position, limit)
            self.compacted = 4
            return None if position < 4 and found else found

    followed = replica(tmp_path / "followed", squash_every=2)
    followed.catch_up(ListLog(LOG))
    late = replica(tmp_path / "late", squash_every=2)
    late.catch_up(ListLog(LOG[:1]))
    assert late.catch_up(CompactingLog(LOG)) == 2
    assert late.git.head() == followed.git.head()


def test_a_start_read_across_a_compaction_is_not_kept(tmp_path: Path) -> None:
    class CompactedWhileRead(ListLog):
        """Compacted from 2 to 4 while a replica reads the files of its start."""

        def files_at(self, position: int, after: str, limit: int) -> list[tuple[str, bytes]]:
            self.compacted = 4
            return [] if position == 2 else super().files_at(position, after, limit)

    followed = replica(tmp_path / "followed", squash_every=2)
    followed.catch_up(ListLog(LOG))
    late = replica(tmp_path / "late", squash_every=2)
    heads = []
    late.git.reset = lambda commit_id, reset=late.git.reset: (heads.append(commit_id), reset(commit_id))[1]
    assert late.catch_up(CompactedWhileRead(LOG, start=2)) == 2
    assert late.git.head() == followed.git.head() and len(heads) == 1
