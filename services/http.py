"""What every service shares: Cargo's error JSON and the Falcon app they are built on."""

import json

import falcon

from palletizer_lib.errors import PalletizerError


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


def create_app() -> falcon.App:
    """A Falcon app that renders every error as Cargo's error JSON."""
    app = falcon.App()
    app.set_error_serializer(_serialize_http_error)
    app.add_error_handler(PalletizerError, _handle_palletizer_error)
    return app
