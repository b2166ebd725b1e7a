"""TLS terminated beside waitress: one asyncio thread does each handshake and relays the plaintext to
waitress over a socketpair."""

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from palletizer_services.server.gate import Ticket

HANDSHAKE_TIMEOUT = 10.0
RELAY_CHUNK = 64 * 1024

logger = logging.getLogger("palletizer.listeners")

# What takes an accepted TLS connection over: the connection, its client, what gets the plaintext end once
# the handshake is done, and the connection's place in the gate.
StartTls = Callable[[socket.socket, str, Callable[[socket.socket], None], Ticket], None]


class TlsRelay:
    """One asyncio thread that terminates TLS and relays plaintext to waitress over socketpairs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # asyncio holds tasks weakly: these keep every running relay alive until it ends.
        self.running: set[Future[None]] = set()
        threading.Thread(target=self.loop.run_forever, name="palletizer-tls", daemon=True).start()

    def start(
        self,
        conn: socket.socket,
        client: str,
        deliver: Callable[[socket.socket], None],
        ticket: Ticket,
        *,
        context: ssl.SSLContext,
    ) -> None:
        """Take over an accepted connection; `deliver` gets the plaintext end once the handshake is done.
        The connection's `ticket` is given back when the relay ends."""
        future = asyncio.run_coroutine_threadsafe(self.relay(conn, client, context, deliver), self.loop)
        self.running.add(future)
        future.add_done_callback(partial(self.finished, ticket=ticket))

    def finished(self, future: Future[None], ticket: Ticket) -> None:
        """Forget a relay that ended and give its place back; log it if it failed unexpectedly."""
        self.running.discard(future)
        ticket.release()
        if not future.cancelled() and future.exception() is not None:
            logger.error("TLS relay failed", exc_info=future.exception())

    async def relay(
        self, conn: socket.socket, client: str, context: ssl.SSLContext, deliver: Callable[[socket.socket], None]
    ) -> None:
        """Handshake, then copy bytes both ways until either side closes."""
        loop = asyncio.get_running_loop()
        tls_reader = asyncio.StreamReader()
        try:
            transport, protocol = await loop.connect_accepted_socket(
                lambda: asyncio.StreamReaderProtocol(tls_reader),
                conn,
                ssl=context,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )
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
