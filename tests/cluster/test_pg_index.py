"""The index in PostgreSQL: the change log, and the write lock held on the writer's own connection."""

import threading
from pathlib import Path

import pytest

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.git_replica import GitReplica
from palletizer_lib.stores.postgres_index import SERVED_HEAD, PgIndex, PgIndexLog


def test_the_log_numbers_changes_and_reads_any_of_them(postgres_url: str) -> None:
    log = PgIndexLog(PgIndex(postgres_url), clock=lambda: 1_700_000_000.5)
    assert log.head() is None
    assert log.commit({"config.json": b"{}", "3/f/foo": b"a\n"}, "first") == b"1"
    assert log.commit({"3/f/foo": b"a\nb\n"}, "second") == b"2"
    assert log.commit({"3/f/foo": None}, "third") == b"3"
    assert log.read("3/f/foo") is None and log.read("3/f/foo", b"2") == b"a\nb\n"
    assert log.read("3/f/foo", b"1") == b"a\n"
    assert list(log.changed_paths(b"1", b"3")) == ["3/f/foo"]
    assert list(log.changed_paths(None, b"1")) == ["3/f/foo", "config.json"]
    assert [(c.position, c.when, c.message) for c in log.changes_after(1, 10)] == [
        (2, 1_700_000_000, "second"),
        (3, 1_700_000_000, "third"),
    ]
    assert log.changes_after(2, 10)[0].changes == {"3/f/foo": None}
    assert list(log.files()) == [("config.json", b"config.json")] and log.blob(b"config.json") == b"{}"


def test_the_write_lock_serialises_nodes(postgres_url: str) -> None:
    first, second = PgIndex(postgres_url), PgIndex(postgres_url)
    order: list[str] = []
    holding = threading.Event()

    def other() -> None:
        holding.wait(timeout=30)
        with second.write_lock():
            order.append("second")

    thread = threading.Thread(target=other)
    thread.start()
    with first.write_lock():
        holding.set()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # still waiting for the lock
        order.append("first")
    thread.join(timeout=30)
    assert order == ["first", "second"]


def test_writes_fail_once_the_lock_holding_connection_is_lost(postgres_url: str, postgres_server) -> None:
    index, other = PgIndex(postgres_url), PgIndex(postgres_url)
    log = PgIndexLog(index)
    with index.write_lock():
        pid = index.connection().execute("SELECT pg_backend_pid()").fetchone()[0]
        with postgres_server.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StorageError, match="terminating connection"):
            log.commit({"3/f/foo": b"lost\n"}, "after the lock was lost")
        with pytest.raises(StorageError, match="connection holding the registry's write lock .* was lost"):
            log.commit({"3/f/foo": b"lost\n"}, "again, never on a new connection")
    assert PgIndexLog(other).head() is None
    with other.write_lock():  # the lock went with the connection
        PgIndexLog(other).commit({"3/f/foo": b"kept\n"}, "next writer")
    assert PgIndexLog(other).read("3/f/foo") == b"kept\n"


def serve(index: PgIndex, log: PgIndexLog, changes: dict[str, bytes | None], message: str) -> bytes:
    """Commit `changes`, then record the served index as having reached them (as `index.store` does)."""
    position = log.commit(changes, message)
    index.set_state(SERVED_HEAD, position.decode() + "\n")
    return position


CHANGES = [
    {"config.json": b"{}", "3/f/foo": b"a\n"},
    {"3/f/foo": b"a\nb\n"},
    {"3/b/bar": b"c\n"},
    {"3/f/foo": None, "1/x": b"x\n"},
    {"3/b/bar": b"c\nd\n"},
    {"1/x": b"x\ny\n"},
    {"3/b/bar": None},
    {"2/yz": b"yz\n"},
]


def replica(path: Path, squash_every: int | None = 3) -> GitReplica:
    path.mkdir()
    return GitReplica(GitIndex.create(path / "index.git"), path / "replica.lock", squash_every)


def test_the_log_is_compacted_to_each_squash_point_the_served_index_passed(postgres_url: str, tmp_path: Path) -> None:
    index = PgIndex(postgres_url)
    log = PgIndexLog(index, clock=lambda: 1_700_000_000.0, squash_every=3)
    followed = replica(tmp_path / "followed")  # caught up after every change: never behind
    rows = "SELECT position, path FROM index_change_files ORDER BY position, path"
    for number, changes in enumerate(CHANGES[:4], 1):
        serve(index, log, changes, f"change {number}")
        followed.catch_up(log)
    # compacted to 3 with change 4: only each file's last content up to 3 stays
    assert index.connection().execute(rows).fetchall() == [
        (1, "config.json"),
        (2, "3/f/foo"),
        (3, "3/b/bar"),
        (4, "1/x"),
        (4, "3/f/foo"),
    ]
    assert [row[0] for row in index.connection().execute("SELECT position FROM index_changes ORDER BY 1")] == [
        1,
        2,
        3,
        4,
    ]
    assert log.start().position == 3 and log.start().message == "change 3"
    assert log.files_at(3, "", 10) == [("3/b/bar", b"c\n"), ("3/f/foo", b"a\nb\n"), ("config.json", b"{}")]
    assert log.files_at(4, "", 10) == [("1/x", b"x\n"), ("3/b/bar", b"c\n"), ("config.json", b"{}")]
    assert log.files_at(3, "3/b/bar", 1) == [("3/f/foo", b"a\nb\n")]
    assert log.changes_after(2, 10) is None
    assert [change.position for change in log.changes_after(3, 10)] == [4]
    assert log.read("3/f/foo", b"3") == b"a\nb\n" and log.read("3/f/foo", b"4") is None

    for number, changes in enumerate(CHANGES[4:], 5):
        serve(index, log, changes, f"change {number}")
        followed.catch_up(log)
    # compacted to 6 with change 7; 3/b/bar, removed at 7, keeps its content of 5 until the next squash point
    assert index.connection().execute(rows).fetchall() == [
        (1, "config.json"),
        (5, "3/b/bar"),
        (6, "1/x"),
        (7, "3/b/bar"),
        (8, "2/yz"),
    ]
    assert [row[0] for row in index.connection().execute("SELECT position FROM index_changes ORDER BY 1")] == [
        1,
        5,
        6,
        7,
        8,
    ]
    assert log.start().position == 6
    assert list(log.changed_paths(b"6", b"8")) == ["2/yz", "3/b/bar"]

    fresh = replica(tmp_path / "fresh")
    assert fresh.catch_up(log) == 3  # the squashed commit of 6, then 7 and 8
    assert fresh.git.head() == followed.git.head() and fresh.position() == followed.position() == 8
    assert fresh.git.history_length(10) == 3
    assert dict((path, fresh.git.blob(blob)) for path, blob in fresh.git.files()) == {
        "1/x": b"x\ny\n",
        "2/yz": b"yz\n",
        "config.json": b"{}",
    }


def test_a_served_index_left_behind_holds_the_compaction_back(postgres_url: str) -> None:
    index = PgIndex(postgres_url)
    log = PgIndexLog(index, squash_every=3)
    for number, changes in enumerate(CHANGES[:3], 1):
        serve(index, log, changes, f"change {number}")
    index.set_state(SERVED_HEAD, "2\n")  # a writer died before serving change 3
    log.commit(CHANGES[3], "change 4")
    assert log.start().position == 1 and log.changes_after(0, 10) is not None
    index.set_state(SERVED_HEAD, "4\n")
    log.commit(CHANGES[4], "change 5")
    assert log.start().position == 3 and log.changes_after(2, 10) is None


def test_without_squashing_the_log_keeps_every_change(postgres_url: str) -> None:
    index = PgIndex(postgres_url)
    log = PgIndexLog(index, squash_every=None)
    for number, changes in enumerate(CHANGES, 1):
        serve(index, log, changes, f"change {number}")
    assert log.start().position == 1
    assert index.connection().execute("SELECT count(*) FROM index_change_files").fetchone()[0] == sum(map(len, CHANGES))


def test_a_log_far_behind_is_compacted_one_squash_interval_per_change(postgres_url: str) -> None:
    index = PgIndex(postgres_url)
    log = PgIndexLog(index, squash_every=2)
    for number, changes in enumerate(CHANGES[:6], 1):
        log.commit(changes, f"change {number}")  # nothing served yet: nothing compacted
    assert log.start().position == 1
    index.set_state(SERVED_HEAD, "6\n")
    starts = []
    for number, changes in enumerate(CHANGES[6:] + [{"1/y": b"y\n"}, {"1/z": b"z\n"}], 7):
        log.commit(changes, f"change {number}")
        starts.append(log.start().position)
    assert starts == [2, 4, 6, 6]
    assert log.files_at(6, "", 10) == [("1/x", b"x\ny\n"), ("3/b/bar", b"c\nd\n"), ("config.json", b"{}")]
