"""The admission gate: how many connections are open at once, in all and per client address."""

import logging
import threading
from typing import Protocol

logger = logging.getLogger("palletizer.listeners")


class Connection(Protocol):
    """What the gate needs of an admitted connection (`channel.Channel`)."""

    @property
    def idle(self) -> bool:
        """True if closing the connection interrupts nothing."""

    @property
    def last_activity(self) -> float:
        """When the connection last sent or received (`time.time()`)."""

    def handle_close(self) -> None:
        """Close the connection."""


class Ticket:
    """One admitted connection's place in the `Gate`, given back once (from any thread)."""

    def __init__(self, gate: "Gate", client: str) -> None:
        self.gate = gate
        self.client = client
        self.channel: Connection | None = None
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
