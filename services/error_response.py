"""The one rendering of every error answer, whoever gives it (a resource, Falcon's router, or waitress
refusing a request itself): Cargo's error JSON `{"errors":[{"detail":...}]}`, with the headers that go
with it (how to authenticate after a 401, how long to wait after a 429)."""

import json
from dataclasses import dataclass, field
from http import HTTPStatus

from palletizer_lib.domain.errors import PalletizerError, TooManyRequests, Unauthorized, UpstreamBusy
from palletizer_lib.domain.urls import GIT_PREFIX, ServedUrls, login_url

CONTENT_TYPE = "application/json"
GIT_CHALLENGE = 'Basic realm="palletizer registry (user: anything, password: a token)"'


@dataclass(frozen=True)
class ErrorResponse:
    """An error answer: its status, its headers (the content type first) and its body."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status_line(self) -> str:
        """The status as HTTP writes it (`404 Not Found`)."""
        return f"{self.status} {HTTPStatus(self.status).phrase}"


def error_body(detail: str) -> bytes:
    """Cargo's error document: `{"errors":[{"detail":...}]}`."""
    return json.dumps({"errors": [{"detail": detail}]}).encode()


def render(status: int, detail: str, headers: list[tuple[str, str]] | None = None) -> ErrorResponse:
    """The answer of status `status` saying `detail`, with `headers` after its content type."""
    return ErrorResponse(status, error_body(detail), [("Content-Type", CONTENT_TYPE), *(headers or [])])


def render_error(error: PalletizerError, path: str, urls: ServedUrls | None, prefix: str = "") -> ErrorResponse:
    """The answer to a request for `path` that failed with `error` (`urls`: where the registry is served, if
    known; else `prefix`, the URL the request came to, is where `cargo login` is sent)."""
    return render(error.status, error.detail, error_headers(error, path, urls, prefix))


def error_headers(
    error: PalletizerError, path: str, urls: ServedUrls | None, prefix: str = ""
) -> list[tuple[str, str]]:
    """The headers that go with `error`'s answer: how to authenticate after a 401, how long to wait after a
    429 or a 503 from a busy upstream."""
    if isinstance(error, Unauthorized):
        return [("WWW-Authenticate", auth_challenge(path, urls, prefix))]
    if isinstance(error, (TooManyRequests, UpstreamBusy)):
        return [("Retry-After", str(error.retry_after))]
    return []


def auth_challenge(path: str, urls: ServedUrls | None, prefix: str = "") -> str:
    """The `WWW-Authenticate` value of a 401 for `path`: Basic for git, else Cargo's with its login URL
    (the served API's `/me`, else `prefix`'s)."""
    if path.startswith(GIT_PREFIX):
        return GIT_CHALLENGE
    return f'Cargo login_url="{login_url(urls.api if urls is not None else prefix)}"'
