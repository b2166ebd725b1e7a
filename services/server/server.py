"""The server: every bound listener in one waitress loop with one pool of worker threads, stopped
gracefully on SIGTERM or SIGINT."""

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ThreadedTaskDispatcher

from palletizer_lib.settings.client_address import TrustedProxies
from palletizer_services.bodies import BodyPolicy
from palletizer_services.server.channel import Admission, Channel, SocketMap
from palletizer_services.server.gate import Gate
from palletizer_services.server.sockets import Bound
from palletizer_services.server.tls_relay import TlsRelay

LOOP_TIMEOUT = 1.0
STOP_POLL = 0.1
# How long a stop waits for the worker threads once every connection is closed.
WORKER_WAIT = 10.0

# A WSGI application: called with the environment and `start_response`, it returns the body.
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

logger = logging.getLogger("palletizer.listeners")


@dataclass(frozen=True)
class Limits:
    """How many connections are served at once (`connections`, and `per_client` from one TCP client
    address), and how long a stop waits for requests in flight (`grace`, seconds)."""

    connections: int
    per_client: int
    grace: float


class Server:
    """Every bound listener in one waitress loop (poll-based, so any number of descriptors) with one pool
    of worker threads, until SIGTERM or SIGINT; then it stops accepting, lets requests in flight finish
    (up to the grace period), and returns."""

    def __init__(
        self,
        app: WsgiApp,
        bound: list[Bound],
        limits: Limits,
        policy: BodyPolicy | None,
        trusted: TrustedProxies | None = None,
        **adjustments: Any,
    ) -> None:
        self.limits = limits
        self.map: SocketMap = {}
        # The gate decides which connections are served; waitress's own limit (which stops accepting, so
        # that clients wait in the backlog) stays above it. It counts every socket of the loop: the
        # connections, the listening sockets, waitress's trigger and the signal wake-up (`_woken_by_signals`).
        adjustments.update(asyncore_use_poll=True, connection_limit=limits.connections + 2 * len(bound) + 2)
        self.adj = Adjustments(**adjustments)
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(self.adj.threads)
        self.gate = Gate(limits.connections, limits.per_client)
        self.servers: list[BaseWSGIServer] = []
        self.stop_requested = False
        relay = TlsRelay() if any(b.context for b in bound) else None
        for b in bound:
            server = create_server(
                app,
                map=self.map,
                _dispatcher=self.dispatcher,
                sockets=[b.socket],
                url_scheme="https" if b.context else "http",
                **adjustments,
            )
            assert isinstance(server, BaseWSGIServer), "waitress serves one socket with one server"
            start_tls = partial(relay.start, context=b.context) if relay and b.context else None
            server.channel_class = Admission(b.listener, self.gate, policy, start_tls, trusted or TrustedProxies())
            self.servers.append(server)
            allow = ", ".join(map(str, b.listener.allow)) or "any client"
            logger.info("Serving on %s (allowing %s)", b.listener.url, allow)

    def request_stop(self, signum: int = signal.SIGTERM, frame: object = None) -> None:
        """Stop at the loop's next turn (a signal handler: it only sets a flag)."""
        self.stop_requested = True

    def run(self) -> None:
        """Serve until a stop is requested, then stop gracefully."""
        main = threading.current_thread() is threading.main_thread()
        if main:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self.request_stop)
        with _woken_by_signals(self.map) if main else contextlib.nullcontext():
            while not self.stop_requested:
                wasyncore.poll2(LOOP_TIMEOUT, self.map)
        self.stop()

    def stop(self) -> None:
        """Close the listening sockets, serve the requests in flight until they are answered or the grace
        period is over, then close every connection and wait for the workers."""
        for server in self.servers:
            server.accepting = False
            server.del_channel()
            server.socket.close()
        channels = self._channels()
        busy = [channel for channel in channels if channel.busy]
        logger.warning("stopping: %d request(s) in flight, waiting up to %g s", len(busy), self.limits.grace)
        deadline = time.monotonic() + self.limits.grace
        while True:
            busy = []
            for channel in self._channels():
                if channel.busy:
                    busy.append(channel)
                else:
                    channel.handle_close()
            if not busy or time.monotonic() >= deadline:
                break
            wasyncore.poll2(STOP_POLL, self.map)
        if busy:
            logger.warning(
                "stopping: %d request(s) still in flight after %g s are cut off", len(busy), self.limits.grace
            )
        for channel in self._channels():
            channel.handle_close()
        self.dispatcher.shutdown(cancel_pending=True, timeout=WORKER_WAIT)
        wasyncore.close_all(self.map)
        logger.warning("stopped")

    def _channels(self) -> list[Channel]:
        return [obj for obj in list(self.map.values()) if isinstance(obj, Channel)]


class _SignalWake(wasyncore.dispatcher):
    """The read end of the socket a signal's arrival is written to: it wakes the loop, so that a stop begins
    at once rather than at the loop's next turn."""

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self.socket.recv(64):
                pass


@contextlib.contextmanager
def _woken_by_signals(socket_map: SocketMap) -> Iterator[None]:
    """While inside, each signal the process receives also wakes the loop over `socket_map` (the read end is
    one of its dispatchers, closed with the others)."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    _SignalWake(reader, socket_map)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        writer.close()


def serve(
    app: WsgiApp,
    bound: list[Bound],
    limits: Limits,
    policy: BodyPolicy | None = None,
    trusted: TrustedProxies | None = None,
    **adjustments: Any,
) -> None:
    """Serve `app` on every bound listener until SIGTERM or SIGINT (see `Server`), believing the
    `X-Forwarded-For` of `trusted` fronts."""
    Server(app, bound, limits, policy, trusted, **adjustments).run()
