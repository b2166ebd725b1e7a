"""Serving one WSGI app with waitress on several listeners: plain, TLS and unix sockets, with allow-lists.

waitress accepts every connection itself. A TLS connection is handed to one asyncio thread that does
the handshake (with a timeout, so a silent or broken client costs nothing but that connection) and
then relays plaintext over a socketpair whose waitress channel carries the client's real address.
A client outside a listener's `allow` networks gets a 403 as soon as its request headers are read,
before any body, and never reaches the app; on a TLS listener it is closed at once, before any handshake.
Every connection, a TLS one from its first byte, passes a `Gate` that bounds how many are open, in all and
per client address (a trusted front's connections, which carry many clients, only in all).
The client of a request is its connection's peer, or, from a trusted front, the address that front put in
`X-Forwarded-For` (`client_address.TrustedProxies`): what the body rules and the app (`REMOTE_ADDR`) see.
"""

import asyncio
import io
import logging
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.receiver import FixedStreamReceiver
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask as WaitressErrorTask
from waitress.task import ThreadedTaskDispatcher, WSGITask
from waitress.utilities import Error

from palletizer_lib.domain.errors import Forbidden, PalletizerError
from palletizer_lib.settings.client_address import TrustedProxies
from palletizer_lib.settings.listeners import Listener
from palletizer_services.bodies import BodyPolicy
from palletizer_services.error_response import ErrorResponse, render, render_error

HANDSHAKE_TIMEOUT = 10.0
RELAY_CHUNK = 64 * 1024
BACKLOG = 1024
# A refused request's body up to this size is read and discarded, so that a client sending it without
# waiting for `100 Continue` (curl waits for bodies over 1 MiB) reads the answer; a larger one is not read.
DRAIN_LIMIT = 1024 * 1024
LOOP_TIMEOUT = 1.0
STOP_POLL = 0.1
# How long a stop waits for the worker threads once every connection is closed.
WORKER_WAIT = 10.0

logger = logging.getLogger("palletizer.listeners")


class Bound:
    """A listener with its listening socket and, for TLS, its loaded context."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.context = listener.ssl_context() if listener.tls else None
        self.socket = _unix_socket(listener) if listener.path is not None else _tcp_socket(listener)
        # A unix socket's file, as bound here: another server may bind the same path once this one is gone.
        self.file = _file_id(listener.path) if listener.path is not None else None

    def close(self) -> None:
        """Close the listening socket and remove a unix socket's file, if it is still the one bound here."""
        self.socket.close()
        if self.file is not None and _file_id(self.listener.path) == self.file:
            try:
                os.unlink(self.listener.path)
            except FileNotFoundError:
                pass
        self.file = None


def bind(listeners: list[Listener]) -> list[Bound]:
    """Check every listener's TLS files and open its socket; a `ListenerError` names the first that fails,
    and then none stays open (nor its socket file)."""
    bound: list[Bound] = []
    try:
        for listener in listeners:
            bound.append(Bound(listener))
    except BaseException:
        release(bound)
        raise
    return bound


def release(bound: list[Bound]) -> None:
    """Close every bound listener, removing the socket files bound here (again is nothing)."""
    for b in bound:
        b.close()


def _file_id(path: Path) -> tuple[int, int] | None:
    """The device and inode of the file at `path`, or None if there is none."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


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


class Refusal(Error):
    """A request refused from its headers, with its answer (`error_response.render_error`)."""

    def __init__(self, answer: ErrorResponse) -> None:
        super().__init__(answer.body.decode())
        self.code = answer.status
        self.answer = answer


class ErrorTask(WaitressErrorTask):
    """waitress's answer to a request it does not pass to the app (a refusal, a malformed request, too
    large a body, an exception in the app), rendered as every other error (`error_response`)."""

    def execute(self) -> None:
        """Write the error's answer and close the connection after it."""
        error = self.request.error
        answer = error.answer if isinstance(error, Refusal) else render(error.code, f"{error.reason}: {error.body}")
        self.status = answer.status_line
        self.response_headers.extend(answer.headers)
        self.set_close_on_finish()
        self.content_length = len(answer.body)
        self.write(answer.body)


class _Discarded:
    """A request body buffer that keeps nothing: the body of a refused request is read past, not stored."""

    def __init__(self) -> None:
        self._length = 0

    def append(self, data: bytes) -> None:
        self._length += len(data)

    def __len__(self) -> int:
        return self._length

    def getfile(self) -> io.BytesIO:
        return io.BytesIO()

    def close(self) -> None:
        pass


class GuardedParser(HTTPRequestParser):
    """waitress's request parser, which refuses a request as soon as its headers are in: a client the
    listener does not allow, or what `BodyPolicy` refuses (a body where none is taken, too large a body,
    a publish without a publishing token). A refused request's answer is its error; a body of at most
    DRAIN_LIMIT bytes is read and discarded first (so the client, still sending it, reads the answer), a
    larger or chunked one is not read at all, and the connection closes after the answer. `client` is the
    request's client (`trusted.client`), known once the headers are in."""

    def __init__(self, adj: Adjustments, peer: str, policy: BodyPolicy | None, allowed: bool,
                 trusted: TrustedProxies) -> None:
        super().__init__(adj)
        self.peer = self.client = peer
        self.trusted = trusted
        self.policy = policy
        self.allowed = allowed
        self._checked = False

    def received(self, data: bytes) -> int:
        """Consume data; once the headers are complete, decide whether the request goes on."""
        consumed = super().received(data)
        if self.headers_finished and not self._checked:
            self._checked = True
            self.client = self.trusted.client(self.peer, self.headers.get("X_FORWARDED_FOR"))
            if not self.empty and self.error is None:
                self._check()
            if self.error is not None:
                # waitress would send `100 Continue` to a request it refuses itself, then wait for its body.
                self.expect_continue = False
        return consumed

    def _check(self) -> None:
        try:
            if not self.allowed:
                raise Forbidden(f"this server does not accept clients from {self.peer} on this address")
            if self.policy is not None:
                length = None if self.chunked else self.content_length
                self.policy.check(self.command, self.path, self.headers, length, self.client)
        except PalletizerError as error:
            answer = self.policy.refusal(error, self.path) if self.policy is not None else render_error(
                error, self.path, None)
            self._refuse(Refusal(answer))

    def _refuse(self, error: Refusal) -> None:
        drain = (not self.completed and not self.chunked and not self.expect_continue
                 and self.content_length <= DRAIN_LIMIT)
        self.error = error
        self.expect_continue = False
        self.connection_close = True
        if self.body_rcv is not None:
            self.body_rcv.getbuf().close()
            self.body_rcv = None
        if drain:
            self.body_rcv = FixedStreamReceiver(self.content_length, _Discarded())
        else:
            self.completed = True


class KeepAliveTask(WSGITask):
    """waitress's task, except that an HTTP/1.1 answer without a body (304, 204) keeps the connection open.

    waitress 3.0 closes the connection after every such answer, because it has no Content-Length (which it
    must not have). Cargo revalidates each cached index file with If-None-Match, so every 304 cost it a new
    connection (and over TLS a new handshake)."""

    _bodiless_keep_alive = False

    def get_environment(self) -> dict:
        """waitress's environment, with the request's client (`GuardedParser.client`) as `REMOTE_ADDR`."""
        if self.environ is None:
            environ = super().get_environment()
            environ["REMOTE_ADDR"] = environ["REMOTE_HOST"] = self.request.client
        return self.environ

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
    """A waitress channel that guards its requests (`GuardedParser`), keeps the connection open after
    answers without a body (`KeepAliveTask`), and gives back its place in the `Gate` when it closes."""

    task_class = KeepAliveTask
    error_task_class = ErrorTask

    def __init__(self, server: BaseWSGIServer, sock: socket.socket, addr: tuple, adj: Adjustments,
                 map: dict, *, ticket: "Ticket", policy: BodyPolicy | None, allowed: bool,
                 trusted: TrustedProxies) -> None:
        self.ticket = ticket
        super().__init__(server, sock, addr, adj, map)
        self.parser_class = partial(GuardedParser, peer=addr[0], policy=policy, allowed=allowed, trusted=trusted)
        ticket.channel = self

    def del_channel(self, map: dict | None = None) -> None:
        """Leave the socket map, and the gate."""
        super().del_channel(map)
        self.ticket.release()

    @property
    def idle(self) -> bool:
        """True if closing this connection interrupts nothing: no request running or being received,
        no answer being sent."""
        return not self.requests and self.request is None and not self.total_outbufs_len

    @property
    def busy(self) -> bool:
        """True while a request is being served or its body received, or an answer is being sent."""
        return bool(self.requests or self.total_outbufs_len
                    or (self.request is not None and self.request.headers_finished))


class Ticket:
    """One admitted connection's place in the `Gate`, given back once (from any thread)."""

    def __init__(self, gate: "Gate", client: str) -> None:
        self.gate = gate
        self.client = client
        self.channel: Channel | None = None
        self._released = False

    def release(self) -> None:
        """Give the place back; again is nothing."""
        with self.gate.lock:
            if self._released:
                return
            self._released = True
            self.gate.leave(self)


class Gate:
    """The connections open at once, in all and per client address, including TLS connections still
    shaking hands. A new connection over its address's cap is closed at once; one over the total limit
    takes the place of the connection idle the longest, or is closed if none is idle."""

    def __init__(self, limit: int, per_client: int) -> None:
        self.limit = limit
        self.per_client = per_client
        self.lock = threading.Lock()
        self.tickets: dict[Ticket, None] = {}
        self.by_client: dict[str, int] = {}
        self.refusals = 0

    def admit(self, client: str, capped: bool = True) -> Ticket | None:
        """A place for a new connection from `client` (`capped` by the per-client limit, for a TCP client),
        or None if it must be closed (in the waitress loop)."""
        with self.lock:
            if capped and self.by_client.get(client, 0) >= self.per_client:
                self._refused(f"{client} has {self.per_client} open, the most one client may have")
                return None
            full = len(self.tickets) >= self.limit
        if full and not self._evict_idle():
            self._refused(f"{self.limit} connections are open and none is idle")
            return None
        ticket = Ticket(self, client)
        with self.lock:
            self.tickets[ticket] = None
            self.by_client[client] = self.by_client.get(client, 0) + 1
        return ticket

    def _refused(self, why: str) -> None:
        """Log a refused connection: the 1st, 2nd, 4th, 8th... (a flood of them must not flood the log)."""
        self.refusals += 1
        if self.refusals & (self.refusals - 1) == 0:
            logger.warning("refused a connection (%d so far): %s", self.refusals, why)

    def leave(self, ticket: Ticket) -> None:
        """Forget `ticket` (with the lock held)."""
        self.tickets.pop(ticket, None)
        left = self.by_client.get(ticket.client, 1) - 1
        if left:
            self.by_client[ticket.client] = left
        else:
            self.by_client.pop(ticket.client, None)

    def _evict_idle(self) -> bool:
        with self.lock:
            idle = [t.channel for t in self.tickets if t.channel is not None and t.channel.idle]
        if not idle:
            return False
        min(idle, key=lambda channel: channel.last_activity).handle_close()
        return True


class Admission:
    """Set as a waitress server's `channel_class`: what becomes of each connection it accepts."""

    def __init__(self, listener: Listener, gate: Gate, policy: BodyPolicy | None,
                 start_tls: Callable | None, trusted: TrustedProxies) -> None:
        self.listener = listener
        self.gate = gate
        self.policy = policy
        self.start_tls = start_tls
        self.trusted = trusted

    def __call__(self, server: BaseWSGIServer, conn: socket.socket, addr: tuple, adj: Adjustments,
                 map: dict | None = None) -> None:
        """Admit the connection through the gate, then open its channel now, or once the TLS handshake is
        done (in the waitress loop, via its trigger). On a TLS listener, a client outside `allow` is closed
        at once, before any handshake. A trusted front is not capped per client: it carries many."""
        client = addr[0] if isinstance(addr, tuple) else ""
        allowed = self.listener.allows(client)
        capped = self.listener.path is None and not self.trusted.trusts(client)
        ticket = (self.gate.admit(client, capped=capped)
                  if allowed or self.start_tls is None else None)
        if ticket is None:
            conn.close()
            return
        try:
            if self.start_tls is None:
                self.channel(server, conn, addr, ticket, allowed)
                return

            def deliver(plain: socket.socket) -> None:
                server.trigger.pull_trigger(lambda: self.channel(server, plain, addr, ticket, allowed))

            self.start_tls(conn, client, deliver, ticket)
        except Exception:
            # Raised into waitress, it would close the listening socket.
            logger.exception("could not take a connection from %s", client)
            ticket.release()
            conn.close()

    def channel(self, server: BaseWSGIServer, sock: socket.socket, addr: tuple, ticket: Ticket,
                allowed: bool) -> None:
        """A waitress channel for `sock` whose client is `addr`."""
        Channel(server, sock, addr, server.adj, server._map, ticket=ticket, policy=self.policy, allowed=allowed,
                trusted=self.trusted)


class TlsRelay:
    """One asyncio thread that terminates TLS and relays plaintext to waitress over socketpairs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # asyncio holds tasks weakly: these keep every running relay alive until it ends.
        self.running: set[Future] = set()
        threading.Thread(target=self.loop.run_forever, name="palletizer-tls", daemon=True).start()

    def start(self, conn: socket.socket, client: str, deliver: Callable[[socket.socket], None], ticket: Ticket, *,
              context: ssl.SSLContext) -> None:
        """Take over an accepted connection; `deliver` gets the plaintext end once the handshake is done.
        The connection's `ticket` is given back when the relay ends."""
        future = asyncio.run_coroutine_threadsafe(self.relay(conn, client, context, deliver), self.loop)
        self.running.add(future)
        future.add_done_callback(partial(self.finished, ticket=ticket))

    def finished(self, future: Future, ticket: Ticket) -> None:
        """Forget a relay that ended and give its place back; log it if it failed unexpectedly."""
        self.running.discard(future)
        ticket.release()
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

    def __init__(self, app: Callable, bound: list[Bound], limits: Limits, policy: BodyPolicy | None,
                 trusted: TrustedProxies | None = None, **adjustments) -> None:
        self.limits = limits
        self.map: dict = {}
        # The gate decides which connections are served; waitress's own limit (which stops accepting, so
        # that clients wait in the backlog) stays above it.
        adjustments.update(asyncore_use_poll=True, connection_limit=limits.connections + 2 * len(bound) + 1)
        self.adj = Adjustments(**adjustments)
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(self.adj.threads)
        self.gate = Gate(limits.connections, limits.per_client)
        self.servers: list[BaseWSGIServer] = []
        self.stop_requested = False
        relay = TlsRelay() if any(b.context for b in bound) else None
        for b in bound:
            server = create_server(app, map=self.map, _dispatcher=self.dispatcher, sockets=[b.socket],
                                   url_scheme="https" if b.context else "http", **adjustments)
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
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self.request_stop)
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
            logger.warning("stopping: %d request(s) still in flight after %g s are cut off",
                           len(busy), self.limits.grace)
        for channel in self._channels():
            channel.handle_close()
        self.dispatcher.shutdown(cancel_pending=True, timeout=WORKER_WAIT)
        wasyncore.close_all(self.map)
        logger.warning("stopped")

    def _channels(self) -> list[Channel]:
        return [obj for obj in list(self.map.values()) if isinstance(obj, Channel)]


def serve(app: Callable, bound: list[Bound], limits: Limits, policy: BodyPolicy | None = None,
          trusted: TrustedProxies | None = None, **adjustments) -> None:
    """Serve `app` on every bound listener until SIGTERM or SIGINT (see `Server`), believing the
    `X-Forwarded-For` of `trusted` fronts."""
    Server(app, bound, limits, policy, trusted, **adjustments).run()
