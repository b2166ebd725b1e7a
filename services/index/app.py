"""Sparse index: `config.json` and one file per crate, with ETag / Last-Modified validation."""

import hashlib
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import falcon

from palletizer_lib.names import index_path, is_valid_name
from palletizer_lib.access import Access
from palletizer_lib.registry import CONFIG_JSON, Registry
from services import serve
from services.http import create_app
from services.index import git


def _send_file(req: falcon.Request, resp: falcon.Response, path: Path | None, content_type: str) -> None:
    try:
        if path is None:
            raise FileNotFoundError
        with path.open("rb") as file:
            data = file.read()
            mtime = os.fstat(file.fileno()).st_mtime
    except FileNotFoundError:
        raise falcon.HTTPNotFound(description="no such crate in this registry") from None
    etag = hashlib.blake2b(data, digest_size=16).hexdigest()
    modified = datetime.fromtimestamp(int(mtime), tz=timezone.utc)
    resp.etag = etag
    resp.last_modified = modified
    if _not_modified(req, etag, modified):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = content_type
    resp.data = data


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


class ConfigResource:
    """`/index/config.json`."""

    def __init__(self, registry: Registry) -> None:
        self._path = registry.layout.index / CONFIG_JSON

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _send_file(req, resp, self._path, falcon.MEDIA_JSON)

    on_head = on_get


class IndexFileResource:
    """`/index/1/a`, `/index/2/ab`, `/index/3/a/abc`, `/index/ab/cd/abcd...`."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response, **parts: str) -> None:
        path = "/".join(parts.values())
        name = path.rsplit("/", 1)[-1]
        if not is_valid_name(name) or index_path(name) != path.lower():
            raise falcon.HTTPNotFound(description=f"`{path}` is not an index path")
        _send_file(req, resp, self._registry.index_file(name), "text/plain; charset=utf-8")

    on_head = on_get


def add_routes(app: falcon.App, access: Access) -> None:
    """Mount the sparse index under `/index/` and the git index at `/git/index`."""
    app.add_route("/index/config.json", ConfigResource(access.registry))
    files = IndexFileResource(access.registry)
    app.add_route("/index/{a}/{b}", files)
    app.add_route("/index/{a}/{b}/{c}", files)
    git.add_routes(app, access.registry)


def create(access: Access) -> falcon.App:
    """The index service on its own."""
    app = create_app(access)
    add_routes(app, access)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-index`."""
    return serve.main("palletizer-index", argv, create, writes_config=True)
