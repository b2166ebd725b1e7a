"""Abusive clients against a real `palletizer-all`: slow senders, many idle connections, oversized
headers, a burst of mixed traffic. The server keeps answering everyone, correctly, and is whole
afterwards. All traffic goes to 127.0.0.1, bounded in count and time.

Not repeated here: bodies over the limit are refused before being read
(tests/http/test_bad_input.py::test_oversized_body_is_413_before_it_is_read), wrong methods are
405 (tests/http/test_api.py::test_wrong_method_on_publish_is_405) and unknown routes 404
(tests/http/test_api.py::test_unknown_route_is_404_json).
"""

import hashlib
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
import requests
from waitress.adjustments import Adjustments

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.publish_body import encode_publish_body
from tests.support.cratekit import make_crate, metadata
from tests.support.http import Live, assert_error, read_response

WORKER_THREADS = 8  # palletizer-all's default --threads


def connect(live: Live, timeout: float = 10) -> socket.socket:
    parts = urlsplit(live.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def server_log(live: Live) -> str:
    """What palletizer-all printed so far (tests.support.server.running_service's log file)."""
    return (live.data.parent / f"palletizer-all-{urlsplit(live.url).port}.log").read_text()


def test_slow_clients_do_not_hold_up_others(live: Live) -> None:
    """Twice as many clients as worker threads have sent half of their requests (headers cut in the middle,
    or a publish's body half sent): other requests are answered meanwhile (a worker held by each slow client
    would leave none), then the slow ones are answered once they finish."""
    get = b"GET /index/config.json HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n\r\n"
    names = [live.unique("slow-publish") for _ in range(4)]
    requests_sent = [get] * (2 * WORKER_THREADS - len(names))
    for name in names:
        body = encode_publish_body(metadata(name, "1.0.0"), make_crate(name, "1.0.0"))
        requests_sent.append(
            (
                f"PUT /api/v1/crates/new HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n"
                f"Authorization: {live.token}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
    with ExitStack() as stack:
        slow = [stack.enter_context(connect(live)) for _ in requests_sent]
        for sock, request in zip(slow, requests_sent, strict=False):
            sock.sendall(request[: len(request) // 2])
        for _ in range(20):
            response = requests.get(f"{live.url}/index/config.json", timeout=10)
            assert response.status_code == 200 and response.json()["api"] == live.url
        for sock, request in zip(slow, requests_sent, strict=False):
            sock.sendall(request[len(request) // 2 :])
        answers = [read_response(sock) for sock in slow]
    gets, publishes = answers[: -len(names)], answers[-len(names) :]
    assert all(r.status == 200 and r.body == gets[0].body and b'"api"' in r.body for r in gets)
    assert [r.status for r in publishes] == [200] * len(names)
    assert all(live.index_lines(name)[0]["vers"] == "1.0.0" for name in names)


def test_many_idle_connections_do_not_lock_others_out(live: Live) -> None:
    """80 connections that send nothing, and 9 that stop mid request line (one client may have 100 open),
    stay open: the server still answers others, and them (waitress's default limit of 100 connections once
    made it stop accepting until they timed out, 120 s later)."""
    with ExitStack() as sockets:
        idle = [sockets.enter_context(connect(live)) for _ in range(80)]
        for sock in [sockets.enter_context(connect(live)) for _ in range(9)]:
            sock.sendall(b"GET /index/conf")
        for _ in range(10):
            assert requests.get(f"{live.url}/health", timeout=10).status_code == 200
        idle[0].sendall(b"GET /index/config.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert read_response(idle[0]).status == 200
    assert requests.get(f"{live.url}/health", timeout=10).status_code == 200


def test_oversized_request_headers_get_431_in_cargo_json(live: Live) -> None:
    """Headers of waitress's max_request_header_size (256 KiB) are refused as soon as that much has
    arrived, in Cargo's error JSON; the server goes on answering."""
    limit = Adjustments.max_request_header_size
    head = b"GET /index/config.json HTTP/1.1\r\nHost: t\r\nX-Long: "
    with connect(live) as sock:
        sock.sendall(head + b"a" * (limit - len(head)))  # no end of headers: they are over the limit
        response = read_response(sock)
    assert "exceeds max_header" in assert_error(response, 431)
    assert requests.get(f"{live.url}/index/config.json", timeout=5).status_code == 200


LOAD_THREADS = 32
LOAD_REQUESTS = 25  # per thread
LOAD_TIME_BOUND = 60.0


@pytest.fixture(scope="module")
def load_crates(live: Live) -> dict[tuple[str, str], bytes]:
    """Crates the load reads: (name, version) -> .crate bytes."""
    crates = {}
    for i in range(5):
        name = f"load-crate-{i}"
        for version in ("1.0.0", "1.1.0"):
            crates[name, version] = live.publish(name, version, description="under load")
    return crates


def test_a_burst_of_mixed_traffic_is_answered_correctly(live: Live, load_crates: dict[tuple[str, str], bytes]) -> None:
    """32 clients x 25 requests: index files, downloads, searches, 404s and bad publishes, each
    answered exactly as when alone (LOAD_TIME_BOUND is only a safety net against a hang)."""
    names = sorted({name for name, _ in load_crates})
    index_files = {name: live.get(f"/index/{index_path(name)}").content for name in names}
    versions = sorted(load_crates)
    bad_body = encode_publish_body(metadata("load-bad", "1.0.0"), b"not a crate")

    def index_file(n: int, http: requests.Session) -> None:
        name = names[n % len(names)]
        response = http.get(f"{live.url}/index/{index_path(name)}", timeout=10)
        assert response.status_code == 200 and response.content == index_files[name]

    def download(n: int, http: requests.Session) -> None:
        name, version = versions[n % len(versions)]
        response = http.get(f"{live.url}/files/{name}/{name}-{version}.crate", timeout=10)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(load_crates[name, version]).digest()

    def search(n: int, http: requests.Session) -> None:
        response = http.get(f"{live.url}/api/v1/crates", params={"q": "load-crate"}, timeout=10)
        assert response.status_code == 200 and response.json()["meta"]["total"] == len(names)

    def missing(n: int, http: requests.Session) -> None:
        path = (
            f"/index/{index_path(f'load-missing-{n}')}" if n % 2 else f"/files/load-crate-0/load-crate-0-9.{n}.0.crate"
        )
        assert_error(http.get(live.url + path, timeout=10), 404)

    def bad_publish(n: int, http: requests.Session) -> None:
        response = http.put(f"{live.url}/api/v1/crates/new", data=bad_body, headers=live.auth(), timeout=10)
        assert_error(response, 400)

    kinds: list[Callable[[int, requests.Session], None]] = [index_file, download, search, missing, bad_publish]

    def client(thread: int) -> int:
        with requests.Session() as http:
            for i in range(LOAD_REQUESTS):
                kinds[(thread + i) % len(kinds)](thread * LOAD_REQUESTS + i, http)
                if thread % 2:  # half the clients open a new connection for every request
                    http.close()
        return LOAD_REQUESTS

    before = live.snapshot()
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        done = sum(f.result(timeout=LOAD_TIME_BOUND) for f in [pool.submit(client, t) for t in range(LOAD_THREADS)])
    assert done == LOAD_THREADS * LOAD_REQUESTS
    assert live.snapshot() == before

    # Afterwards: up, whole, and still publishing.
    assert requests.get(f"{live.url}/health", timeout=5).json() == {"status": "ok"}
    live.publish("load-after", "1.0.0")
    assert [e["vers"] for e in live.index_lines("load-after")] == ["1.0.0"]
    assert Registry(live.data).verify() == []
    assert "Traceback" not in server_log(live)
