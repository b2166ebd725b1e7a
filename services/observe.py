"""Middleware that observes every request the app answers: one access log line, and the request metrics.

The access log (logger `palletizer.access`, level INFO) has `key=value` fields: method, path (never the
query string), route (the Falcon route template, `-` if none matched), status, duration in
milliseconds, client address, and body bytes (`-` when a stream of unknown length). No header is ever
logged, so neither is a token.

An exception no handler expected is logged (logger `palletizer.error`, level ERROR) with the request's
method and path, and its traceback without the exceptions' messages, which may quote what the request
carried.
"""

import json
import logging
import re
import time
import traceback

import falcon
from falcon.routing import CompiledRouter

from palletizer_services.metrics import RequestMetrics

METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"})
NO_ROUTE = UNKNOWN = "-"
_PLAIN = re.compile(r"[!#-<>-\[\]-~]+")  # printable ASCII but space, `"`, `=` and `\`: written unquoted

logger = logging.getLogger("palletizer.access")
error_logger = logging.getLogger("palletizer.error")


class Observer:
    """Times each request; when answered, counts it by route template and status, and logs it.

    It must come first among the app's middleware, so that it sees requests another middleware refuses;
    `router` (the app's) names the route of those, which Falcon did not get to route."""

    def __init__(self, router: CompiledRouter, metrics: RequestMetrics) -> None:
        self._router = router
        self._metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Note when the request arrived."""
        req.context.observe_started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        """Count and log the answer."""
        started = req.context.get("observe_started")
        duration = time.perf_counter() - started if started is not None else 0.0
        route = self._route(req)
        method = req.method if req.method in METHODS else "OTHER"
        status = str(resp.status_code)
        self._metrics.observe(method, route, status, duration)
        if logger.isEnabledFor(logging.INFO):
            fields = {
                "method": method,
                "path": req.path,
                "route": route,
                "status": status,
                "duration_ms": f"{duration * 1000:.1f}",
                "client": req.remote_addr or "-",
                "bytes": _body_size(req, resp),
            }
            logger.info(" ".join(f"{key}={_quoted(str(value))}" for key, value in fields.items()))

    def _route(self, req: falcon.Request) -> str:
        if req.uri_template is not None:
            return req.uri_template
        found = self._router.find(req.path, req)
        return found[3] or NO_ROUTE if found else NO_ROUTE


def _body_size(req: falcon.Request, resp: falcon.Response) -> int | str:
    if req.method == "HEAD" or resp.status_code in (204, 304):
        return 0
    if resp.stream is not None:
        return resp.content_length or UNKNOWN
    body = resp.render_body()
    return len(body) if body else 0


def _quoted(value: str) -> str:
    """`value` as is if plain, else as a JSON string (so a field never holds a space or a line break)."""
    return value if _PLAIN.fullmatch(value) else json.dumps(value)


def log_unexpected_error(req: falcon.Request, error: BaseException) -> None:
    """Log `error`, raised while answering `req`: its method, path and traceback, never the query string,
    a header, or an exception's message."""
    method = req.method if req.method in METHODS else "OTHER"
    error_logger.error("unexpected error answering %s %s\n%s", method, _quoted(req.path), _frames(error))


def _frames(error: BaseException) -> str:
    """The traceback of `error` and of the exceptions it was raised from or while handling, each with its
    type but not its message."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\nduring the handling of it, another error:\n".join(
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(e.__traceback__))
        + f"{type(e).__module__}.{type(e).__qualname__} (message not logged)"
        for e in reversed(chain)
    )
