"""Helpers for the HTTP tests: a handle on a running server, raw requests, error checks."""

import hashlib
import itertools
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import EllipsisType
from urllib.parse import urlsplit

import pytest
import requests

from palletizer_lib.config import RegistryConfig
from palletizer_lib.crate_names import index_path
from palletizer_lib.publish_body import encode_publish_body
from palletizer_lib.registry import Registry
from tests.support.cratekit import crate_for, metadata
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
class Live:
    """A running server over a data directory, and an admin token of user `tester` for it.

    The write helpers (publish, yank, unyank, owners) send that token as cargo does (the raw token
    in `Authorization`); pass `token=None` to send none, or another token to send that instead.
    """

    url: str
    data: Path
    token: str
    _counter: Iterator[int] = field(default_factory=itertools.count)

    # -- requests ------------------------------------------------------------------------

    def auth(self, token: str | None | EllipsisType = ..., headers: dict[str, str] | None = None) -> dict[str, str]:
        """`headers` plus `Authorization: TOKEN` (this handle's token unless another or None is given)."""
        chosen = self.token if token is ... else token
        return {**({"Authorization": chosen} if chosen is not None else {}), **(headers or {})}

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def put_body(self, body: bytes, token: str | None | EllipsisType = ..., headers: dict[str, str] | None = None,
                 **kwargs) -> requests.Response:
        return requests.put(self.url + "/api/v1/crates/new", data=body, timeout=10,
                            headers=self.auth(token, headers), **kwargs)

    def yank(self, name: str, version: str, token: str | None | EllipsisType = ...) -> requests.Response:
        return requests.delete(f"{self.url}/api/v1/crates/{name}/{version}/yank", timeout=10,
                               headers=self.auth(token))

    def unyank(self, name: str, version: str, token: str | None | EllipsisType = ...) -> requests.Response:
        return requests.put(f"{self.url}/api/v1/crates/{name}/{version}/unyank", timeout=10,
                            headers=self.auth(token))

    def owners(self, method: str, name: str, token: str | None | EllipsisType = ..., **kwargs) -> requests.Response:
        """`METHOD /api/v1/crates/NAME/owners` (pass `json=` for PUT and DELETE)."""
        return requests.request(method, f"{self.url}/api/v1/crates/{name}/owners", timeout=10,
                                headers=self.auth(token, kwargs.pop("headers", None)), **kwargs)

    def publish(self, name: str, version: str = "1.0.0", files: dict[str, bytes] | None = None,
                manifest_extra: str = "", **fields: object) -> bytes:
        """Publish a crate over HTTP, assert success, return the .crate bytes."""
        meta = metadata(name, version, **fields)
        crate = crate_for(meta, manifest_extra, files, index_url=f"sparse+{self.url}/index/")
        response = self.put_body(encode_publish_body(meta, crate))
        assert response.status_code == 200, response.text
        return crate

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
        return self.raw(method.encode() + b" " + path + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                        + head + b"\r\n")

    def unique(self, stem: str) -> str:
        """A crate name no other test in the module uses."""
        return f"{stem}{next(self._counter)}"

    # -- looking at the data directory ---------------------------------------------------

    def index_lines(self, name: str) -> list[dict]:
        response = self.get(f"/index/{index_path(name)}")
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def snapshot(self) -> tuple:
        """Everything a failed request must leave as it was."""
        git = self.data / "index.git"
        head = (git / "HEAD").read_bytes()
        ref = head.decode().removeprefix("ref: ").strip()
        ref_file = git / ref
        ref_content = ref_file.read_bytes() if ref_file.exists() else (git / "packed-refs").read_bytes()
        crates = sorted(str(p.relative_to(self.data)) for p in (self.data / "crates").rglob("*"))
        names = sorted(p.name for p in (self.data / "names").iterdir())
        served = sorted(str(p.relative_to(self.data)) for p in (self.data / "index").rglob("*"))
        return head, ref_content, crates, names, served


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


def assert_error(response: requests.Response | RawResponse, status: int | None = None) -> str:
    """Assert Cargo's error JSON (and the status, if given); return the detail."""
    code = response.status_code if isinstance(response, requests.Response) else response.status
    body = response.content if isinstance(response, requests.Response) else response.body
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
