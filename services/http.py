"""What every service shares: Cargo's error JSON, `/health`, and the Falcon app they are built on."""

import json

import falcon

from palletizer_lib.errors import PalletizerError, Unavailable
from palletizer_lib.registry import Registry


def error_body(detail: str) -> bytes:
    """Cargo's error document: `{"errors":[{"detail":...}]}`."""
    return json.dumps({"errors": [{"detail": detail}]}).encode()


def _serialize_http_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body(error.description or error.title or str(error.status))


def _handle_palletizer_error(req: falcon.Request, resp: falcon.Response, error: PalletizerError,
                             params: dict) -> None:
    resp.status = error.status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body(error.detail)


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


def create_app(registry: Registry) -> falcon.App:
    """A Falcon app over `registry` that answers `/health` and renders every error as Cargo's error JSON."""
    app = falcon.App()
    app.set_error_serializer(_serialize_http_error)
    app.add_error_handler(PalletizerError, _handle_palletizer_error)
    app.add_route("/health", HealthResource(registry))
    return app
