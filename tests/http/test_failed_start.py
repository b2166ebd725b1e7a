"""A server that cannot start changes nothing, against real `palletizer-all`s: a second one started on the
data directory a first one serves, with a port that is taken or a TLS key that does not match its
certificate, exits non-zero with one error line and no "is serving" banner, and leaves `config.json` (served
file and git), the git head and the first server's answers as they were, and no socket file behind."""

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.served_index import CONFIG_JSON
from tests.support.listening import palletizer_all, write_config
from tests.support.server import BIN, free_port, running_server
from tests.support.tls import CertificateAuthority


@dataclass(frozen=True)
class RegistryState:
    """What a failed start must leave as it was."""

    served_config: bytes
    committed_config: bytes | None
    head: bytes | None

    @classmethod
    def of(cls, data: Path) -> "RegistryState":
        registry = Registry(data)
        return cls((data / "index" / "config.json").read_bytes(), registry.log.read(CONFIG_JSON), registry.log.head())


@dataclass(frozen=True)
class Served:
    data: Path
    url: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A registry served by a running palletizer-all."""
    data = tmp_path_factory.mktemp("failed-start") / "data"
    Registry.create(data, RegistryConfig())
    with running_server(data) as url:
        yield Served(data, url)


def failed_start(command: list[str], served: Served, before: RegistryState) -> str:
    """Run a start that must fail; its stderr, checked: the registry and its server as `before`, a non-zero
    exit, one error line, no banner."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert_still_served(served, before)
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len([line for line in result.stderr.splitlines() if "error:" in line]) == 1, result.stderr
    assert "is serving" not in result.stderr, result.stderr
    return result.stderr


def assert_still_served(served: Served, before: RegistryState) -> None:
    assert RegistryState.of(served.data) == before
    answer = requests.get(f"{served.url}/index/config.json", timeout=10)
    assert answer.status_code == 200
    config = answer.json()
    assert (config["dl"], config["api"]) == (f"{served.url}/files/{{crate}}/{{crate}}-{{version}}.crate", served.url)


@contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port something else listens on, while within."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_start_on_a_taken_port_changes_nothing(served: Served, tmp_path: Path) -> None:
    before = RegistryState.of(served.data)
    with taken_port() as port:
        stderr = failed_start(
            [str(BIN / "palletizer-all"), "--data", str(served.data), "--listen", f"127.0.0.1:{port}"], served, before
        )
    assert f"listener `127.0.0.1:{port}`" in stderr and "in use" in stderr


def test_a_start_with_a_key_not_matching_its_certificate_changes_nothing(served: Served, tmp_path: Path) -> None:
    before = RegistryState.of(served.data)
    cert = CertificateAuthority(tmp_path / "ca", "Palletizer test CA").issue("server")
    other = CertificateAuthority(tmp_path / "other", "Other CA").issue("other")
    port = free_port()
    config = write_config(
        tmp_path / "server.yaml",
        [{"address": f"127.0.0.1:{port}", "tls": {"certificate": str(cert.certificate), "key": str(other.key)}}],
    )
    stderr = failed_start(palletizer_all(served.data, config), served, before)
    assert "does not match the certificate" in stderr


def test_a_start_failing_on_a_later_listener_leaves_no_socket_file(served: Served, tmp_path: Path) -> None:
    before = RegistryState.of(served.data)
    with taken_port() as port:
        config = write_config(
            tmp_path / "server.yaml",
            [
                {"address": f"127.0.0.1:{free_port()}"},
                {"address": "./palletizer.sock"},
                {"address": f"127.0.0.1:{port}"},
            ],
        )
        failed_start(palletizer_all(served.data, config), served, before)
    assert not (tmp_path / "palletizer.sock").exists()
