class Error:
    code: int
    reason: str
    body: str
    def __init__(self, body: str) -> None: ...
