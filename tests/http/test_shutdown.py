"""A stop (SIGTERM, SIGINT) lets requests in flight finish, against a real `palletizer-all`: it stops
accepting, answers every request it had begun (within the grace period), exits 0, and leaves the registry
consistent (`palletizer verify` clean right after, before any restart).

The requests in flight are publishes whose bodies the test holds back until the server has stopped
accepting, so they are in flight when the signal arrives without any race against the clock.
"""

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cli import run_cli
from tests.support.cratekit import publish_body
from tests.support.http import read_response
from tests.support.server import BIN, free_port, issue_token, running_process

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@contextmanager
def server(tmp_path: Path, *extra: str) -> Iterator[tuple[subprocess.Popen, int, str]]:
    """A palletizer-all on a fresh registry: its process, port and an admin token."""
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    port = free_port()
    command = [str(BIN / "palletizer-all"), "--data", str(data), "--listen", f"127.0.0.1:{port}", *extra]
    with running_process(command, f"http://127.0.0.1:{port}/health", tmp_path / "log") as process:
        yield process, port, token


def started_publish(port: int, token: str, name: str) -> tuple[socket.socket, bytes]:
    """A publish the server has begun (it answered `100 Continue`) with the first half of its body sent;
    returns the socket and the rest."""
    body = publish_body(name, "1.0.0")
    head = (
        f"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: {token}\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head)
    assert sock.recv(len(CONTINUE)) == CONTINUE
    half = len(body) // 2
    sock.sendall(body[:half])
    return sock, body[half:]


def kept_alive(port: int) -> socket.socket:
    """A connection the server has answered once and keeps open, idle."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def wait_until_refusing(port: int) -> None:
    """Return once the server no longer accepts connections (bounded). A probe that reached the backlog of
    the listening socket as the server closed it is reset: it tries again."""
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        except ConnectionResetError:
            continue
        time.sleep(0.05)
    raise AssertionError("the server still accepts connections after the stop signal")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_publishes_in_flight_at_a_stop_are_answered_and_committed(tmp_path: Path, signum: int) -> None:
    names = [f"inflight{n}" for n in range(4)]
    with server(tmp_path) as (process, port, token), ExitStack() as stack:
        started = [started_publish(port, token, name) for name in names]
        for sock, _ in started:
            stack.callback(sock.close)
        idle = stack.enter_context(kept_alive(port))
        process.send_signal(signum)
        wait_until_refusing(port)
        statuses = []
        for sock, rest in started:
            sock.sendall(rest)
            statuses.append(read_response(sock).status)
        assert statuses == [200] * len(names)
        rest_of_answer = b""
        while chunk := idle.recv(4096):
            rest_of_answer += chunk
        assert rest_of_answer.endswith(b'{"status": "ok"}')
        assert process.wait(timeout=30) == 0
    data = tmp_path / "data"
    run_cli(data, "verify")
    listed = run_cli(data, "list").out
    assert all(name in listed for name in names)


def test_a_request_still_in_flight_after_the_grace_period_is_cut_off_cleanly(tmp_path: Path) -> None:
    with server(tmp_path, "--shutdown-grace", "1") as (process, port, token):
        sock, _ = started_publish(port, token, "neverfinished")
        with sock:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
            assert sock.recv(1) == b""
    data = tmp_path / "data"
    run_cli(data, "verify")
    assert "neverfinished" not in run_cli(data, "list").out
    assert "still in flight after 1 s are cut off" in (tmp_path / "log").read_text()


def test_idle_connections_do_not_hold_up_a_stop(tmp_path: Path) -> None:
    """Ten open keep-alive connections with nothing in flight: the stop does not wait for them (with a
    grace period of an hour, a wait would outlast the test's time-out)."""
    with server(tmp_path, "--shutdown-grace", "3600") as (process, port, _), ExitStack() as stack:
        for _ in range(10):
            stack.enter_context(kept_alive(port))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
