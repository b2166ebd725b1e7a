import socket
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.task import ThreadedTaskDispatcher

class _Trigger:
    def pull_trigger(self, thunk: Callable[[], object] | None = None) -> None: ...

class _ChannelFactory(Protocol):
    def __call__(
        self,
        server: BaseWSGIServer,
        sock: socket.socket,
        addr: tuple[Any, ...],
        adj: Adjustments,
        /,
        *,
        map: wasyncore._SocketMap,
    ) -> object: ...

class BaseWSGIServer(wasyncore.dispatcher):
    channel_class: _ChannelFactory
    adj: Adjustments
    trigger: _Trigger

class MultiSocketServer:
    adj: Adjustments

def create_server(
    application: Callable[..., Iterable[bytes]],
    map: wasyncore._SocketMap | None = None,
    _start: bool = True,
    _sock: socket.socket | None = None,
    _dispatcher: ThreadedTaskDispatcher | None = None,
    **kw: Any,
) -> BaseWSGIServer | MultiSocketServer: ...
