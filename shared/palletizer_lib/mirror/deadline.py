"""The deadline of one upstream transfer, enforced on its connections: from the moment the request is sent,
every connection the transfer uses (redirects included) and the socket its body comes from are shut down once
the deadline passes. That wakes a read blocked on them however slowly the upstream sends its status line, its
headers or its body (each byte would otherwise start a new read time-out)."""

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CURRENT = threading.local()


class Deadline:
    """A transfer's deadline, `seconds` from now; `expired` once it has passed (and its connections are shut)."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._connections: list[Any] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """Within this, every request this thread sends through a `DeadlineAdapter` is watched."""
        _CURRENT.deadline = self
        try:
            yield
        finally:
            _CURRENT.deadline = None

    def watch_socket(self, sock: socket.socket | None) -> None:
        """Shut `sock` down too when the deadline passes."""
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)
            if self.expired:
                self._expire()

    def _watch_connection(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)

    def _expire(self) -> None:
        self.expired = True
        with self._lock:
            sockets = [*self._sockets, *(getattr(c, "sock", None) for c in self._connections)]
        for sock in sockets:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        """The transfer is over: never shut its connections down."""
        self._timer.cancel()


def _watched(connection: Any) -> None:
    deadline = getattr(_CURRENT, "deadline", None)
    if deadline is not None:
        deadline._watch_connection(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections are watched by the `Deadline` a thread is `sending` under."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager
