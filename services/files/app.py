"""Crate downloads at `config.json`'s `dl` template: `/files/{crate}/{crate}-{version}.crate`."""

import os
from collections.abc import Sequence
from functools import partial

import falcon

from palletizer_lib.core.composition import Site
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import NotFound
from palletizer_lib.domain.names import crate_file_name, version_of_file
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.shadowing import local_first
from palletizer_lib.stores.crates import StoredCrate
from palletizer_lib.stores.download_counter import DownloadCounter
from palletizer_services import command_line
from palletizer_services.base_app import WebApp, create_app
from palletizer_services.read_access import NeedsRead

CRATE_MEDIA_TYPE = "application/gzip"


class DownloadResource(NeedsRead):
    """Streams one .crate file, and counts the download."""

    def __init__(self, registry: Registry, downloads: DownloadCounter, mirror: Mirror | None = None) -> None:
        self._registry = registry
        self._downloads = downloads
        self._mirror = mirror

    def on_get(self, req: falcon.Request, resp: falcon.Response, crate: str, filename: str) -> None:
        version = _version(crate, filename)
        stored = self._open(crate, version)
        resp.content_type = CRATE_MEDIA_TYPE
        resp.set_stream(stored.stream, stored.size)
        self._downloads.count(crate, version)

    def on_head(self, req: falcon.Request, resp: falcon.Response, crate: str, filename: str) -> None:
        stored = self._open(crate, _version(crate, filename))
        stored.stream.close()
        resp.content_type = CRATE_MEDIA_TYPE
        resp.content_length = stored.size

    def _open(self, crate: str, version: str) -> StoredCrate:
        mirror = self._mirror
        return local_first(
            partial(self._registry.open_crate, crate, version),
            partial(_open_mirrored, mirror, crate, version) if mirror is not None else None,
        )


def _version(crate: str, filename: str) -> str:
    """The version a download's file name is of; NotFound if it is not a file of `crate`."""
    version = version_of_file(crate, filename)
    if version is None:
        raise NotFound(f"`{filename}` is not a file of crate `{crate}`")
    return version


def _open_mirrored(mirror: Mirror, crate: str, version: str) -> StoredCrate:
    """The mirror's file of an upstream crate version, opened for download."""
    try:
        stream = mirror.crate_file(crate, version).open("rb")
    except FileNotFoundError as exc:
        raise NotFound(f"`{crate_file_name(crate, version)}` does not exist") from exc
    return StoredCrate(stream, os.fstat(stream.fileno()).st_size)


def add_routes(app: WebApp, site: Site) -> None:
    """Mount crate downloads under `/files/`."""
    registry = site.registry
    mirror = (
        Mirror(registry.config, registry.layout, registry.is_local, background=True)
        if registry.config.upstream
        else None
    )
    app.add_route("/files/{crate}/{filename}", DownloadResource(registry, site.catalog.download_counter, mirror))


def create(site: Site) -> WebApp:
    """The files service on its own."""
    app = create_app(site, downloads=True)
    add_routes(app, site)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-files`."""
    return command_line.main("palletizer-files", argv, create)
