import socket
from collections.abc import Callable, Sequence
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask, WSGITask

class HTTPChannel(wasyncore.dispatcher):
    task_class: type[WSGITask]
    error_task_class: type[ErrorTask]
    parser_class: Callable[[Adjustments], HTTPRequestParser]
    request: HTTPRequestParser | None
    requests: Sequence[HTTPRequestParser]
    last_activity: float
    total_outbufs_len: int
    server: BaseWSGIServer
    adj: Adjustments
    addr: tuple[Any, ...]
    def __init__(
        self,
        server: BaseWSGIServer,
        sock: socket.socket,
        addr: tuple[Any, ...],
        adj: Adjustments,
        map: wasyncore._SocketMap | None = None,
    ) -> None: ...
