"""Which requests may carry a body, how large, and whose token is checked before it is read.

waitress reads a whole request body (spooling a large one to a temporary file) before the app sees the
request. So the rules are applied as soon as a request's headers are in, by the listener's parser
(`palletizer_services.server.parser`): a request to a route that takes no body, or a larger body than its
route takes, is refused then; a publish is refused then if its token does not allow publishing. Only an
accepted request gets `100 Continue` and has its body read.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from palletizer_lib.core.access import Access
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import PalletizerError, PayloadTooLarge
from palletizer_services.error_response import ErrorResponse, render_error

# What a small JSON or form body (owners, login) may take.
SMALL_BODY = 64 * 1024


@dataclass(frozen=True)
class BodyRoute:
    """Requests of `method` to paths matching `path` (a regular expression) may carry a body of up to
    `limit(registry)` bytes; with `scope`, their token must carry that scope before the body is read."""

    method: str
    path: str
    limit: Callable[[Registry], int]
    scope: str | None = None


def small_body(registry: Registry) -> int:
    """The limit of routes that take a small JSON or form body."""
    return SMALL_BODY


class BodyPolicy:
    """The body rules of one app: `check` refuses a request from its headers alone."""

    def __init__(self, access: Access, routes: Sequence[BodyRoute]) -> None:
        self._access = access
        self._routes = [(route, re.compile(route.path)) for route in routes]

    def check(self, method: str, path: str, headers: Mapping[str, str], length: int | None, client: str) -> None:
        """Raise the error that refuses this request before its body is read, if any.

        `length` is the declared Content-Length, or None for a chunked body; `headers` are waitress's
        (upper case, `_` for `-`)."""
        routes = [route for route, pattern in self._routes if pattern.fullmatch(path)]
        route = next((r for r in routes if r.method == method), None)
        if route is None:
            # Another method on a route that takes a body: small enough, the app answers (405).
            if length != 0 and (not routes or length is None or length > SMALL_BODY):
                raise PayloadTooLarge(f"{method} {path} takes no request body")
            return
        if route.scope is not None:
            self._access.require(headers.get("AUTHORIZATION"), client, route.scope)
        limit = route.limit(self._access.registry)
        if length is not None and length > limit:
            raise PayloadTooLarge(f"the request body is {length} bytes; {method} {path} takes at most {limit}")

    def refusal(self, error: PalletizerError, path: str) -> ErrorResponse:
        """The answer refusing a request to `path` with `error`."""
        return render_error(error, path, self._access.registry.served_urls())
