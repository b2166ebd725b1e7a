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
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import pytest
import requests
from waitress.adjustments import Adjustments

from palletizer_lib.names import index_path
from palletizer_lib.publish_body import encode_publish_body
from palletizer_lib.registry import Registry
from tests.cratekit import make_crate, metadata
from tests.http.support import Live, assert_error, read_response

WORKER_THREADS = 8  # palletizer-all's default --threads


def connect(live: Live, timeout: float = 10) -> socket.socket:
    parts = urlsplit(live.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def server_log(live: Live) -> str:
    """What palletizer-all printed so far (tests.server.running_service's log file)."""
    return (live.data.parent / f"palletizer-all-{urlsplit(live.url).port}.log").read_text()


@contextmanager
def answering_meanwhile(live: Live) -> Iterator[list[float]]:
    """While the block runs, fetch config.json over and over from another thread; yield the latencies
    of the answers (each must be a 200), complete once the block is done."""
    latencies: list[float] = []
    done = threading.Event()

    def fetch() -> None:
        while not done.is_set():
            start = time.monotonic()
            response = requests.get(f"{live.url}/index/config.json", timeout=5)
            assert response.status_code == 200 and response.json()["api"] == live.url
            latencies.append(time.monotonic() - start)
            time.sleep(0.02)

    with ThreadPoolExecutor(1) as pool:
        fetching = pool.submit(fetch)
        try:
            yield latencies
        finally:
            done.set()
            fetching.result(timeout=10)


def dribble(sock: socket.socket, data: bytes, chunk: int, pause: float) -> None:
    for start in range(0, len(data), chunk):
        sock.sendall(data[start:start + chunk])
        time.sleep(pause)


def test_slow_clients_do_not_hold_up_others(live: Live) -> None:
    """Twice as many clients as worker threads send their requests a byte (or a few) at a time for
    about two seconds: other requests are answered at once meanwhile, and so are the slow ones."""
    get = b"GET /index/config.json HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n\r\n"
    names = [live.unique("slow-publish") for _ in range(4)]

    def slow_get() -> bytes:
        with connect(live) as sock:
            dribble(sock, get, 1, 2.0 / len(get))
            response = read_response(sock)
        assert response.status == 200, response
        return response.body

    def slow_publish(name: str) -> int:
        body = encode_publish_body(metadata(name, "1.0.0"), make_crate(name, "1.0.0"))
        head = (f"PUT /api/v1/crates/new HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n"
                f"Authorization: {live.token}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        with connect(live) as sock:
            dribble(sock, head + body, 64, 2.0 / (len(head + body) / 64))
            return read_response(sock).status

    with answering_meanwhile(live) as latencies, ThreadPoolExecutor(2 * WORKER_THREADS) as pool:
        gets = [pool.submit(slow_get) for _ in range(2 * WORKER_THREADS - len(names))]
        publishes = [pool.submit(slow_publish, name) for name in names]
        slow_bodies = [f.result(timeout=30) for f in gets]
        statuses = [f.result(timeout=30) for f in publishes]
    assert len(latencies) >= 20 and max(latencies) < 1.5, latencies  # blocked, they would wait ~2 s
    assert all(body == slow_bodies[0] and b'"api"' in body for body in slow_bodies)
    assert statuses == [200] * len(names)
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
    answered exactly as when alone, within a time bound."""
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
        path = f"/index/{index_path(f'load-missing-{n}')}" if n % 2 else f"/files/load-crate-0/load-crate-0-9.{n}.0.crate"
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
    start = time.monotonic()
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        done = sum(f.result(timeout=LOAD_TIME_BOUND) for f in [pool.submit(client, t) for t in range(LOAD_THREADS)])
    elapsed = time.monotonic() - start
    assert done == LOAD_THREADS * LOAD_REQUESTS and elapsed < LOAD_TIME_BOUND, elapsed
    assert live.snapshot() == before

    # Afterwards: up, whole, and still publishing.
    assert requests.get(f"{live.url}/health", timeout=5).json() == {"status": "ok"}
    live.publish("load-after", "1.0.0")
    assert [e["vers"] for e in live.index_lines("load-after")] == ["1.0.0"]
    assert Registry(live.data).verify() == []
    assert "Traceback" not in server_log(live)
