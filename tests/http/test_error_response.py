"""Errors waitress answers itself, before the app sees the request, rendered by the one renderer too."""

import socket
from urllib.parse import urlsplit

from palletizer_lib.domain.publish_body import max_publish_body
from palletizer_services.error_response import render
from tests.support.http import SMALL_MAX_CRATE_SIZE, Live, assert_error, read_response
from tests.support.server import issue_token


def connect(live: Live) -> socket.socket:
    parts = urlsplit(live.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def test_a_bad_request_line_gets_cargos_json(live: Live) -> None:
    with connect(live) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        response = read_response(sock)
    detail = assert_error(response, 400)
    assert detail.startswith("Bad Request: ")
    assert response.body == render(400, detail).body
    assert response.headers["connection"] == "close"


def test_a_chunked_body_past_the_limit_gets_cargos_json(small_live: Live) -> None:
    """A chunked body is not sized up front: waitress stops it at the limit (counted with the chunks'
    framing), answered as every error. Exactly the limit is sent, so the server has read all of it."""
    limit = max_publish_body(SMALL_MAX_CRATE_SIZE) + 1
    chunk_line = f"{2 * limit:x}\r\n".encode()
    head = (
        f"PUT /api/v1/crates/new HTTP/1.1\r\nHost: t\r\nAuthorization: {issue_token(small_live.data)}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with connect(small_live) as sock:
        sock.sendall(head + chunk_line + b"\0" * (limit - len(chunk_line)))
        response = read_response(sock)
    detail = assert_error(response, 413)
    assert detail == f"Request Entity Too Large: exceeds max_body of {limit}"
    assert response.body == render(413, detail).body
