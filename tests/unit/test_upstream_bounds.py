"""What a hostile upstream can cost the mirror: headers or a body dripped byte by byte stop at the transfer
deadline, redirects go only to the upstream's own hosts, and reading ahead stays within one request's budget."""

import hashlib
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import UpstreamError
from palletizer_lib.domain.names import index_path
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.read_ahead import MAX_FILES
from palletizer_lib.mirror.state import READ_AHEAD, WRITER, MirrorStats
from palletizer_lib.mirror.upstream import Upstream
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate
from tests.support.hostile_upstream import ScriptedUpstream, answer
from tests.support.mirrors import mirror_of
from tests.support.static_upstream import upstream_dep, upstream_entry

DRIP_BOUND = 40.0
DRIP_EVERY = 0.2
SAFETY_TIMEOUT = 60.0


def _mirror(tmp_path: Path, upstream: Upstream, background: bool = False) -> Mirror:
    registry = Registry.create(tmp_path / "data", RegistryConfig(upstream=upstream.index_url))
    return mirror_of(registry, upstream, stats=MirrorStats(), background=background)


def _drip_bytes(handler: BaseHTTPRequestHandler, stopping: threading.Event, byte: bytes) -> None:
    """`byte` sent every DRIP_EVERY s for at most DRIP_BOUND s (or until the upstream stops)."""
    for _ in range(int(DRIP_BOUND / DRIP_EVERY)):
        if stopping.wait(DRIP_EVERY):
            return
        handler.wfile.write(byte)
        handler.wfile.flush()


def _drip(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    """A 1 MB answer announced by Content-Length, sent a byte every DRIP_EVERY s for at most DRIP_BOUND s."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(1_000_000))
    handler.end_headers()
    _drip_bytes(handler, stopping, b"{")


def test_a_dripping_body_is_cut_at_the_transfer_deadline(tmp_path: Path) -> None:
    crate = make_crate("drip", "1.0.0")
    entry = json.dumps(upstream_entry("drip", "1.0.0", crate)).encode() + b"\n"

    def script(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        if handler.path == "/index/config.json":
            answer(handler, 200, json.dumps({"dl": f"{upstream.url}/crates"}).encode())
        elif handler.path == "/index/dr/ip/drip":
            answer(handler, 200, entry)
        else:
            _drip(handler, stopping)

    upstream = ScriptedUpstream(script)
    try:
        mirror = _mirror(tmp_path, Upstream(upstream.index_url, deadline=1, read_timeout=5, retries=0))
        with pytest.raises(UpstreamError, match="took more than 1 s to send the index file of `slow`"):
            mirror.index_file("slow")
        assert not mirror.layout.mirror_index_file("slow").exists()
        with pytest.raises(UpstreamError, match="took more than 1 s to send"):
            mirror.crate_file("drip", "1.0.0")
        assert not mirror.layout.mirror_crate_file("drip", "1.0.0").exists()
        assert not list((mirror.layout.mirror / "crates").rglob("*.crate"))
    finally:
        upstream.stop()


def _drip_headers(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    """A status line, then a header sent a byte every DRIP_EVERY s for at most DRIP_BOUND s."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    handler.wfile.flush()
    _drip_bytes(handler, stopping, b"a")


def test_dripping_headers_are_cut_at_the_transfer_deadline(tmp_path: Path) -> None:
    upstream = ScriptedUpstream(_drip_headers)
    try:
        mirror = _mirror(tmp_path, Upstream(upstream.index_url, deadline=1, read_timeout=5, retries=0))
        with pytest.raises(UpstreamError, match="took more than 1 s to send the index file of `slow`"):
            mirror.index_file("slow")
        assert not mirror.layout.mirror_index_file("slow").exists()
    finally:
        upstream.stop()


def test_redirects_are_followed_only_to_the_upstream_s_own_hosts(tmp_path: Path) -> None:
    crate = make_crate("walkdir", "2.3.2")
    entry = json.dumps(upstream_entry("walkdir", "2.3.2", crate)).encode() + b"\n"
    secret = b"the other service's answer"

    def elsewhere(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        answer(handler, 418 if "download" in handler.path else 200, secret if "download" in handler.path else entry)

    other = ScriptedUpstream(elsewhere)

    def script(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        if handler.path == "/index/config.json":
            answer(handler, 200, json.dumps({"dl": f"{upstream.url}/crates"}).encode())
        elif handler.path == "/index/wa/lk/walkdir":
            answer(handler, 301, headers={"Location": "/moved/walkdir"})
        elif handler.path == "/moved/walkdir":
            answer(handler, 200, entry)
        else:
            answer(handler, 302, headers={"Location": f"{other.url}{handler.path}"})

    upstream = ScriptedUpstream(script)
    try:
        mirror = _mirror(tmp_path, Upstream(upstream.index_url, retries=0))
        with pytest.raises(UpstreamError, match="redirected the index file of `serde` to another host") as index:
            mirror.index_file("serde")
        assert not mirror.layout.mirror_index_file("serde").exists()
        assert mirror.index_file("walkdir").data == entry
        with pytest.raises(UpstreamError, match="to another host") as download:
            mirror.crate_file("walkdir", "2.3.2")
        assert not mirror.layout.mirror_crate_file("walkdir", "2.3.2").exists()
        assert sum(other.requests.values()) == 0
        for refused in (index.value, download.value):
            assert other.url.split(":")[-1] not in refused.detail
            assert "418" not in refused.detail and hashlib.sha256(secret).hexdigest() not in refused.detail
    finally:
        upstream.stop()
        other.stop()


def test_reading_ahead_stays_within_one_request_s_budget(tmp_path: Path) -> None:
    names = (f"made-up-{number}" for number in itertools.count())
    lock = threading.Lock()
    served = 0

    def script(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        nonlocal served
        name = handler.path.rsplit("/", 1)[-1]
        with lock:
            served += 1
            if served > 500 or handler.path != f"/index/{index_path(name)}":
                answer(handler, 404)
                return
            deps = [upstream_dep(next(names), "^1") for _ in range(60)]
        crate = make_crate(name, "1.0.0")
        answer(handler, 200, json.dumps(upstream_entry(name, "1.0.0", crate, deps)).encode() + b"\n")

    upstream = ScriptedUpstream(script)
    try:
        mirror = _mirror(tmp_path, Upstream(upstream.index_url, retries=0), background=True)
        assert mirror.index_file("root") is not None
        assert READ_AHEAD.wait(SAFETY_TIMEOUT)
        WRITER.flush()
        assert upstream.requests["/index/ro/ot/root"] == 1
        assert sum(upstream.requests.values()) <= 1 + MAX_FILES
        assert mirror.stats.read_ahead <= MAX_FILES
    finally:
        upstream.stop()
