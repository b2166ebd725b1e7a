"""crates.io's read endpoints under `/api/v1/crates/NAME`: routing and HTTP only (`palletizer_lib.views.api_documents`
builds the documents)."""

import falcon

from palletizer_lib.core.composition import Site
from palletizer_lib.domain.errors import NotFound
from palletizer_lib.mirror.upstream import download_url
from palletizer_lib.views import api_documents
from palletizer_services.base_app import WebApp
from palletizer_services.html_headers import SECURITY_HEADERS
from palletizer_services.params import DEFAULT_PER_PAGE, MAX_PER_PAGE, query_int
from palletizer_services.read_access import GetNeedsRead

PREFIX = "/api/v1/crates/{name}"


class CrateResource(GetNeedsRead):
    """`GET /api/v1/crates/NAME`."""

    def __init__(self, site: Site) -> None:
        self._registry, self._catalog = site.registry, site.catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = api_documents.crate_document(self._registry, self._catalog, name)


class VersionsResource(GetNeedsRead):
    """`GET /api/v1/crates/NAME/versions`."""

    def __init__(self, site: Site) -> None:
        self._registry, self._catalog = site.registry, site.catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = api_documents.versions_document(self._registry, self._catalog, name)


class DownloadsResource(GetNeedsRead):
    """`GET /api/v1/crates/NAME/downloads`."""

    def __init__(self, site: Site) -> None:
        self._registry, self._catalog = site.registry, site.catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = api_documents.downloads_document(self._registry, self._catalog, name)


class OwnerUserResource(GetNeedsRead):
    """`GET /api/v1/crates/NAME/owner_user` (as `/owners`) and `/owner_team` (no teams here)."""

    def __init__(self, site: Site) -> None:
        self._operations = site.operations

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = api_documents.owner_users_document(self._operations.owners(name))

    def on_get_team(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self._operations.owners(name)
        resp.media = {"teams": []}


class ReverseDependenciesResource(GetNeedsRead):
    """`GET /api/v1/crates/NAME/reverse_dependencies?page=...&per_page=...`, paged as crates.io pages it."""

    def __init__(self, site: Site) -> None:
        self._registry, self._catalog = site.registry, site.catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        per_page = query_int(req, "per_page", DEFAULT_PER_PAGE, minimum=1, maximum=MAX_PER_PAGE)
        page = query_int(req, "page", 1, minimum=1)
        resp.media = api_documents.reverse_dependencies_document(self._registry, self._catalog, name, page, per_page)


class VersionResource(GetNeedsRead):
    """`GET /api/v1/crates/NAME/VERSION` and its `/dependencies`, `/download` (a redirect to the file, which
    counts the download where it is served), `/readme` (the rendered README), `/downloads` and `/authors`."""

    def __init__(self, site: Site) -> None:
        self._registry, self._catalog = site.registry, site.catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        resp.media = api_documents.version_document(self._registry, self._catalog, name, version)

    def on_get_dependencies(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        resp.media = api_documents.dependencies_document(self._registry, self._catalog, name, version)

    def on_get_downloads(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        resp.media = api_documents.version_downloads_document(self._registry, self._catalog, name, version)

    def on_get_authors(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        resp.media = api_documents.authors_document(self._registry, self._catalog, name, version)

    def on_get_download(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        document = api_documents.version_document(self._registry, self._catalog, name, version)
        urls = self._registry.served_urls()
        if urls is None:
            raise NotFound("this registry serves no downloads yet (its config.json names no `dl`)")
        found = document["version"]
        resp.status = falcon.HTTP_302
        resp.location = download_url(urls.dl, found["crate"], found["num"], found["checksum"])

    def on_get_readme(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        found = api_documents.version_document(self._registry, self._catalog, name, version)["version"]
        html = self._catalog.readme_html(found["crate"], found["num"])
        if not html:
            raise NotFound(f"crate `{found['crate']}` version {found['num']} has no README")
        resp.content_type = falcon.MEDIA_HTML
        resp.set_headers(SECURITY_HEADERS)
        resp.text = html


def add_routes(app: WebApp, site: Site) -> None:
    """Mount the read endpoints beside the web API's."""
    app.add_route(PREFIX, CrateResource(site))
    app.add_route(f"{PREFIX}/versions", VersionsResource(site))
    app.add_route(f"{PREFIX}/reverse_dependencies", ReverseDependenciesResource(site))
    app.add_route(f"{PREFIX}/downloads", DownloadsResource(site))
    owners = OwnerUserResource(site)
    app.add_route(f"{PREFIX}/owner_user", owners)
    app.add_route(f"{PREFIX}/owner_team", owners, suffix="team")
    version = VersionResource(site)
    app.add_route(f"{PREFIX}/{{version}}", version)
    for suffix in ("dependencies", "download", "readme", "downloads", "authors"):
        app.add_route(f"{PREFIX}/{{version}}/{suffix}", version, suffix=suffix)
