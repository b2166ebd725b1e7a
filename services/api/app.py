"""Cargo's web API under `/api/v1/`: publish, yank, unyank, owners, search, crates.io's read endpoints; `/me`;
and the web pages."""

from collections.abc import Sequence

import falcon

from palletizer_lib.core.access import Access
from palletizer_lib.core.composition import Site
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import LengthRequired, PayloadTooLarge
from palletizer_lib.domain.owners_body import parse_owners_body
from palletizer_lib.domain.publish_body import max_publish_body, parse_publish_body
from palletizer_lib.domain.urls import PUBLISH_PATH
from palletizer_lib.stores.protocols import CatalogStore
from palletizer_lib.views import api_documents
from palletizer_services import command_line
from palletizer_services.api import read_endpoints
from palletizer_services.base_app import WebApp, create_app
from palletizer_services.bodies import BodyRoute, small_body
from palletizer_services.params import DEFAULT_PER_PAGE, MAX_PER_PAGE, query_int, query_text
from palletizer_services.read_access import GetNeedsRead
from palletizer_services.web import app as web

HOW_TO_GET_A_TOKEN = (
    "Palletizer: tokens are handed out by the registry's administrator, who runs\n"
    "    palletizer token create --user YOUR_NAME\n"
    "on the registry's server. Then paste the token into:\n"
    "    cargo login --registry NAME\n"
)


def publish_body_limit(registry: Registry) -> int:
    """The largest publish request body `registry` accepts."""
    return max_publish_body(registry.config.max_crate_size)


# The requests of the web API (and its pages) that carry a body; a publish's token is checked first.
BODIES = (
    BodyRoute("PUT", PUBLISH_PATH, publish_body_limit, scope="publish"),
    BodyRoute("PUT", "/api/v1/crates/[^/]+/owners", small_body),
    BodyRoute("DELETE", "/api/v1/crates/[^/]+/owners", small_body),
    *web.BODIES,
)


class PublishResource(GetNeedsRead):
    """`PUT /api/v1/crates/new`."""

    def __init__(self, access: Access, operations: Operations) -> None:
        self._access, self._operations = access, operations

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        registry = self._operations.registry
        actor = self._access.require(req.auth, req.remote_addr, "publish")
        length = req.content_length
        if length is None:
            raise LengthRequired("a publish request needs a Content-Length header")
        if length > publish_body_limit(registry):
            raise PayloadTooLarge(
                f"the upload is {length} bytes; this registry accepts crates up to "
                f"{registry.config.max_crate_size} bytes"
            )
        published = parse_publish_body(req.bounded_stream.read(length))
        self._operations.publish(actor, published.metadata, published.crate)
        resp.media = {"warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}}


class YankResource(GetNeedsRead):
    """`DELETE .../{name}/{version}/yank` and `PUT .../{name}/{version}/unyank`."""

    def __init__(self, access: Access, operations: Operations) -> None:
        self._access, self._operations = access, operations

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        self._set_yanked(req, resp, name, version, True)

    def on_put_unyank(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        self._set_yanked(req, resp, name, version, False)

    def _set_yanked(self, req: falcon.Request, resp: falcon.Response, name: str, version: str, yanked: bool) -> None:
        actor = self._access.require(req.auth, req.remote_addr, "yank")
        self._operations.set_yanked(actor, name, version, yanked)
        resp.media = {"ok": True}


class SearchResource(GetNeedsRead):
    """`GET /api/v1/crates?q=...&page=...&per_page=...` (at most `MAX_PER_PAGE`), paged as crates.io pages."""

    def __init__(self, registry: Registry, catalog: CatalogStore) -> None:
        self._registry = registry
        self._catalog = catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = query_text(req, "q")
        per_page = query_int(req, "per_page", DEFAULT_PER_PAGE, minimum=1, maximum=MAX_PER_PAGE)
        page = query_int(req, "page", 1, minimum=1)
        resp.media = api_documents.search_document(self._registry, self._catalog, query, page, per_page)


class OwnersResource(GetNeedsRead):
    """`/api/v1/crates/{name}/owners`: `cargo owner --list`, `--add`, `--remove`."""

    def __init__(self, access: Access, operations: Operations) -> None:
        self._access, self._operations = access, operations

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = api_documents.owner_users_document(self._operations.owners(name))

    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self._change(req, resp, name, add=True)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self._change(req, resp, name, add=False)

    def _change(self, req: falcon.Request, resp: falcon.Response, name: str, add: bool) -> None:
        users = parse_owners_body(req.bounded_stream.read())
        actor = self._access.require(req.auth, req.remote_addr, "owners")
        message = self._operations.change_owners(actor, name, users, add)
        resp.media = {"ok": True, "msg": message}


class MeResource:
    """`/me`: where `cargo login` sends people for a token."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = HOW_TO_GET_A_TOKEN


def add_routes(app: WebApp, site: Site) -> None:
    """Mount the web API under `/api/v1/`, `/me`, and the web pages (`/`, `/crates/...`)."""
    access, operations = site.access, site.operations
    app.add_route(PUBLISH_PATH, PublishResource(access, operations))
    app.add_route("/api/v1/crates", SearchResource(site.registry, site.catalog))
    yank = YankResource(access, operations)
    app.add_route("/api/v1/crates/{name}/{version}/yank", yank)
    app.add_route("/api/v1/crates/{name}/{version}/unyank", yank, suffix="unyank")
    app.add_route("/api/v1/crates/{name}/owners", OwnersResource(access, operations))
    read_endpoints.add_routes(app, site)
    app.add_route("/me", MeResource())
    web.add_routes(app, site)


def create(site: Site) -> WebApp:
    """The api service on its own."""
    app = create_app(site)
    add_routes(app, site)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-api`."""
    return command_line.main("palletizer-api", argv, create, max_body=publish_body_limit, bodies=BODIES)
