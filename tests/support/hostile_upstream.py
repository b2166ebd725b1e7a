"""Upstreams that misbehave, on loopback, each bounded in time and stopping by itself: one that accepts
connections and never answers (`HoldingUpstream`), and one whose every answer a test scripts
(`ScriptedUpstream`)."""

import socket
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from tests.support.static_upstream import QuietServer

HOLD_BOUND = 60.0


class HoldingUpstream:
    """Accepts connections on loopback and never answers; `accepted` counts them. Each is held until
    `release()` (or `HOLD_BOUND` seconds), then closed; after `release()` the port is closed too."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.accepted = 0
        self._changed = threading.Condition()
        self._released = threading.Event()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()
        bound = threading.Timer(HOLD_BOUND, self.release)
        bound.daemon = True
        bound.start()

    @property
    def index_url(self) -> str:
        """The sparse index URL to mirror."""
        return f"sparse+{self.url}/index/"

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until `count` connections were accepted (True), or `timeout` seconds (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.accepted >= count, timeout)

    def release(self) -> None:
        """Close every held connection and the port."""
        self._released.set()
        self._listener.close()
        with self._changed:
            held, self._held = self._held, []
        for conn in held:
            conn.close()

    def _accept(self) -> None:
        while not self._released.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._changed:
                self.accepted += 1
                self._held.append(conn)
                self._changed.notify_all()


Script = Callable[[BaseHTTPRequestHandler, threading.Event], None]


class ScriptedUpstream:
    """An HTTP server on loopback whose GETs `script(handler, stopping)` answers; `requests` counts each
    path asked for. `stop()` sets `stopping` (a script that drips watches it) and closes the port."""

    def __init__(self, script: Script) -> None:
        self.requests: Counter[str] = Counter()
        self.stopping = threading.Event()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                upstream.requests[self.path] += 1
                script(self, upstream.stopping)

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def index_url(self) -> str:
        """The sparse index URL to mirror."""
        return f"sparse+{self.url}/index/"

    def stop(self) -> None:
        """Stop answering and close the port."""
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


def answer(
    handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    """Send a whole answer."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
