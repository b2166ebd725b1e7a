"""The upstream sparse registry a mirror reads from (crates.io, or any sparse registry), over `requests`.

One `requests.Session` (pooled connections) with connect and read time-outs, a bounded retry of failed
connections and of 5xx answers (never of a read that timed out: an upstream that hangs costs one read
time-out, not several), at most `MAX_REDIRECTS` redirects and only to the upstream's own hosts (its index's
and its `dl`'s), a deadline for a whole transfer enforced on the connection itself (shut down when it
passes, however slowly the bytes come), and a size bound on everything read, so an upstream that hangs,
trickles or answers garbage costs one request a bounded time and nothing more. With a gate (servers), at
most its bound of threads wait on the upstream at once and a failed upstream is left alone for a few
seconds (`gate`). Credentials (`credentials`) go to the index's host only. What requests
would read from the environment for every request (proxies, CA bundle, `.netrc`) is read once per
upstream host.
"""

import contextlib
import hashlib
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
from requests.utils import get_netrc_auth
from urllib3.util.retry import Retry

from palletizer_lib.domain.errors import UpstreamError
from palletizer_lib.domain.names import index_path
from palletizer_lib.mirror.deadline import Deadline, DeadlineAdapter
from palletizer_lib.mirror.gate import UpstreamGate
from palletizer_lib.settings.config import DEFAULT_MAX_CRATE_SIZE, without_userinfo

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
MAX_REDIRECTS = 5
TRANSFER_DEADLINE = 120.0
MAX_INDEX_BYTES = 16 * 1024 * 1024
MAX_CONFIG_BYTES = 64 * 1024
RETRIES = 2
CHUNK = 64 * 1024
USER_AGENT = "palletizer-mirror"
MARKERS = ("{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}")


@dataclass(frozen=True)
class IndexAnswer:
    """What the upstream said of one index file: `status` is 200 (`data` and validators), 304 or 404."""

    status: int
    data: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


def dep_prefix(name: str) -> str:
    """Cargo's `{prefix}` of a crate name (its case kept): `1`, `2`, `3/a`, `ab/cd`."""
    if len(name) <= 2:
        return str(len(name))
    if len(name) == 3:
        return f"3/{name[0]}"
    return f"{name[0:2]}/{name[2:4]}"


def download_url(dl: str, name: str, version: str, cksum: str) -> str:
    """The URL cargo would download `name` `version` from, given the registry's `dl` template."""
    if not any(marker in dl for marker in MARKERS):
        return f"{dl.rstrip('/')}/{name}/{version}/download"
    prefix = dep_prefix(name)
    return (
        dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{prefix}", prefix)
        .replace("{lowerprefix}", prefix.lower())
        .replace("{sha256-checksum}", cksum)
    )


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`: two URLs of one origin are of one host."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _socket_of(answer: requests.Response) -> socket.socket | None:
    """The socket `answer`'s body is read from: its pooled connection's, or (when the upstream closes the
    connection after the answer, so that http.client let go of it) the one under the body's file."""
    sock = getattr(getattr(answer.raw, "connection", None), "sock", None)
    if sock is None:
        body = getattr(getattr(answer.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(body, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class Upstream:
    """A sparse registry at `index_url` (`sparse+http(s)://.../`), read with bounded cost; `auth` (user,
    password) is sent as Basic authentication to the index's host."""

    def __init__(
        self,
        index_url: str,
        *,
        max_crate_bytes: int = DEFAULT_MAX_CRATE_SIZE,
        max_index_bytes: int = MAX_INDEX_BYTES,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        deadline: float = TRANSFER_DEADLINE,
        retries: int = RETRIES,
        gate: UpstreamGate | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.index_url = without_userinfo(index_url)
        self._root = self.index_url.removeprefix("sparse+").rstrip("/") + "/"
        self._origins = {origin(self._root)}
        self._max_crate = max_crate_bytes
        self._max_index = max_index_bytes
        self._timeout = (connect_timeout, read_timeout)
        self._deadline = deadline
        self._gate = gate
        self._auth = auth
        self._session = requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,
            status=retries,
            backoff_factor=0.1,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=("GET",),
            raise_on_status=False,
            respect_retry_after_header=False,
            redirect=0,
        )
        adapter = DeadlineAdapter(max_retries=retry, pool_connections=4, pool_maxsize=32)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = USER_AGENT
        self._hosts: dict[str, tuple[tuple[str, str] | None, Mapping[str, Any]]] = {}
        self._hosts_lock = threading.Lock()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def config(self) -> dict[str, Any]:
        """The upstream's `config.json` (it must name `dl`, whose host redirects may then go to)."""
        with self._transfer(self._root + "config.json", {}, MAX_CONFIG_BYTES, "config.json") as (answer, watch):
            if answer.status_code != 200:
                raise UpstreamError(f"the upstream's config.json answered {answer.status_code}")
            body = self._read_all(answer, watch, MAX_CONFIG_BYTES, "config.json")
        try:
            config = json.loads(body)
        except ValueError as exc:
            raise UpstreamError("the upstream's config.json is not JSON") from exc
        if not isinstance(config, dict) or not isinstance(config.get("dl"), str):
            raise UpstreamError("the upstream's config.json has no `dl` URL")
        if not config["dl"].startswith(("http://", "https://")):
            raise UpstreamError(f"the upstream's `dl` is not an http(s) URL: {without_userinfo(config['dl'])[:200]}")
        self._origins.add(origin(config["dl"]))
        return config

    def index(self, name: str, etag: str | None = None, last_modified: str | None = None) -> IndexAnswer:
        """The index file of `name`, asked conditionally with the validators of a cached copy."""
        headers = {"Accept": "text/plain"}
        if etag:
            headers["If-None-Match"] = etag
        elif last_modified:
            headers["If-Modified-Since"] = last_modified
        what = f"the index file of `{name}`"
        with self._transfer(self._root + index_path(name), headers, self._max_index, what) as (answer, watch):
            if answer.status_code == 304 and (etag or last_modified):
                return IndexAnswer(304, etag=etag, last_modified=last_modified)
            if answer.status_code in (404, 410, 451):
                return IndexAnswer(404)
            if answer.status_code != 200:
                raise UpstreamError(f"the upstream answered {answer.status_code} for {what}")
            data = self._read_all(answer, watch, self._max_index, what)
            return IndexAnswer(200, data, answer.headers.get("ETag"), answer.headers.get("Last-Modified"))

    def download(self, url: str, out: BinaryIO, cksum: str) -> int:
        """Stream the crate at `url` (on the host of the upstream's `dl`) into `out`, checking its SHA-256
        against `cksum` on the way; the number of bytes. `UpstreamError` if it fails, is too large or does
        not match."""
        what = f"`{without_userinfo(url)}`"
        self._origins.add(origin(url))
        with self._transfer(url, {"Accept": "*/*"}, self._max_crate, what) as (answer, watch):
            if answer.status_code != 200:
                raise UpstreamError(f"the upstream answered {answer.status_code} for {what}")
            digest = hashlib.sha256()
            size = 0
            for chunk in self._chunks(answer, watch, self._max_crate, what):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        if digest.hexdigest() != cksum.lower():
            raise UpstreamError(
                f"the crate downloaded from {what} does not match the checksum of its index "
                f"entry ({cksum}); it was not stored"
            )
        return size

    @contextlib.contextmanager
    def _transfer(
        self, url: str, headers: dict[str, str], limit: int, what: str
    ) -> Iterator[tuple[requests.Response, Deadline]]:
        """The answer to GET `url` (redirects followed), within the gate and under the transfer deadline,
        which runs from the moment the request is sent."""
        with self._gate.entered(self._root) if self._gate else contextlib.nullcontext():
            deadline = Deadline(self._deadline)
            try:
                with deadline.sending():
                    answer = self._get(url, headers, limit, what)
            except UpstreamError:
                deadline.cancel()
                if deadline.expired:
                    raise UpstreamError(f"the upstream took more than {self._deadline:g} s to send {what}") from None
                raise
            deadline.watch_socket(_socket_of(answer))
            try:
                yield answer, deadline
            finally:
                deadline.cancel()
                answer.close()

    def _get(self, url: str, headers: dict[str, str], limit: int, what: str) -> requests.Response:
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._send(url, headers, what)
            if not answer.is_redirect:
                break
            location = urljoin(answer.url, answer.headers["Location"])
            answer.close()
            if origin(location) not in self._origins:
                raise UpstreamError(f"the upstream redirected {what} to another host: not followed")
            url = location
        else:
            raise UpstreamError(f"the upstream redirected {what} more than {MAX_REDIRECTS} times")
        if answer.status_code >= 500:
            self._failed()
        length = answer.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            answer.close()
            raise UpstreamError(f"the upstream's {what} is larger than {limit} bytes")
        return answer

    def _send(self, url: str, headers: dict[str, str], what: str) -> requests.Response:
        auth, settings = self._host(url)
        if self._auth is not None and origin(url) == origin(self._root):
            auth = self._auth
        try:
            request = requests.Request("GET", url, headers={**self._session.headers, **headers}, auth=auth)
            return self._session.send(
                request.prepare(), timeout=self._timeout, allow_redirects=False, **{**settings, "stream": True}
            )
        except requests.RequestException as exc:
            self._failed()
            raise UpstreamError(f"the upstream could not be reached for {what}: {type(exc).__name__}") from exc

    def _failed(self) -> None:
        if self._gate is not None:
            self._gate.failed(self._root)

    def _host(self, url: str) -> tuple[tuple[str, str] | None, Mapping[str, Any]]:
        """The `.netrc` credentials and the proxies / CA bundle settings requests would use for `url`'s
        host, worked out once per host."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        found = self._hosts.get(key)
        if found is None:
            found = (
                get_netrc_auth(url) if self._session.trust_env else None,
                self._session.merge_environment_settings(key + "/", {}, None, None, None),
            )
            with self._hosts_lock:
                self._hosts[key] = found
        return found

    def _chunks(self, answer: requests.Response, watch: Deadline, limit: int, what: str) -> Iterator[bytes]:
        """The body of `answer` in chunks, within `limit` bytes and the transfer deadline."""
        size = 0
        try:
            for chunk in answer.iter_content(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UpstreamError(f"the upstream's {what} is larger than {limit} bytes")
                if watch.expired:
                    break
                yield chunk
        except requests.RequestException as exc:
            if not watch.expired:
                self._failed()
                raise UpstreamError(f"the upstream failed while sending {what}: {type(exc).__name__}") from exc
        if watch.expired:
            self._failed()
            raise UpstreamError(f"the upstream took more than {self._deadline:g} s to send {what}")

    def _read_all(self, answer: requests.Response, watch: Deadline, limit: int, what: str) -> bytes:
        return b"".join(self._chunks(answer, watch, limit, what))
