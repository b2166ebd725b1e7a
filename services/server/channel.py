"""What becomes of each connection waitress accepts: admitted through the gate (`Admission`), it gets a
channel (`Channel`) whose requests are guarded (`parser.GuardedParser`) and whose bodiless answers keep the
connection open (`KeepAliveTask`)."""

import logging
import socket
from functools import partial
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import WSGITask

from palletizer_lib.settings.client_address import TrustedProxies
from palletizer_lib.settings.listeners import Listener
from palletizer_services.bodies import BodyPolicy
from palletizer_services.server.gate import Gate, Ticket
from palletizer_services.server.parser import ErrorTask, GuardedParser
from palletizer_services.server.tls_relay import StartTls

# waitress's map of the descriptors its loop serves, and a connection's address as waitress gives it: the
# TCP peer (host, port...), or ("localhost", None) on a unix socket.
SocketMap = dict[int, wasyncore.dispatcher]
Address = tuple[Any, ...]

logger = logging.getLogger("palletizer.listeners")


class KeepAliveTask(WSGITask):
    """waitress's task, except that an HTTP/1.1 answer without a body (304, 204) keeps the connection open.

    waitress 3.0 closes the connection after every such answer, because it has no Content-Length (which it
    must not have). Cargo revalidates each cached index file with If-None-Match, so every 304 cost it a new
    connection (and over TLS a new handshake)."""

    request: GuardedParser
    _bodiless_keep_alive = False

    def get_environment(self) -> dict[str, Any]:
        """waitress's environment, with the request's client (`GuardedParser.client`) as `REMOTE_ADDR`."""
        if self.environ is not None:
            return self.environ
        environ = super().get_environment()
        environ["REMOTE_ADDR"] = environ["REMOTE_HOST"] = self.request.client
        return environ

    def build_response_header(self) -> bytes:
        """The headers, with no `Connection: close` only because a bodiless answer has no length."""
        self._bodiless_keep_alive = (
            not self.has_body
            and self.version == "1.1"
            and not self.close_on_finish
            and self.request.headers.get("CONNECTION", "").lower() != "close"
        )
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

    def __init__(
        self,
        server: BaseWSGIServer,
        sock: socket.socket,
        addr: Address,
        adj: Adjustments,
        map: SocketMap,
        *,
        ticket: Ticket,
        policy: BodyPolicy | None,
        allowed: bool,
        trusted: TrustedProxies,
    ) -> None:
        self.ticket = ticket
        super().__init__(server, sock, addr, adj, map)
        self.parser_class = partial(GuardedParser, peer=addr[0], policy=policy, allowed=allowed, trusted=trusted)
        ticket.channel = self

    def del_channel(self, map: SocketMap | None = None) -> None:
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
        return bool(
            self.requests or self.total_outbufs_len or (self.request is not None and self.request.headers_finished)
        )


class Admission:
    """Set as a waitress server's `channel_class`: what becomes of each connection it accepts."""

    def __init__(
        self,
        listener: Listener,
        gate: Gate,
        policy: BodyPolicy | None,
        start_tls: StartTls | None,
        trusted: TrustedProxies,
    ) -> None:
        self.listener = listener
        self.gate = gate
        self.policy = policy
        self.start_tls = start_tls
        self.trusted = trusted

    def __call__(
        self, server: BaseWSGIServer, conn: socket.socket, addr: Address, adj: Adjustments, map: SocketMap
    ) -> None:
        """Admit the connection through the gate, then open its channel now, or once the TLS handshake is
        done (in the waitress loop, via its trigger). On a TLS listener, a client outside `allow` is closed
        at once, before any handshake. A trusted front is not capped per client: it carries many."""
        client = addr[0]
        allowed = self.listener.allows(client)
        capped = self.listener.path is None and not self.trusted.trusts(client)
        ticket = self.gate.admit(client, capped=capped) if allowed or self.start_tls is None else None
        if ticket is None:
            conn.close()
            return

        def open_channel(sock: socket.socket) -> None:
            Channel(
                server, sock, addr, adj, map, ticket=ticket, policy=self.policy, allowed=allowed, trusted=self.trusted
            )

        def deliver(plain: socket.socket) -> None:
            server.trigger.pull_trigger(lambda: open_channel(plain))

        try:
            if self.start_tls is None:
                open_channel(conn)
            else:
                self.start_tls(conn, client, deliver, ticket)
        except Exception:
            # Raised into waitress, it would close the listening socket.
            logger.exception("could not take a connection from %s", client)
            ticket.release()
            conn.close()
