"""Sparse index: `config.json` and one file per crate, with ETag / Last-Modified validation, from an in-memory
cache that every index commit invalidates (`palletizer_lib.index.cache`)."""

from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import partial

import falcon

from palletizer_lib.core.composition import Site
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import NotFound
from palletizer_lib.domain.names import index_path, is_valid_name
from palletizer_lib.index.cache import CachedFile, IndexCache
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.shadowing import local_first
from palletizer_lib.stores.served_index import CONFIG_JSON
from palletizer_services import command_line
from palletizer_services.base_app import WebApp, create_app
from palletizer_services.index import git
from palletizer_services.read_access import NeedsRead


def _send(req: falcon.Request, resp: falcon.Response, file: CachedFile | None, content_type: str) -> None:
    if file is None:
        raise NotFound("no such crate in this registry")
    resp.etag = file.etag
    resp.last_modified = file.last_modified
    if _not_modified(req, file.etag, file.last_modified):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = content_type
    resp.data = file.data


def _not_modified(req: falcon.Request, etag: str, modified: datetime) -> bool:
    if req.if_none_match is not None:
        return any(tag == "*" or tag == etag for tag in req.if_none_match)
    since = req.get_header("If-Modified-Since")
    if since:
        try:
            return modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


class ConfigResource(NeedsRead):
    """`/index/config.json`."""

    def __init__(self, registry: Registry, cache: IndexCache) -> None:
        self._load = partial(registry.stores.served.read, CONFIG_JSON)
        self._cache = cache

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _send(req, resp, self._cache.get(CONFIG_JSON, self._load), falcon.MEDIA_JSON)

    on_head = on_get


class IndexFileResource(NeedsRead):
    """`/index/1/a`, `/index/2/ab`, `/index/3/a/abc`, `/index/ab/cd/abcd...`."""

    def __init__(self, registry: Registry, cache: IndexCache, mirror: Mirror | None = None) -> None:
        self._registry = registry
        self._cache = cache
        self._mirror = mirror

    def on_get(self, req: falcon.Request, resp: falcon.Response, **parts: str) -> None:
        path = "/".join(parts.values())
        name = path.rsplit("/", 1)[-1]
        if not is_valid_name(name) or index_path(name) != path.lower():
            raise NotFound(f"`{path}` is not an index path")
        file = local_first(
            partial(self._cache.get, path, partial(self._registry.served_index_file, name)),
            partial(self._mirror.index_file, name) if self._mirror is not None else None,
        )
        _send(req, resp, file, "text/plain; charset=utf-8")

    on_head = on_get


def add_routes(app: WebApp, site: Site) -> None:
    """Mount the sparse index under `/index/` and the git index at `/git/index`."""
    registry = site.registry
    cache = IndexCache(registry.stores.served)
    app.add_route("/index/config.json", ConfigResource(registry, cache))
    mirror = (
        Mirror(registry.config, registry.layout, registry.is_local, background=True)
        if registry.config.upstream
        else None
    )
    files = IndexFileResource(registry, cache, mirror)
    app.add_route("/index/{a}/{b}", files)
    app.add_route("/index/{a}/{b}/{c}", files)
    git.add_routes(app, registry)


def create(site: Site) -> WebApp:
    """The index service on its own."""
    app = create_app(site, index_size=True)
    add_routes(app, site)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-index`."""
    return command_line.main("palletizer-index", argv, create, writes_config=True, bodies=git.BODIES)
