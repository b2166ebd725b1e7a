"""Publish requests malformed on the wire, on a real server: a body sent half, broken HTTP, a chunked body,
bodies at and past the limit waitress enforces from the headers. Each is refused (or served) cleanly and
changes nothing. (Bad publish bodies the API refuses: tests/services/test_bad_publish.py.)"""

import contextlib
import socket
import struct
from urllib.parse import urlsplit

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import MAX_METADATA_SIZE, encode_publish_body, max_publish_body
from tests.support.cratekit import make_crate, metadata
from tests.support.http import Live, RawResponse, assert_error, read_response


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


@pytest.fixture(scope="module")
def seeded(live: Live) -> Live:
    """A registry that already holds something, so 'unchanged' is not trivially 'empty'."""
    live.publish("seed-crate", "1.0.0")
    return live


def test_half_sent_body_publishes_nothing(seeded: Live) -> None:
    """A client that stops sending half-way gets no publish."""
    before = seeded.snapshot()
    body = encode_publish_body(metadata("half-sent", "1.0.0"), make_crate("half-sent", "1.0.0"))
    parts = urlsplit(seeded.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            sock.recv(65536)
    assert seeded.snapshot() == before
    assert_error(seeded.get("/index/ha/lf/half-sent"), 404)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnope\r\n0\r\n\r\n",
        b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
        b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"GET /index/config.json HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 300_000 + b"\r\n\r\n",
    ],
)
def test_malformed_http_is_refused(seeded: Live, request_bytes: bytes) -> None:
    before = seeded.snapshot()
    try:
        response = seeded.raw(request_bytes)
    except ConnectionResetError:
        # The server answered and closed while input was still unread; the kernel then
        # resets the connection, possibly dropping the answer. Refused either way.
        pass
    else:
        assert 400 <= response.status < 500 or response.status == 501, response
    assert seeded.snapshot() == before
    assert seeded.get("/index/config.json").status_code == 200


def test_chunked_publish_body_is_handled(seeded: Live) -> None:
    """Cargo sends Content-Length, but a chunked upload must work the same (or fail cleanly)."""
    name = seeded.unique("chunked")
    body = encode_publish_body(metadata(name, "1.0.0"), make_crate(name, "1.0.0"))
    response = requests.put(
        f"{seeded.url}/api/v1/crates/new", data=iter([body[:10], body[10:]]), timeout=10, headers=seeded.auth()
    )
    assert response.status_code == 200, response.text
    assert seeded.get(f"/files/{name}/{name}-1.0.0.crate").status_code == 200


# -- size limits (a registry with a small max_crate_size) ---------------------------------


def _limit(live: Live) -> int:
    """The largest publish body the server accepts (as palletizer-all computes it)."""
    return max_publish_body(Registry(live.data).config.max_crate_size)


def test_body_of_exactly_the_limit_reaches_the_api(small_live: Live) -> None:
    """The largest body the limit allows is answered by the API (here: not a valid body)."""
    limit = _limit(small_live)
    before = small_live.snapshot()
    response = small_live.put_body(u32(MAX_METADATA_SIZE) + b" " * (limit - 4))
    assert_error(response, 400)
    assert small_live.snapshot() == before


def put_headers_only(live: Live, content_length: int) -> RawResponse:
    """Send a publish request's headers but none of its body, and read the answer."""
    parts = urlsplit(live.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            + f"Content-Length: {content_length}\r\n\r\n".encode()
        )
        return read_response(sock)


def test_oversized_body_is_413_before_it_is_read(small_live: Live) -> None:
    """The server answers 413 from the headers alone: the client never has to send the body.

    (A server that waited for the 200 MiB body would make this time out.)
    """
    before = small_live.snapshot()
    response = put_headers_only(small_live, 200 * 1024 * 1024)
    assert response.status == 413
    assert small_live.snapshot() == before


def test_body_one_byte_over_the_limit_is_413(small_live: Live) -> None:
    before = small_live.snapshot()
    assert put_headers_only(small_live, _limit(small_live) + 1).status == 413
    assert small_live.snapshot() == before


def test_oversized_body_error_is_cargo_json(small_live: Live) -> None:
    assert_error(put_headers_only(small_live, _limit(small_live) + 1), 413)
