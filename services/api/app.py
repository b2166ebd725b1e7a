"""Cargo's web API under `/api/v1/`: publish, yank, unyank, search; owners and login to come."""

from collections.abc import Sequence

import falcon

from palletizer_lib.errors import NotImplementedYet, PayloadTooLarge
from palletizer_lib.publish_body import MAX_METADATA_SIZE, parse_publish_body
from palletizer_lib.registry import Registry
from services import serve
from services.http import create_app

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
NO_AUTH_YET = (
    "this registry does not check tokens yet: any token is accepted, "
    "e.g. `cargo login --registry NAME anything`"
)


def max_publish_body(registry: Registry) -> int:
    """The largest publish request body the configured crate size limit allows."""
    return registry.config.max_crate_size + MAX_METADATA_SIZE + 8


class PublishResource:
    """`PUT /api/v1/crates/new`."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = max_publish_body(self._registry)
        length = req.content_length
        if length is None:
            raise falcon.HTTPLengthRequired(description="a publish request needs a Content-Length header")
        if length > limit:
            raise PayloadTooLarge(f"the upload is {length} bytes; this registry accepts crates up to "
                                  f"{self._registry.config.max_crate_size} bytes")
        body = req.bounded_stream.read(length)
        published = parse_publish_body(body)
        self._registry.publish(published.metadata, published.crate)
        resp.media = {"warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}}


class YankResource:
    """`DELETE .../{name}/{version}/yank` and `PUT .../{name}/{version}/unyank`."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        self._registry.set_yanked(name, version, True)
        resp.media = {"ok": True}

    def on_put_unyank(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        self._registry.set_yanked(name, version, False)
        resp.media = {"ok": True}


class SearchResource:
    """`GET /api/v1/crates?q=...&per_page=...`."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = req.get_param("q", default="")
        per_page = req.get_param_as_int("per_page", default=DEFAULT_PER_PAGE, min_value=1)
        total, found = self._registry.search(query, min(per_page, MAX_PER_PAGE))
        resp.media = {
            "crates": [{"name": s.name, "max_version": s.max_version, "description": s.description}
                       for s in found],
            "meta": {"total": total},
        }


class OwnersResource:
    """`/api/v1/crates/{name}/owners`: not offered until the registry has users."""

    def _refuse(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        raise NotImplementedYet(f"crate owners are not supported by this registry yet; {NO_AUTH_YET}")

    on_get = on_put = on_delete = _refuse


class MeResource:
    """`/me`: where `cargo login` sends people for a token."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = NO_AUTH_YET + "\n"


def add_routes(app: falcon.App, registry: Registry) -> None:
    """Mount the web API under `/api/v1/` (and `/me`)."""
    app.add_route("/api/v1/crates/new", PublishResource(registry))
    app.add_route("/api/v1/crates", SearchResource(registry))
    yank = YankResource(registry)
    app.add_route("/api/v1/crates/{name}/{version}/yank", yank)
    app.add_route("/api/v1/crates/{name}/{version}/unyank", yank, suffix="unyank")
    app.add_route("/api/v1/crates/{name}/owners", OwnersResource())
    app.add_route("/me", MeResource())


def create(registry: Registry) -> falcon.App:
    """The api service on its own."""
    app = create_app(registry)
    add_routes(app, registry)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-api`."""
    return serve.main("palletizer-api", argv, create, max_body=max_publish_body)
