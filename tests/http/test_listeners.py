"""Listeners: plain, TLS and unix socket side by side in one palletizer-all; allow-lists; bad configs."""

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.http import assert_error
from tests.support.listening import get_request, over_tcp, over_tls, over_unix, palletizer_all, write_config
from tests.support.server import free_port, running_process, stop
from tests.support.tls import CertificateAuthority, ServerCert


@dataclass
class Served:
    """A palletizer-all on several listeners, and what a client needs to reach them."""

    ca: Path
    tls: int
    plain: int
    unix: Path
    refusing: int
    allowing: int
    refusing_tls: int

    def tls_url(self, port: int) -> str:
        return f"https://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertificateAuthority, ServerCert]:
    """A throwaway CA and a server certificate it issued for 127.0.0.1 and localhost."""
    ca = CertificateAuthority(tmp_path_factory.mktemp("ca"), "Palletizer test CA")
    return ca, ca.issue("server")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, authority: tuple[CertificateAuthority, ServerCert]
) -> Iterator[Served]:
    ca, cert = authority
    root = tmp_path_factory.mktemp("listeners")
    data = root / "data"
    Registry.create(data, RegistryConfig())
    tls = {"certificate": str(cert.certificate), "key": str(cert.key)}
    s = Served(ca.pem, free_port(), free_port(), root / "palletizer.sock", free_port(), free_port(), free_port())
    config = write_config(
        root / "server.yaml",
        [
            {"address": f"127.0.0.1:{s.tls}", "tls": tls},
            {"address": f"127.0.0.1:{s.plain}"},
            {"address": "./palletizer.sock"},
            {"address": f"127.0.0.1:{s.refusing}", "allow": ["10.0.0.0/8", "fd00::/8"]},
            {"address": f"127.0.0.1:{s.allowing}", "allow": ["10.0.0.0/8", "127.0.0.0/8"]},
            {"address": f"127.0.0.1:{s.refusing_tls}", "tls": tls, "allow": ["10.0.0.0/8"]},
        ],
    )
    with running_process(palletizer_all(data, config), f"http://127.0.0.1:{s.plain}/index/config.json", root / "log"):
        yield s


CONFIG_JSON = get_request("/index/config.json")


def test_plain_tls_and_unix_listeners_serve_one_registry(served: Served) -> None:
    public = served.tls_url(served.tls)
    expected = {"dl": f"{public}/files/{{crate}}/{{crate}}-{{version}}.crate", "api": public}
    over_https = requests.get(f"{public}/index/config.json", verify=served.ca, timeout=10)
    assert over_https.status_code == 200
    assert over_https.json().items() >= expected.items(), "the first listener (TLS) gives the public URL"
    over_http = over_tcp(served.plain, CONFIG_JSON)
    over_socket = over_unix(served.unix, CONFIG_JSON)
    assert over_http.status == over_socket.status == 200
    assert json.loads(over_http.body) == json.loads(over_socket.body) == over_https.json()


def test_tls_listener_speaks_only_tls(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.tls), timeout=10) as sock:
        sock.sendall(CONFIG_JSON)
        assert sock.recv(1024) == b"", "plain HTTP to the TLS port gets no HTTP answer"


def _answers_on_both(served: Served) -> None:
    assert requests.get(f"{served.tls_url(served.tls)}/index/config.json", verify=served.ca, timeout=5).ok
    assert over_tcp(served.plain, CONFIG_JSON).status == 200


@pytest.mark.parametrize(
    "opening",
    [
        CONFIG_JSON,  # plain HTTP sent to the TLS port
        os.urandom(4096),  # garbage
        b"\x16\x03\x01\x00\x30" + b"\x01" * 48,  # a broken client hello
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a client hello cut short: the handshake waits
        b"",  # connects and sends nothing
    ],
    ids=["plain-http", "garbage", "bad-hello", "cut-hello", "idle"],
)
def test_bad_tls_clients_neither_stop_nor_block_the_server(served: Served, opening: bytes) -> None:
    with socket.create_connection(("127.0.0.1", served.tls), timeout=10) as bad:
        bad.sendall(opening)
        _answers_on_both(served)  # while the bad client is still connected...
    _answers_on_both(served)  # ...and after it went away


def test_many_silent_clients_do_not_block_a_tls_handshake(served: Served) -> None:
    silent = [socket.create_connection(("127.0.0.1", served.tls), timeout=10) for _ in range(20)]
    try:
        _answers_on_both(served)
    finally:
        for sock in silent:
            sock.close()


def test_keep_alive_over_tls(served: Served) -> None:
    with requests.Session() as session:
        for _ in range(20):
            response = session.get(f"{served.tls_url(served.tls)}/index/config.json", verify=served.ca, timeout=5)
            assert response.status_code == 200


def test_allow_list_refuses_other_networks_with_cargo_json(served: Served) -> None:
    detail = assert_error(over_tcp(served.refusing, CONFIG_JSON), 403)
    assert "127.0.0.1" in detail
    assert over_tcp(served.allowing, CONFIG_JSON).status == 200


def test_a_tls_listener_closes_a_client_outside_allow_before_any_handshake(served: Served) -> None:
    """The connection is closed at once, without waiting for a ClientHello (or spending a handshake)."""
    with socket.create_connection(("127.0.0.1", served.refusing_tls), timeout=5) as sock:
        assert sock.recv(1) == b""
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{served.tls_url(served.refusing_tls)}/index/config.json", verify=served.ca, timeout=10)
    assert over_tcp(served.allowing, CONFIG_JSON).status == 200


def test_allow_list_refuses_before_the_body_is_read(served: Served) -> None:
    """The 403 comes from the headers alone: a server waiting for the 1000 bytes would time out."""
    headers = b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
    response = over_tcp(served.refusing, headers)
    assert_error(response, 403)
    assert b"100 Continue" not in response.body


def test_the_app_sees_the_real_client_address_on_every_listener(
    tmp_path: Path, authority: tuple[CertificateAuthority, ServerCert]
) -> None:
    ca, cert = authority
    tls, plain = free_port(), free_port()
    config = write_config(
        tmp_path / "server.yaml",
        [
            {"address": f"127.0.0.1:{tls}", "tls": {"certificate": str(cert.certificate), "key": str(cert.key)}},
            {"address": f"127.0.0.1:{plain}"},
        ],
    )
    command = [sys.executable, "-m", "tests.support.remote_addr_app", "--config", str(config)]
    with running_process(command, f"http://127.0.0.1:{plain}/", tmp_path / "log"):
        seen_tls = json.loads(over_tls(tls, ca.pem, get_request("/")).body)
        seen_plain = json.loads(over_tcp(plain, get_request("/")).body)
    assert seen_tls == {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "https"}
    assert seen_plain == {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}


# -- bad configs: one line naming the listener, non-zero exit -----------------------------


@dataclass
class StartFailure:
    """Start palletizer-all with some listeners and collect its failure."""

    root: Path
    data: Path

    def error_line(self, listeners: list[dict]) -> str:
        """The one error line of a start that must fail (non-zero exit, no traceback)."""
        config = write_config(self.root / "server.yaml", listeners)
        result = subprocess.run(palletizer_all(self.data, config), capture_output=True, text=True, timeout=30)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr, result.stderr
        errors = [line for line in result.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1, result.stderr
        return errors[0]


@pytest.fixture
def start(tmp_path: Path) -> StartFailure:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    return StartFailure(tmp_path, data)


def test_missing_certificate_file(start: StartFailure, authority: tuple[CertificateAuthority, ServerCert]) -> None:
    _, cert = authority
    line = start.error_line(
        [{"address": "127.0.0.1:1443", "tls": {"certificate": "missing.pem", "key": str(cert.key)}}]
    )
    assert "listener `127.0.0.1:1443`" in line and "missing.pem" in line and "No such file" in line


def test_unreadable_key(start: StartFailure, authority: tuple[CertificateAuthority, ServerCert]) -> None:
    _, cert = authority
    line = start.error_line(
        [{"address": "127.0.0.1:1443", "tls": {"certificate": str(cert.certificate), "key": str(start.root)}}]
    )
    assert "listener `127.0.0.1:1443`" in line and "cannot read the key file" in line


def test_key_that_is_no_key(start: StartFailure, authority: tuple[CertificateAuthority, ServerCert]) -> None:
    _, cert = authority
    (start.root / "junk.key").write_text("not a key\n")
    line = start.error_line(
        [{"address": "127.0.0.1:1443", "tls": {"certificate": str(cert.certificate), "key": "junk.key"}}]
    )
    assert "listener `127.0.0.1:1443`" in line and "holds no PEM key" in line


def test_key_not_matching_the_certificate(
    start: StartFailure, authority: tuple[CertificateAuthority, ServerCert]
) -> None:
    _, cert = authority
    other = CertificateAuthority(start.root / "other", "Other CA").issue("other")
    line = start.error_line(
        [{"address": "127.0.0.1:1443", "tls": {"certificate": str(cert.certificate), "key": str(other.key)}}]
    )
    assert "listener `127.0.0.1:1443`" in line and "does not match the certificate" in line


def test_port_in_use(start: StartFailure) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = start.error_line([{"address": f"127.0.0.1:{free_port()}"}, {"address": f"127.0.0.1:{port}"}])
    assert f"listener `127.0.0.1:{port}`" in line and "in use" in line


def test_duplicate_listener(start: StartFailure) -> None:
    line = start.error_line(
        [
            {"address": "127.0.0.1:1080"},
            {"address": "127.0.0.1:1443"},
            {"address": "127.0.0.1:1080", "allow": ["10.0.0.0/8"]},
        ]
    )
    assert "listener `127.0.0.1:1080`" in line and "twice" in line


@pytest.mark.parametrize("address", ["127.0.0.1:http", "127.0.0.1:70000", "::1:8000", "localhost"])
def test_bad_address(start: StartFailure, address: str) -> None:
    line = start.error_line([{"address": address}])
    assert f"listener `{address}`" in line


@pytest.mark.parametrize("network", ["10.0.0.0/33", "10.0.0.1/8", "intranet"])
def test_bad_network_in_allow(start: StartFailure, network: str) -> None:
    line = start.error_line([{"address": "127.0.0.1:1080", "allow": ["127.0.0.0/8", network]}])
    assert "listener `127.0.0.1:1080`" in line and network in line


def test_allow_on_a_unix_socket(start: StartFailure) -> None:
    line = start.error_line([{"address": "127.0.0.1:1080"}, {"address": "./s.sock", "allow": ["10.0.0.0/8"]}])
    assert "listener `./s.sock`" in line and "TCP listener" in line


def test_unix_socket_a_live_server_answers_on(start: StartFailure, served: Served) -> None:
    line = start.error_line([{"address": f"127.0.0.1:{free_port()}"}, {"address": str(served.unix)}])
    assert f"listener `{served.unix}`" in line and "another process is listening" in line


def test_stale_unix_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))
    plain = free_port()
    config = write_config(tmp_path / "server.yaml", [{"address": f"127.0.0.1:{plain}"}, {"address": str(path)}])
    command = [sys.executable, "-m", "tests.support.remote_addr_app", "--config", str(config)]
    with running_process(command, f"http://127.0.0.1:{plain}/", tmp_path / "log"):
        assert over_unix(path, get_request("/")).status == 200


# -- a clean stop removes the socket file it bound -----------------------------------------


@pytest.fixture
def registry_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    return data


def stopped_cleanly(process: subprocess.Popen, signum: int, port: int) -> None:
    assert stop(process, signum) == 0


@pytest.mark.parametrize(
    "signum, workers",
    [(signal.SIGTERM, "1"), (signal.SIGINT, "1"), (signal.SIGTERM, "2")],
    ids=["sigterm", "sigint", "sigterm-2-workers"],
)
def test_a_clean_stop_removes_the_unix_socket_file(
    tmp_path: Path, registry_data: Path, signum: int, workers: str
) -> None:
    plain, path = free_port(), tmp_path / "palletizer.sock"
    config = write_config(tmp_path / "server.yaml", [{"address": f"127.0.0.1:{plain}"}, {"address": str(path)}])
    command = palletizer_all(registry_data, config, "--workers", workers)
    with running_process(command, f"http://127.0.0.1:{plain}/health", tmp_path / "log") as process:
        assert over_unix(path, CONFIG_JSON).status == 200
        stopped_cleanly(process, signum, plain)
    assert not path.exists() and not path.is_symlink()


def test_a_stop_leaves_a_socket_file_another_server_bound_at_its_path(tmp_path: Path, registry_data: Path) -> None:
    plain, path = free_port(), tmp_path / "palletizer.sock"
    config = write_config(tmp_path / "server.yaml", [{"address": f"127.0.0.1:{plain}"}, {"address": str(path)}])
    with (
        running_process(
            palletizer_all(registry_data, config), f"http://127.0.0.1:{plain}/health", tmp_path / "log"
        ) as process,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other,
    ):
        path.unlink()
        other.bind(str(path))
        other.listen()
        stopped_cleanly(process, signal.SIGTERM, plain)
        assert path.is_socket(), "the socket file of the server now at that path stays"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(path))
