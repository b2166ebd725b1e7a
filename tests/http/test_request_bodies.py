"""Request bodies are refused from the headers, before they are read, against a real `palletizer-all`:
a body to a route that takes none, a body larger than its route takes, a publish whose token may not
publish. `100 Continue` is sent only to a request that will be served; a refused request's small body is
read past (so a client that sends it anyway reads the answer) and never stored.
"""

import socket
from urllib.parse import urlsplit

import pytest

from tests.support.cratekit import publish_body
from tests.support.http import Live, RawResponse, assert_error, read_response
from tests.support.server import issue_token

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def connect(live: Live) -> socket.socket:
    parts = urlsplit(live.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def head(method: str, path: str, length: int | None, *headers: str) -> bytes:
    """A request's head; `length` None means a chunked body."""
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    lines = [f"{method} {path} HTTP/1.1", "Host: t", "Connection: close", framing, *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def refused_from_headers(live: Live, request_head: bytes) -> RawResponse:
    """Send only `request_head` and read the answer: it must come without the body, and without
    `100 Continue` before it."""
    with connect(live) as sock:
        sock.sendall(request_head)
        response = read_response(sock)
    assert response.status != 100, "100 Continue was sent to a request that is refused"
    return response


@pytest.mark.parametrize(
    "path", ["/health", "/index/config.json", "/files/a/a-1.0.0.crate", "/", "/metrics", "/api/v1/crates?q=a"]
)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_a_body_to_a_route_that_takes_none_is_refused_before_it_is_read(live: Live, method: str, path: str) -> None:
    response = refused_from_headers(live, head(method, path, 1_000_000, "Expect: 100-continue"))
    assert "takes no request body" in assert_error(response, 413)
    assert response.headers["connection"] == "close"


def test_a_chunked_body_to_a_route_that_takes_none_is_refused(live: Live) -> None:
    response = refused_from_headers(live, head("GET", "/health", None))
    assert "takes no request body" in assert_error(response, 413)


def test_a_small_body_sent_anyway_is_read_past_so_the_client_gets_the_answer(live: Live) -> None:
    """No `Expect`: the client sends 600 KB at once; it is discarded, and the 413 read whole."""
    with connect(live) as sock:
        sock.sendall(head("POST", "/health", 600_000) + b"x" * 600_000)
        response = read_response(sock)
    assert "takes no request body" in assert_error(response, 413)
    assert live.get("/health").status_code == 200


def test_a_publish_without_a_token_is_refused_before_100_continue(live: Live) -> None:
    response = refused_from_headers(live, head("PUT", "/api/v1/crates/new", 5_000_000, "Expect: 100-continue"))
    assert "needs a token" in assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith('Cargo login_url="')


def test_a_publish_with_a_bad_token_is_refused_before_100_continue(live: Live) -> None:
    request = head("PUT", "/api/v1/crates/new", 5_000_000, "Expect: 100-continue", "Authorization: wrong")
    assert_error(refused_from_headers(live, request), 401)


def test_a_publish_with_a_token_that_may_not_publish_is_refused_before_100_continue(live: Live) -> None:
    reader = issue_token(live.data, "reader", ("read",))
    request = head("PUT", "/api/v1/crates/new", 5_000_000, "Expect: 100-continue", f"Authorization: {reader}")
    assert "lacks the `publish` scope" in assert_error(refused_from_headers(live, request), 403)


def test_a_publish_body_over_the_limit_is_refused_before_100_continue(live: Live) -> None:
    request = head("PUT", "/api/v1/crates/new", 500_000_000, "Expect: 100-continue", f"Authorization: {live.token}")
    assert_error(refused_from_headers(live, request), 413)


def test_a_publish_with_a_good_token_gets_100_continue_then_is_served(live: Live) -> None:
    name = live.unique("continued")
    body = publish_body(name, "1.0.0")
    with connect(live) as sock:
        sock.sendall(
            head("PUT", "/api/v1/crates/new", len(body), "Expect: 100-continue", f"Authorization: {live.token}")
        )
        assert sock.recv(len(CONTINUE)) == CONTINUE
        sock.sendall(body)
        response = read_response(sock)
    assert response.status == 200, response
    assert live.index_lines(name)[0]["vers"] == "1.0.0"


def test_an_owners_body_over_its_limit_is_refused_from_the_headers(live: Live) -> None:
    request = head(
        "PUT",
        "/api/v1/crates/foo/owners",
        10_000_000,
        "Expect: 100-continue",
        f"Authorization: {live.token}",
        "Content-Type: application/json",
    )
    assert_error(refused_from_headers(live, request), 413)
