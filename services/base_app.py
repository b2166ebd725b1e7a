"""What every service shares: `/health`, `/metrics`, the access log, read access (`read_access`), every
error rendered as Cargo's error JSON (`error_response`), and the Falcon app they are built on."""

import falcon
from falcon.routing import CompiledRouter

from palletizer_lib.core.composition import Site
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import PalletizerError, Unavailable
from palletizer_services.error_response import ErrorResponse, render, render_error
from palletizer_services.metrics import METRICS_PATH, MetricsResource, RequestMetrics, collectors
from palletizer_services.observe import Observer, log_unexpected_error
from palletizer_services.read_access import ReadAccess

# A Falcon WSGI app as the services build it.
WebApp = falcon.App[falcon.Request, falcon.Response]


def _serialize_http_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Falcon's own errors (no route, a method not allowed, a body it cannot parse)."""
    _send(resp, render(error.status_code, error.description or error.title or str(error.status)))


def _unexpected_error(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, object]) -> None:
    """Any exception no other handler takes: logged without the query string or headers (which may carry a
    token), answered 500 in Cargo's error JSON."""
    log_unexpected_error(req, error)
    _send(resp, render(500, "the server failed to answer this request; its log says where"))


class _ErrorRenderer:
    """Renders library errors (`render_error`), sending `cargo login` to the served API."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __call__(
        self, req: falcon.Request, resp: falcon.Response, error: PalletizerError, params: dict[str, object]
    ) -> None:
        _send(resp, render_error(error, req.path, self._registry.served_urls(), req.prefix))


def _send(resp: falcon.Response, answer: ErrorResponse) -> None:
    resp.status = answer.status
    for name, value in answer.headers:
        resp.set_header(name, value)
    resp.data = answer.body


class HealthResource:
    """`GET /health`: 200 when the registry can serve, else 503 with the reasons (for probes)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.cache_control = ["no-store"]
        problems = self._registry.health()
        if problems:
            raise Unavailable("; ".join(problems))
        resp.media = {"status": "ok"}


def create_app(site: Site, *, index_size: bool = False, downloads: bool = False) -> WebApp:
    """A Falcon app over `site` that answers `/health` and `/metrics` (with the index's size, the downloads
    per crate, if asked), logs and counts every request, checks read access, and renders every error as
    Cargo's error JSON."""
    router = CompiledRouter()
    metrics = RequestMetrics()
    app = falcon.App(middleware=(Observer(router, metrics), ReadAccess(site.access)), router=router)
    app.set_error_serializer(_serialize_http_error)
    app.add_error_handler(Exception, _unexpected_error)
    app.add_error_handler(PalletizerError, _ErrorRenderer(site.registry))
    app.add_route("/health", HealthResource(site.registry))
    app.add_route(METRICS_PATH, MetricsResource(collectors(site, metrics, index_size=index_size, downloads=downloads)))
    return app
