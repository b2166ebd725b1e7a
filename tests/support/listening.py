"""Servers started with a server config file (`--config`), and raw requests to their listeners."""

import socket
import ssl
from pathlib import Path

import yaml

from tests.support.http import RawResponse, read_response
from tests.support.server import BIN

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, listeners: list[dict]) -> Path:
    """A server config file with these listeners."""
    path.write_text(yaml.safe_dump({"listeners": listeners}))
    return path


def palletizer_all(data: Path, config: Path, *extra: str) -> list[str]:
    """The command line of `palletizer-all` serving `data` on the listeners of `config`."""
    return [str(BIN / "palletizer-all"), "--data", str(data), "--config", str(config), *extra]


def get_request(path: str) -> bytes:
    """A one-shot HTTP/1.1 GET."""
    return f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode()


def over_tcp(port: int, request: bytes) -> RawResponse:
    """Send `request` to 127.0.0.1:`port` in plain HTTP and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return read_response(sock)


def over_tls(port: int, ca: Path, request: bytes) -> RawResponse:
    """Send `request` over TLS (trusting only `ca`) to 127.0.0.1:`port` and read the whole answer."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(request)
        return read_response(sock)


def over_unix(path: Path, request: bytes) -> RawResponse:
    """Send `request` over the unix socket at `path` and read the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(request)
        return read_response(sock)
