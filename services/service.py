"""What every service shares: Cargo's error JSON, `/health`, `/metrics`, the access log, read access, and the
Falcon app they are built on."""

import json

import falcon
from falcon.routing import CompiledRouter

from palletizer_lib.access import Access
from palletizer_lib.composition import Site
from palletizer_lib.errors import PalletizerError, TooManyRequests, Unauthorized, Unavailable
from palletizer_lib.registry import Registry
from palletizer_services.metrics import METRICS_PATH, MetricsResource, collectors
from palletizer_services.observe import Observer, log_unexpected_error

GIT_PREFIX = "/git/"
READ_PREFIXES = ("/index/", "/files/", GIT_PREFIX)
SEARCH_PATH = "/api/v1/crates"
GIT_CHALLENGE = 'Basic realm="palletizer registry (user: anything, password: a token)"'


def error_body(detail: str) -> bytes:
    """Cargo's error document: `{"errors":[{"detail":...}]}`."""
    return json.dumps({"errors": [{"detail": detail}]}).encode()


def _serialize_http_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body(error.description or error.title or str(error.status))


def auth_challenge(registry: Registry, path: str, prefix: str = "") -> str:
    """The `WWW-Authenticate` value of a 401 for `path`: Basic for git, else Cargo's with its login URL
    (the served API URL, else `prefix`, the URL the request came to)."""
    if path.startswith(GIT_PREFIX):
        return GIT_CHALLENGE
    api = registry.served_config().get("api", prefix)
    return f'Cargo login_url="{api.rstrip("/")}/me"'


def _unexpected_error(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict) -> None:
    """Any exception no other handler takes: logged without the query string or headers (which may carry a
    token), answered 500 in Cargo's error JSON."""
    log_unexpected_error(req, error)
    resp.status = falcon.HTTP_500
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body("the server failed to answer this request; its log says where")


def error_headers(registry: Registry, error: PalletizerError, path: str, prefix: str = "") -> list[tuple[str, str]]:
    """The headers that go with `error`'s answer: how to authenticate after a 401, how long to wait after a
    429."""
    if isinstance(error, Unauthorized):
        return [("WWW-Authenticate", auth_challenge(registry, path, prefix))]
    if isinstance(error, TooManyRequests):
        return [("Retry-After", str(error.retry_after))]
    return []


class _ErrorRenderer:
    """Renders library errors, with `error_headers`."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __call__(self, req: falcon.Request, resp: falcon.Response, error: PalletizerError, params: dict) -> None:
        resp.status = error.status
        resp.content_type = falcon.MEDIA_JSON
        resp.data = error_body(error.detail)
        for name, value in error_headers(self._registry, error, req.path, req.prefix):
            resp.set_header(name, value)


class ReadAccess:
    """Middleware: under `auth_required`, the index, downloads, search and metrics need a `read` token."""

    def __init__(self, access: Access) -> None:
        self._access = access

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if (req.path.startswith(READ_PREFIXES) or req.path == METRICS_PATH
                or ((req.path == SEARCH_PATH or req.path.startswith(SEARCH_PATH + "/"))
                    and req.method in ("GET", "HEAD"))):
            self._access.check_read(req.auth, req.remote_addr)


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


def create_app(site: Site, *, index_size: bool = False, downloads: bool = False) -> falcon.App:
    """A Falcon app over `site` that answers `/health` and `/metrics` (with the index's size, the downloads
    per crate, if asked), logs and counts every request, checks read access, and renders every error as
    Cargo's error JSON."""
    router = CompiledRouter()
    app = falcon.App(middleware=[Observer(router), ReadAccess(site.access)], router=router)
    app.set_error_serializer(_serialize_http_error)
    app.add_error_handler(Exception, _unexpected_error)
    app.add_error_handler(PalletizerError, _ErrorRenderer(site.registry))
    app.add_route("/health", HealthResource(site.registry))
    app.add_route(METRICS_PATH, MetricsResource(collectors(site, index_size=index_size, downloads=downloads)))
    return app
