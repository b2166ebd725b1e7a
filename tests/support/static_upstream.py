"""A static sparse registry laid out like index.crates.io + static.crates.io, served on loopback by a plain
`http.server` in a thread: `index/config.json` (a `dl` without markers), `index/<path>/NAME` files and
`crates/NAME/NAME-VERSION.crate` files, with `/crates/NAME/VERSION/download` mapped to them."""

import hashlib
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from palletizer_lib.domain.names import index_path

_DOWNLOAD = re.compile(r"/crates/([^/]+)/([^/]+)/download\Z")


def upstream_entry(name: str, version: str, crate: bytes, deps: list[dict] | None = None) -> dict:
    """An index entry as crates.io writes it (dependencies without `registry`: the same registry)."""
    return {
        "name": name,
        "vers": version,
        "deps": deps or [],
        "cksum": hashlib.sha256(crate).hexdigest(),
        "features": {},
        "yanked": False,
    }


def upstream_dep(name: str, req: str) -> dict:
    """A normal dependency of an upstream index entry, on a crate of the same upstream."""
    return {
        "name": name,
        "req": req,
        "features": [],
        "optional": False,
        "default_features": True,
        "target": None,
        "kind": "normal",
    }


class QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server for tests on loopback: daemon threads, and no traceback for a client gone."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (a timed-out mirror) is no failure of the upstream."""


class StaticUpstream:
    """The files under `root`, served at `url` until `stop()`; `requests` counts each path asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()
        self.hold = threading.Event()
        self.hold.set()
        self.held = threading.Event()
        (root / "index").mkdir(parents=True, exist_ok=True)
        self._server = QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        (root / "index" / "config.json").write_text(json.dumps({"dl": f"{self.url}/crates"}))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def index_url(self) -> str:
        """The sparse index URL to mirror."""
        return f"sparse+{self.url}/index/"

    def add(
        self, name: str, version: str, crate: bytes, deps: list[dict] | None = None, served: bytes | None = None
    ) -> dict:
        """Publish `crate` upstream (its index entry appended); `served`: other bytes to send for it."""
        entry = upstream_entry(name, version, crate, deps)
        index = self.root / "index" / index_path(name)
        index.parent.mkdir(parents=True, exist_ok=True)
        with index.open("a") as file:
            file.write(json.dumps(entry) + "\n")
        path = self.root / "crates" / name / f"{name}-{version}.crate"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(crate if served is None else served)
        return entry

    def stop(self) -> None:
        """Stop serving and close the port (later connections are refused)."""
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                upstream.requests[self.path] += 1
                match = _DOWNLOAD.match(self.path)
                if match:
                    upstream.held.set()
                    upstream.hold.wait(30)
                    name, version = match.groups()
                    self._send(upstream.root / "crates" / name / f"{name}-{version}.crate", "application/gzip")
                elif self.path.startswith("/index/") and ".." not in self.path:
                    self._send(upstream.root / self.path.lstrip("/"), "text/plain", etag=True)
                else:
                    self._status(404)

            def _send(self, path: Path, content_type: str, etag: bool = False) -> None:
                try:
                    data = path.read_bytes()
                except (FileNotFoundError, IsADirectoryError):
                    self._status(404)
                    return
                tag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
                if etag and self.headers.get("If-None-Match"):
                    upstream.conditional[self.path] += 1
                    if self.headers["If-None-Match"] == tag:
                        self.send_response(304)
                        self.send_header("ETag", tag)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                if etag:
                    self.send_header("ETag", tag)
                self.end_headers()
                self.wfile.write(data)

            def _status(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
