from typing import Any

class Adjustments:
    threads: int
    url_scheme: str
    connection_limit: int
    def __init__(self, **kw: Any) -> None: ...
