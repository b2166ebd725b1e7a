from waitress.adjustments import Adjustments
from waitress.receiver import ChunkedReceiver, FixedStreamReceiver
from waitress.utilities import Error

class HTTPRequestParser:
    completed: bool
    empty: bool
    expect_continue: bool
    headers_finished: bool
    chunked: bool
    content_length: int
    body_rcv: ChunkedReceiver | FixedStreamReceiver | None
    version: str
    error: Error | None
    connection_close: bool
    headers: dict[str, str]
    command: str
    path: str
    adj: Adjustments
    def __init__(self, adj: Adjustments) -> None: ...
    def received(self, data: bytes) -> int: ...
