"""Serving one WSGI app with waitress on several listeners: plain, TLS and unix sockets, with allow-lists.

waitress accepts every connection itself. A TLS connection is handed to one asyncio thread that does
the handshake (with a timeout, so a silent or broken client costs nothing but that connection) and
then relays plaintext over a socketpair whose waitress channel carries the client's real address.
A client outside a listener's `allow` networks gets a 403 as soon as its request headers are read,
before any body, and never reaches the app.
"""

import asyncio
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server
from waitress.task import ThreadedTaskDispatcher, WSGITask
from waitress.utilities import Error

from palletizer_lib.listeners import Listener
from services.http import error_body

HANDSHAKE_TIMEOUT = 10.0
RELAY_CHUNK = 64 * 1024
BACKLOG = 1024

logger = logging.getLogger("palletizer.listeners")


class Bound:
    """A listener with its listening socket and, for TLS, its loaded context."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.context = listener.ssl_context() if listener.tls else None
        self.socket = _unix_socket(listener) if listener.path is not None else _tcp_socket(listener)


def bind(listeners: list[Listener]) -> list[Bound]:
    """Check every listener's TLS files and open its socket; a `ListenerError` names the first that fails."""
    return [Bound(listener) for listener in listeners]


def _tcp_socket(listener: Listener) -> socket.socket:
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise listener.fail(f"unknown host {listener.host}: {exc.strerror}") from exc
    options = [(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)]
    if family == socket.AF_INET6:
        options.append((socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1))
    return _listen(listener, socket.socket(family, kind, proto), sockaddr, options)


def _unix_socket(listener: Listener) -> socket.socket:
    path = str(listener.path)
    if listener.path.is_socket():
        _remove_stale(listener, path)
    return _listen(listener, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), path)


def _listen(listener: Listener, sock: socket.socket, address: object,
            options: list[tuple[int, int, int]] | None = None) -> socket.socket:
    """Set `options` on `sock`, bind it to `address` and listen; on failure close it and name the listener."""
    try:
        for option in options or ():
            sock.setsockopt(*option)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise listener.fail(f"cannot listen there: {exc.strerror or exc}") from exc
    return sock


def _remove_stale(listener: Listener, path: str) -> None:
    """Remove the socket file a dead server left; refuse if a live one still answers on it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)
            return
        except OSError as exc:
            raise listener.fail(f"cannot check the existing socket file: {exc.strerror}") from exc
    raise listener.fail("another process is listening on this socket")


class NotAllowed(Error):
    """The answer to a client outside a listener's `allow` networks."""

    code = 403
    reason = "Forbidden"

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        """Cargo's error JSON."""
        return f"{self.code} {self.reason}", [("Content-Type", "application/json")], error_body(self.body)


class RefusingParser(HTTPRequestParser):
    """Reads a request's headers, then completes it as a `NotAllowed` error without reading its body."""

    def __init__(self, adj: Adjustments, client: str) -> None:
        super().__init__(adj)
        self.client = client

    def received(self, data: bytes) -> int:
        """Consume headers; once they are complete (or broken), the request is the 403."""
        consumed = super().received(data)
        if (self.headers_finished or self.completed) and not self.empty:
            self.error = NotAllowed(f"this server does not accept clients from {self.client} on this address")
            self.expect_continue = False
            self.completed = True
        return consumed


class KeepAliveTask(WSGITask):
    """waitress's task, except that an HTTP/1.1 answer without a body (304, 204) keeps the connection open.

    waitress 3.0 closes the connection after every such answer, because it has no Content-Length (which it
    must not have). Cargo revalidates each cached index file with If-None-Match, so every 304 cost it a new
    connection (and over TLS a new handshake)."""

    _bodiless_keep_alive = False

    def build_response_header(self) -> bytes:
        """The headers, with no `Connection: close` only because a bodiless answer has no length."""
        self._bodiless_keep_alive = (not self.has_body and self.version == "1.1" and not self.close_on_finish
                                     and self.request.headers.get("CONNECTION", "").lower() != "close")
        try:
            return super().build_response_header()
        finally:
            self._bodiless_keep_alive = False

    def set_close_on_finish(self) -> None:
        """Close after this answer, unless it is the bodiless HTTP/1.1 answer being rendered."""
        if not self._bodiless_keep_alive:
            super().set_close_on_finish()


class Channel(HTTPChannel):
    """A waitress channel whose answers without a body keep the connection open (`KeepAliveTask`)."""

    task_class = KeepAliveTask


class RefusedChannel(Channel):
    """A connection from a client the listener does not allow: every request gets the 403."""

    def __init__(self, server: BaseWSGIServer, sock: socket.socket, addr: tuple, adj: Adjustments,
                 map: dict | None = None) -> None:
        super().__init__(server, sock, addr, adj, map)
        self.parser_class = partial(RefusingParser, client=addr[0])


class Admission:
    """Set as a waitress server's `channel_class`: what becomes of each connection it accepts."""

    def __init__(self, listener: Listener, start_tls: Callable | None) -> None:
        self.listener = listener
        self.start_tls = start_tls

    def __call__(self, server: BaseWSGIServer, conn: socket.socket, addr: tuple, adj: Adjustments,
                 map: dict | None = None) -> None:
        """Open the channel now, or once the TLS handshake is done (in the waitress loop, via its trigger)."""
        if self.start_tls is None:
            self.channel(server, conn, addr)
            return

        def deliver(plain: socket.socket) -> None:
            server.trigger.pull_trigger(lambda: self.channel(server, plain, addr))

        self.start_tls(conn, addr[0], deliver)

    def channel(self, server: BaseWSGIServer, sock: socket.socket, addr: tuple) -> None:
        """A waitress channel for `sock` whose client is `addr`, refused if `allow` does not cover it."""
        channel_class = Channel if self.listener.allows(addr[0]) else RefusedChannel
        channel_class(server, sock, addr, server.adj, map=server._map)


class TlsRelay:
    """One asyncio thread that terminates TLS and relays plaintext to waitress over socketpairs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # asyncio holds tasks weakly: these keep every running relay alive until it ends.
        self.running: set[Future] = set()
        threading.Thread(target=self.loop.run_forever, name="palletizer-tls", daemon=True).start()

    def start(self, conn: socket.socket, client: str, deliver: Callable[[socket.socket], None], *,
              context: ssl.SSLContext) -> None:
        """Take over an accepted connection; `deliver` gets the plaintext end once the handshake is done."""
        future = asyncio.run_coroutine_threadsafe(self.relay(conn, client, context, deliver), self.loop)
        self.running.add(future)
        future.add_done_callback(self.finished)

    def finished(self, future: Future) -> None:
        """Forget a relay that ended; log it if it failed unexpectedly."""
        self.running.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("TLS relay failed", exc_info=future.exception())

    async def relay(self, conn: socket.socket, client: str, context: ssl.SSLContext,
                    deliver: Callable[[socket.socket], None]) -> None:
        """Handshake, then copy bytes both ways until either side closes."""
        loop = asyncio.get_running_loop()
        tls_reader = asyncio.StreamReader()
        try:
            transport, protocol = await loop.connect_accepted_socket(
                lambda: asyncio.StreamReaderProtocol(tls_reader), conn, ssl=context,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except OSError as exc:
            conn.close()
            logger.info("TLS handshake with %s failed: %s", client, exc or type(exc).__name__)
            return
        tls_writer = asyncio.StreamWriter(transport, protocol, tls_reader, loop)
        ours, waitress_end = socket.socketpair()
        app_reader, app_writer = await asyncio.open_connection(sock=ours)
        deliver(waitress_end)
        await asyncio.gather(_pipe(tls_reader, app_writer), _pipe(app_reader, tls_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(RELAY_CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def serve(app: Callable, bound: list[Bound], **adjustments) -> None:
    """Serve `app` on every bound listener, in one waitress loop with one pool of worker threads."""
    socket_map: dict = {}
    common = Adjustments(**adjustments)
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(common.threads)
    relay = TlsRelay() if any(b.context for b in bound) else None
    for b in bound:
        server = create_server(app, map=socket_map, _dispatcher=dispatcher, sockets=[b.socket],
                               url_scheme="https" if b.context else "http", **adjustments)
        start_tls = partial(relay.start, context=b.context) if relay and b.context else None
        server.channel_class = Admission(b.listener, start_tls)
        allow = ", ".join(map(str, b.listener.allow)) or "any client"
        logger.info("Serving on %s (allowing %s)", b.listener.url, allow)
    MultiSocketServer(socket_map, common, [], dispatcher).run()
