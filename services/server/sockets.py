"""The listening sockets: one per listener, TCP or unix, opened before serving and closed after, a unix
socket's file removed with it (and a dead server's stale one before binding)."""

import contextlib
import os
import socket
from pathlib import Path

from palletizer_lib.settings.listeners import Listener

BACKLOG = 1024


class Bound:
    """A listener with its listening socket and, for TLS, its loaded context."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.context = listener.ssl_context() if listener.tls else None
        path = listener.path
        self.socket = _tcp_socket(listener) if path is None else _unix_socket(listener, path)
        # A unix socket's file, as bound here: another server may bind the same path once this one is gone.
        self.file = None if path is None else _file_id(path)

    def close(self) -> None:
        """Close the listening socket and remove a unix socket's file, if it is still the one bound here."""
        self.socket.close()
        path = self.listener.path
        if path is not None and self.file is not None and _file_id(path) == self.file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
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
            listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise listener.fail(f"unknown host {listener.host}: {exc.strerror}") from exc
    options = [(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)]
    if family == socket.AF_INET6:
        options.append((socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1))
    return _listen(listener, socket.socket(family, kind, proto), sockaddr, options)


def _unix_socket(listener: Listener, path: Path) -> socket.socket:
    if path.is_socket():
        _remove_stale(listener, str(path))
    return _listen(listener, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), str(path))


def _listen(
    listener: Listener,
    sock: socket.socket,
    address: str | tuple[object, ...],
    options: list[tuple[int, int, int]] | None = None,
) -> socket.socket:
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
