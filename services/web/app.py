"""The web pages at `/`: the crate list with search, a page per crate, and (under `auth_required`) a login.

Served by the api service (and so by palletizer-all). The pages are server-rendered Jinja2 templates over
`palletizer_lib.views.browse`; no script runs in them, and a Content-Security-Policy forbids any. Under
`auth_required` every page needs a `read` token, sent by the browser as an HttpOnly cookie that
`POST /login` sets (or in `Authorization`, as cargo sends it).
"""

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import quote, urlsplit

import falcon

from palletizer_lib.core.access import token_from_header
from palletizer_lib.core.composition import Site
from palletizer_lib.domain.errors import Forbidden, PalletizerError, Unauthorized
from palletizer_lib.views import browse
from palletizer_services.base_app import WebApp
from palletizer_services.bodies import BodyRoute, small_body
from palletizer_services.html_headers import SECURITY_HEADERS
from palletizer_services.params import query_int, query_text

if TYPE_CHECKING:
    import jinja2

HERE = Path(__file__).parent
COOKIE = "palletizer_token"
STYLE_PATH = "/static/style.css"
MAX_NEXT = 2048
# The login and logout forms are the pages' only request bodies.
BODIES = (BodyRoute("POST", "/login", small_body), BodyRoute("POST", "/logout", small_body))
HTML = "text/html; charset=utf-8"
PageBuilder = Callable[[falcon.Request, falcon.Response], None]
INVALID_TOKEN = "That token is not valid (unknown, revoked or expired)."


class _LoginNeeded(Exception):
    """The page needs a `read` token and the request has no valid one."""


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _count(value: int) -> str:
    return f"{value:,}"


class Pages:
    """Renders templates, with the headers and the login check every page shares."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.access = site.access
        self.style = (HERE / "static" / "style.css").read_bytes()

    @cached_property
    def env(self) -> "jinja2.Environment":
        """The templates, loaded (with jinja2 itself) when the first page is rendered, not at start."""
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(date=_date, day=_day, count=_count)
        env.globals.update(style_url=f"{STYLE_PATH}?v={hashlib.sha256(self.style).hexdigest()[:12]}")
        return env

    @property
    def auth_required(self) -> bool:
        return self.access.registry.config.auth_required

    def check_reader(self, req: falcon.Request) -> None:
        """Under `auth_required`, the request's cookie (or Authorization header) must carry a `read` token."""
        if not self.auth_required:
            return
        token = req.auth or req.cookies.get(COOKIE)
        if not token:
            raise _LoginNeeded()
        try:
            self.access.require(token, req.remote_addr, "read")
        except (Unauthorized, Forbidden) as exc:
            raise _LoginNeeded() from exc

    def render(
        self, req: falcon.Request, resp: falcon.Response, template: str, status: int = 200, **context: object
    ) -> None:
        """`template` with `context` as the response."""
        resp.status = status
        resp.content_type = HTML
        resp.cache_control = ["private", "no-cache"]
        resp.set_headers(SECURITY_HEADERS)
        defaults = {"logged_in": self.auth_required and bool(req.cookies.get(COOKIE)), "query": ""}
        resp.text = self.env.get_template(template).render({**defaults, **context})

    def error(self, req: falcon.Request, resp: falcon.Response, error: PalletizerError) -> None:
        """A library error as an HTML page with its status."""
        self.render(
            req,
            resp,
            "error.html",
            status=error.status,
            title=falcon.code_to_http_status(error.status)[4:],
            detail=error.detail,
        )

    def serve(self, req: falcon.Request, resp: falcon.Response, page: PageBuilder) -> None:
        """Run `page(req, resp)` after the login check; errors become HTML pages, a missing login a
        redirect to the login form (dropping a cookie that no longer works)."""
        try:
            self.check_reader(req)
            page(req, resp)
        except _LoginNeeded:
            if req.cookies.get(COOKIE):
                _clear_cookie(resp)
            redirect(resp, f"/login?next={quote(req.relative_uri, safe='/')}")
        except PalletizerError as error:
            self.error(req, resp, error)


class ListFilters(TypedDict):
    """How the crate list is narrowed and ordered (`browse.crate_list`'s keyword arguments)."""

    keyword: str
    category: str
    sort: str


class CrateListResource:
    """`GET /?q=...&keyword=...&category=...&sort=...&page=N`: every crate, or those matching `q` (with that
    keyword, in that category), most recently published first, or by `sort` (`name`, `downloads`)."""

    def __init__(self, pages: Pages) -> None:
        self._pages = pages

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query, page = query_text(req, "q"), query_int(req, "page", 1, minimum=1)
        tags = ListFilters(
            keyword=query_text(req, "keyword"),
            category=query_text(req, "category"),
            sort=query_text(req, "sort", default="recent"),
        )
        self._pages.serve(req, resp, lambda req, resp: self._page(req, resp, query, page, tags))

    def _page(self, req: falcon.Request, resp: falcon.Response, query: str, page: int, tags: ListFilters) -> None:
        site = self._pages.site
        listing = browse.crate_list(site.registry, site.catalog, query, page, **tags)
        self._pages.render(
            req,
            resp,
            "list.html",
            listing=listing,
            query=listing.query,
            cargo_config=browse.cargo_config(site.registry, req.prefix),
        )


class CrateResource:
    """`GET /crates/{name}` and `/crates/{name}/{version}`: a crate's page (any spelling of its name)."""

    def __init__(self, pages: Pages) -> None:
        self._pages = pages

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self._pages.serve(req, resp, lambda req, resp: self._page(req, resp, name, None))

    def on_get_version(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        self._pages.serve(req, resp, lambda req, resp: self._page(req, resp, name, version))

    def _page(self, req: falcon.Request, resp: falcon.Response, name: str, version: str | None) -> None:
        site = self._pages.site
        versions_page = query_int(req, "versions", 1, minimum=1)
        page = browse.crate_page(site.registry, site.catalog, site.accounts, name, version, req.prefix, versions_page)
        self._pages.render(req, resp, "crate.html", crate=page)


class LoginResource:
    """`GET /login`: the form asking for a token; `POST /login`: check it, set the cookie, go on to `next`."""

    def __init__(self, pages: Pages) -> None:
        self._pages = pages

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self._pages.auth_required:
            redirect(resp, "/")
            return
        target = _local(query_text(req, "next", default="/", max_length=MAX_NEXT))
        self._pages.render(req, resp, "login.html", next=target, message=None)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = _form(req)
        target = _local(form.get("next"))
        if not self._pages.auth_required:
            redirect(resp, target)
            return
        token = token_from_header(form.get("token"))
        try:
            _check_origin(req)
            self._pages.access.require(token, req.remote_addr, "read")
        except PalletizerError as error:
            message = INVALID_TOKEN if isinstance(error, Unauthorized) else error.detail
            self._pages.render(req, resp, "login.html", status=error.status, next=target, message=message)
            return
        assert token is not None, "require() refuses a missing token"
        resp.set_cookie(COOKIE, token, path="/", http_only=True, same_site="Lax", secure=req.scheme == "https")
        redirect(resp, target)


class LogoutResource:
    """`POST /logout`: forget the cookie."""

    def __init__(self, pages: Pages) -> None:
        self._pages = pages

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            _check_origin(req)
        except PalletizerError as error:
            self._pages.error(req, resp, error)
            return
        _clear_cookie(resp)
        redirect(resp, "/login" if self._pages.auth_required else "/")


class StyleResource:
    """`GET /static/style.css`: the one stylesheet (its URL carries its hash, so it may be cached long)."""

    def __init__(self, pages: Pages) -> None:
        self._pages = pages

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/css; charset=utf-8"
        resp.cache_control = ["public", "max-age=86400"]
        resp.data = self._pages.style


def redirect(resp: falcon.Response, location: str) -> None:
    """`303 See Other` to `location`."""
    resp.status = falcon.HTTP_303
    resp.location = location


def _clear_cookie(resp: falcon.Response) -> None:
    resp.unset_cookie(COOKIE, path="/", same_site="Lax")


def _local(target: object) -> str:
    """`target` if it is a path on this server (never another site: `//host` or `\\host`), else `/`."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _form(req: falcon.Request) -> dict[str, str]:
    """The fields of a URL-encoded form (a repeated field keeps its first value); empty for any other body."""
    if req.content_type is None or not req.content_type.startswith(falcon.MEDIA_URLENCODED):
        return {}
    form = req.get_media(default_when_empty={})
    return {key: value[0] if isinstance(value, list) else value for key, value in form.items()}


def _check_origin(req: falcon.Request) -> None:
    """A form posted from another site (its `Origin` names another host) is refused."""
    origin = req.get_header("Origin")
    if origin is not None and urlsplit(origin).netloc != req.netloc:
        raise Forbidden("this form was sent from another site")


def add_routes(app: WebApp, site: Site) -> None:
    """Mount the web pages: `/`, `/crates/...`, `/login`, `/logout` and the stylesheet."""
    pages = Pages(site)
    app.add_route("/", CrateListResource(pages))
    crate = CrateResource(pages)
    app.add_route("/crates/{name}", crate)
    app.add_route("/crates/{name}/{version}", crate, suffix="version")
    app.add_route("/login", LoginResource(pages))
    app.add_route("/logout", LogoutResource(pages))
    app.add_route(STYLE_PATH, StyleResource(pages))
