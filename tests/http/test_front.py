"""The real nginx front (`palletizer-front`) before a real `palletizer-all` that trusts it: one client address
cannot shut out another, by slow request bodies or by bad tokens. Clients are told apart by their loopback
source address (127.0.0.2 attacks, 127.0.0.3 is someone else); bounded in count and time."""

import http.client
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate, metadata
from tests.support.server import BIN, free_port, issue_token, running_process, running_server

NGINX = Path("/usr/sbin/nginx")
ATTACKER, OTHER, DIRECT = "127.0.0.2", "127.0.0.3", "127.0.0.4"
SLOW_BODIES = 110
PER_CLIENT = 100  # palletizer-front's default --connections-per-client
BAD_TOKENS = 10  # palletizer_lib.core.access.MAX_FAILURES

pytestmark = pytest.mark.skipif(not NGINX.exists() and shutil.which("nginx") is None, reason="nginx is not installed")


@dataclass(frozen=True)
class Front:
    """The front's and the service's ports, the service's log, and a valid token."""

    port: int
    service_port: int
    service_log: Path
    token: str


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    root = tmp_path_factory.mktemp("front")
    data = root / "data"
    Registry.create(data, RegistryConfig())
    Registry(data).publish(metadata("fronted", "1.0.0"), make_crate("fronted", "1.0.0"))
    token = issue_token(data)
    port = free_port()
    with ExitStack() as stack:
        service = stack.enter_context(running_server(data, "--trusted-proxy", "127.0.0.1"))
        command = [
            str(BIN / "palletizer-front"),
            "--data",
            str(data),
            "--listen",
            f"127.0.0.1:{port}",
            "--prefix",
            str(root / "nginx"),
            *(option for kind in ("index", "api", "files") for option in (f"--{kind}-upstream", service)),
        ]
        stack.enter_context(running_process(command, f"http://127.0.0.1:{port}/health", root / "front.log"))
        service_port = int(service.rsplit(":", 1)[1])
        yield Front(port, service_port, data.parent / f"palletizer-all-{service_port}.log", token)


def ask(
    port: int, source: str, method: str, path: str, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    """One request to 127.0.0.1:`port` from the loopback address `source`, its answer read whole."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def slow_body(port: int) -> socket.socket:
    """A git fetch from ATTACKER whose body is promised, 20 bytes of it sent, and the rest never."""
    sock = socket.socket()
    sock.settimeout(30)
    sock.bind((ATTACKER, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"POST /git/index/git-upload-pack HTTP/1.1\r\nHost: front\r\n"
        b"Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n"
        b"0032want 000000000000"
    )
    return sock


def test_slow_bodies_from_one_client_hold_nginx_not_the_services(front: Front) -> None:
    with ExitStack() as held:
        for _ in range(SLOW_BODIES):
            held.callback(held.enter_context(slow_body(front.port)).close)
        # The attack holds once the attacker's next request is refused (bounded wait, no timing asserted).
        for _ in range(200):
            probe = ask(front.port, ATTACKER, "GET", "/health")
            if probe.status != 200:
                break
            time.sleep(0.05)
        assert probe.status == 429, "past its connections, the attacker is refused by nginx"
        for path in ("/health", "/api/v1/crates?q=fronted", "/", "/crates/fronted"):
            assert ask(front.port, OTHER, "GET", path).status == 200, path
    assert ask(front.port, OTHER, "GET", "/health").status == 200


def test_bad_tokens_from_one_client_do_not_limit_another(front: Front) -> None:
    yank = "/api/v1/crates/fronted/1.0.0/yank"
    statuses = [
        ask(front.port, ATTACKER, "DELETE", yank, {"Authorization": f"pltz_bad{n}"}).status for n in range(BAD_TOKENS)
    ]
    assert statuses == [401] * BAD_TOKENS
    # what the attacker writes in X-Forwarded-For is not believed: nginx passes on its real address
    limited = ask(front.port, ATTACKER, "DELETE", yank, {"Authorization": "pltz_bad", "X-Forwarded-For": OTHER})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    # another client's own bad token is its own first failure; its valid token is served
    assert ask(front.port, OTHER, "DELETE", yank, {"Authorization": "pltz_mistyped"}).status == 401
    assert ask(front.port, OTHER, "DELETE", yank, {"Authorization": front.token}).status == 200
    # behind the attacker's own address too, a valid token and an anonymous read are served
    assert (
        ask(front.port, ATTACKER, "PUT", "/api/v1/crates/fronted/1.0.0/unyank", {"Authorization": front.token}).status
        == 200
    )
    assert ask(front.port, ATTACKER, "GET", "/api/v1/crates?q=fronted").status == 200
    log = front.service_log.read_text()
    assert f"client={ATTACKER}" in log and f"client={OTHER}" in log


def test_a_client_reaching_the_service_directly_cannot_name_another(front: Front) -> None:
    yank = "/api/v1/crates/fronted/1.0.0/yank"
    statuses = [
        ask(
            front.service_port, DIRECT, "DELETE", yank, {"Authorization": "pltz_bad", "X-Forwarded-For": f"127.0.1.{n}"}
        ).status
        for n in range(BAD_TOKENS + 1)
    ]
    assert statuses == [401] * BAD_TOKENS + [429]
