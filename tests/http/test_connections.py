"""Connection floods against a real `palletizer-all` with default settings, on a plain and a TLS listener.

The server must stay up past 1024 open descriptors (waitress's select() loop once raised
`filedescriptor out of range` there and the process exited), one client address must not lock the others
out, and TLS connections that never shake hands count like any other. Floods come from 127.0.0.1 and other
loopback addresses; probes of "is everyone else still served" from addresses of their own. Every loop is
bounded; the time-outs are safety nets, not measurements.
"""

import os
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from palletizer_services.command_line import DEFAULT_MAX_CONNECTIONS_PER_CLIENT
from tests.support.cli import run_cli
from tests.support.http import read_response
from tests.support.listening import get_request, over_tls, palletizer_all, write_config
from tests.support.server import free_port, running_process
from tests.support.tls import CertificateAuthority

PER_CLIENT = DEFAULT_MAX_CONNECTIONS_PER_CLIENT
HEALTH = get_request("/health")


@dataclass
class Flooded:
    """The server under attack: its process, data directory and listeners."""

    process: subprocess.Popen
    data: Path
    plain: int
    tls: int
    refusing_tls: int
    ca: Path

    def descriptors(self) -> int:
        """How many files the server process has open."""
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))


@pytest.fixture(scope="module", autouse=True)
def many_files() -> Iterator[None]:
    """This test process opens a few thousand sockets: raise its open-file limit (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory, many_files: None) -> Iterator[Flooded]:
    root = tmp_path_factory.mktemp("flood")
    data = root / "data"
    Registry.create(data, RegistryConfig())
    ca = CertificateAuthority(root / "ca", "Palletizer flood CA")
    cert = ca.issue("server")
    tls = {"certificate": str(cert.certificate), "key": str(cert.key)}
    plain, tls_port, refusing = free_port(), free_port(), free_port()
    config = write_config(
        root / "server.yaml",
        [
            {"address": f"127.0.0.1:{plain}"},
            {"address": f"127.0.0.1:{tls_port}", "tls": tls},
            {"address": f"127.0.0.1:{refusing}", "tls": tls, "allow": ["127.0.0.1/32"]},
        ],
    )
    with running_process(palletizer_all(data, config), f"http://127.0.0.1:{plain}/health", root / "log") as process:
        yield Flooded(process, data, plain, tls_port, refusing, ca.pem)


# How long one socket operation may take before the test calls the server hung: generous, since spooling
# hundreds of MB of bodies on a shared machine takes a while.
SOCKET_TIMEOUT = 60.0


def connect_from(address: str, port: int) -> socket.socket:
    """A connection to 127.0.0.1:`port` from the loopback address `address`."""
    sock = socket.socket()
    sock.settimeout(SOCKET_TIMEOUT)
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def health_from(address: str, port: int) -> int:
    """The status of `GET /health` sent from `address`."""
    with connect_from(address, port) as sock:
        sock.sendall(HEALTH)
        return read_response(sock).status


def answered(sock: socket.socket) -> bool:
    """Send `GET /health` on an open connection, keeping it open: True if answered with a 200, False if
    the server had closed the connection."""
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        )
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            body += chunk
        return head.startswith(b"HTTP/1.1 200 ")
    except ConnectionError:
        return False


def assert_whole(flooded: Flooded) -> None:
    assert flooded.process.poll() is None, "the server exited"
    assert health_from("127.0.0.1", flooded.plain) == 200
    run_cli(flooded.data, "verify")


def test_spooled_bodies_past_1024_descriptors_do_not_crash_the_server(flooded: Flooded) -> None:
    """540 connections each send 600 KB of a declared 1 MB git upload-pack body (anonymous, a route that
    takes one): each body is spooled to a temporary file, two descriptors a connection."""
    body_head = (
        b"POST /git/index/git-upload-pack HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000000\r\n\r\n"
    )
    part = b"0" * 600_000
    with ExitStack() as stack:
        for client in range(6):
            for _ in range(90):
                sock = stack.enter_context(connect_from(f"127.0.1.{client + 1}", flooded.plain))
                sock.sendall(body_head + part)
        assert health_from("127.0.2.1", flooded.plain) == 200
        for _ in range(300):
            if flooded.descriptors() > 1050:
                break
            time.sleep(0.1)
        assert flooded.descriptors() > 1050
        assert health_from("127.0.2.1", flooded.plain) == 200
    assert_whole(flooded)


def test_one_address_cannot_hold_more_than_its_share(flooded: Flooded) -> None:
    """1100 idle connections from one address: the first PER_CLIENT are served, every later one is closed
    at once, and every other client is served meanwhile (930 once made everyone else time out)."""
    with ExitStack() as stack:
        flood = [stack.enter_context(connect_from("127.0.5.1", flooded.plain)) for _ in range(1100)]
        assert health_from("127.0.0.2", flooded.plain) == 200
        served = [answered(sock) for sock in flood]
        assert served[: PER_CLIENT - 5] == [True] * (PER_CLIENT - 5)
        assert PER_CLIENT - 5 <= sum(served) <= PER_CLIENT
        assert not any(served[PER_CLIENT:])
        assert health_from("127.0.0.3", flooded.plain) == 200
    assert_whole(flooded)


def test_tls_connections_that_never_shake_hands_count_toward_the_limit(flooded: Flooded) -> None:
    """1100 connections to the TLS listener send nothing: once one address has PER_CLIENT of them, its next
    are closed at once (not after the handshake time-out); other clients are served, over TLS too."""
    with ExitStack() as stack:
        silent = [stack.enter_context(connect_from("127.0.6.1", flooded.tls)) for _ in range(1100)]
        assert health_from("127.0.0.2", flooded.plain) == 200
        late = silent[-1]
        late.settimeout(5)
        assert late.recv(1) == b""
        assert over_tls(flooded.tls, flooded.ca, HEALTH).status == 200
    assert_whole(flooded)


def test_a_tls_listener_closes_clients_outside_allow_at_accept(flooded: Flooded) -> None:
    """From outside `allow`, 300 connections to a TLS listener are each closed before any handshake."""
    with ExitStack() as stack:
        refused = [stack.enter_context(connect_from("127.0.3.1", flooded.refusing_tls)) for _ in range(300)]
        for sock in refused:
            sock.settimeout(5)
            assert sock.recv(1) == b""
    assert over_tls(flooded.refusing_tls, flooded.ca, HEALTH).status == 200
    assert_whole(flooded)


def test_past_the_connection_limit_the_longest_idle_connection_makes_room(tmp_path: Path) -> None:
    """With `--max-connections 40`, 40 idle connections from 4 addresses fill the server; a new client is
    served, in place of the connection idle the longest, which the server closed."""
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    port = free_port()
    command = palletizer_all(
        data, write_config(tmp_path / "server.yaml", [{"address": f"127.0.0.1:{port}"}]), "--max-connections", "40"
    )
    with running_process(command, f"http://127.0.0.1:{port}/health", tmp_path / "log"), ExitStack() as stack:
        idle = [stack.enter_context(connect_from(f"127.0.4.{n % 4 + 1}", port)) for n in range(40)]
        assert answered(idle[-1])
        assert health_from("127.0.4.9", port) == 200
        assert not answered(idle[0])
        assert answered(idle[-1])
