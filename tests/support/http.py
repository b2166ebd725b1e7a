"""Helpers for the HTTP tests: a handle on a running server, raw requests, error checks (of any answer)."""

import hashlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import falcon.testing
import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.handle import Handle
from tests.support.server import issue_token, running_server

SMALL_MAX_CRATE_SIZE = 4096
SENTINEL = b"PALLETIZER-OUTSIDE-SENTINEL-7c1f"


@dataclass(frozen=True)
class RawResponse:
    """What came back over the socket, unparsed beyond status line and headers."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Live(Handle):
    """A running server over a data directory (see `Handle`), reached with requests and raw sockets."""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def raw(self, request: bytes, timeout: float = 10) -> RawResponse:
        """Send `request` verbatim (no URL normalisation) and read the whole answer."""
        parts = urlsplit(self.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
            sock.sendall(request)
            return read_response(sock)

    def raw_get(self, path: bytes | str, method: str = "GET", headers: dict[str, str] | None = None) -> RawResponse:
        """A request for exactly `path`, as bytes on the wire."""
        if isinstance(path, str):
            path = path.encode("latin-1")
        head = b"".join(f"{k}: {v}\r\n".encode() for k, v in (headers or {}).items())
        return self.raw(
            method.encode() + b" " + path + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" + head + b"\r\n"
        )


def read_response(sock: socket.socket) -> RawResponse:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return RawResponse(status, headers, body)


def assert_error(response: requests.Response | falcon.testing.Result | RawResponse, status: int | None = None) -> str:
    """Assert Cargo's error JSON (and the status, if given); return the detail. The answer may have come from a
    real server (requests, or a raw socket) or from the app in process."""
    if isinstance(response, RawResponse):
        code, body = response.status, response.body
    else:
        code, body = response.status_code, response.content
    if status is not None:
        assert code == status, (code, body)
    else:
        assert 400 <= code < 500, (code, body)
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), (content_type, body)
    document = json.loads(body)
    assert set(document) == {"errors"}, document
    assert isinstance(document["errors"], list) and len(document["errors"]) >= 1, document
    detail = document["errors"][0]["detail"]
    assert isinstance(detail, str) and detail, document
    return detail


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve_live(tmp_path_factory: pytest.TempPathFactory, config: RegistryConfig) -> Iterator[Live]:
    """`palletizer-all` over a fresh registry with `config` and an admin token, for a module or session
    fixture; a file next to the data directory (SENTINEL) that no URL may ever reveal."""
    root = tmp_path_factory.mktemp("http")
    data = root / "data"
    Registry.create(data, config)
    (root / "outside.txt").write_bytes(SENTINEL)
    token = issue_token(data)
    with running_server(data) as url:
        yield Live(url, data, token)
