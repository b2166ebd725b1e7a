"""The index in PostgreSQL: the change log, and the write lock held on the writer's own connection."""

import threading

import pytest

from palletizer_lib.errors import StorageError
from palletizer_lib.pg_index import PgIndex, PgIndexLog


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
        (2, 1_700_000_000, "second"), (3, 1_700_000_000, "third")]
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
        assert thread.is_alive()               # still waiting for the lock
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
    with other.write_lock():                   # the lock went with the connection
        PgIndexLog(other).commit({"3/f/foo": b"kept\n"}, "next writer")
    assert PgIndexLog(other).read("3/f/foo") == b"kept\n"
