"""Git replicas of one change log: the same commits everywhere, however far each has come."""

from pathlib import Path

import pytest

from palletizer_lib.git_index import GitIndex
from palletizer_lib.git_replica import GitReplica, LogChange


class ListLog:
    """A change log held in a list."""

    def __init__(self, changes: list[LogChange]) -> None:
        self.changes = changes

    def changes_after(self, position: int, limit: int) -> list[LogChange]:
        return self.changes[position:position + limit]


def replica(path: Path, squash_every: int | None = None) -> GitReplica:
    path.mkdir()
    return GitReplica(GitIndex.create(path / "index.git"), path / "replica.lock", squash_every)


def change(position: int, path: str, content: bytes | None) -> LogChange:
    return LogChange(position, 1_700_000_000 + position, f"Change {position}", {path: content})


LOG = [change(1, "config.json", b"{}"), change(2, "3/f/foo", b"a\n"), change(3, "3/f/foo", b"a\nb\n"),
       change(4, "3/b/bar", b"c\n"), change(5, "3/f/foo", None)]


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


def test_a_batch_boundary_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from palletizer_lib import git_replica

    whole = replica(tmp_path / "whole")
    whole.catch_up(ListLog(LOG))
    monkeypatch.setattr(git_replica, "BATCH", 2)
    batched = replica(tmp_path / "batched")
    assert batched.catch_up(ListLog(LOG)) == 5
    assert batched.git.head() == whole.git.head()


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
