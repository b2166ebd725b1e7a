"""The web pages of a registry with `auth_required`: a login form, a cookie, and nothing shown without them."""

from urllib.parse import quote, urlencode

import falcon.testing
import pytest

from palletizer_lib.disk.layout import Layout
from palletizer_lib.stores.accounts import Accounts
from tests.support.http import assert_error
from tests.support.inprocess import InProcess
from tests.support.server import issue_token
from tests.support.showcase import CORE, FORKLIFT, publish_showcase

COOKIE = "palletizer_token"


@pytest.fixture(scope="module")
def site(private_app: InProcess) -> InProcess:
    publish_showcase(private_app)
    return private_app


def login(app: InProcess, token: str, next_page: str = "/", **headers: str) -> tuple[InProcess, falcon.testing.Result]:
    """POST the login form in a fresh session; return it and the (unfollowed) answer."""
    session = app.session()
    response = session.request(
        "POST",
        "/login",
        body=urlencode({"token": token, "next": next_page}),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    return session, response


@pytest.mark.parametrize("path", ["/", f"/crates/{CORE}", f"/crates/{CORE}/0.1.0", "/?q=pallet"])
def test_without_a_token_every_page_sends_to_the_login_form(site: InProcess, path: str) -> None:
    response = site.session().get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={quote(path, safe='/')}"
    assert CORE not in response.text and FORKLIFT not in response.text


def test_the_login_form_keeps_where_to_go_next(site: InProcess) -> None:
    response = site.session().get("/login", params={"next": "/?q=pallet"})
    assert response.status_code == 200
    assert 'type="password"' in response.text and 'action="/login"' in response.text
    assert '<input type="hidden" name="next" value="/?q=pallet">' in response.text
    assert CORE not in response.text


def test_a_wrong_token_is_refused(site: InProcess) -> None:
    _, response = login(site, "pltz_not-a-token")
    assert response.status_code == 401
    assert "That token is not valid" in response.text
    assert "set-cookie" not in response.headers


def test_a_token_without_the_read_scope_is_refused(site: InProcess) -> None:
    _, response = login(site, issue_token(site.data, "publisher", ("publish",)))
    assert response.status_code == 403
    assert "lacks the `read` scope" in response.text
    assert "set-cookie" not in response.headers


def test_login_sets_an_httponly_cookie_that_opens_the_pages(site: InProcess) -> None:
    pasted = f" {issue_token(site.data, 'reader', ('read',))}\n"
    session, response = login(site, pasted, f"/crates/{CORE}")
    assert response.status_code == 303 and response.headers["location"] == f"/crates/{CORE}"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=pltz_")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; over https the cookie is Secure
    listing = session.get("/")
    assert listing.status_code == 200 and f'href="/crates/{FORKLIFT}"' in listing.text
    assert 'action="/logout"' in listing.text
    crate = session.get(f"/crates/{CORE}")
    assert crate.status_code == 200 and "<h1>pallet-core</h1>" in crate.text
    assert "credential-provider = [&#34;cargo:token&#34;]" in crate.text


def test_the_cookie_does_not_stand_in_for_cargos_token(site: InProcess) -> None:
    session, _ = login(site, issue_token(site.data, "reader", ("read",)))
    for path in ("/index/config.json", f"/files/{CORE}/{CORE}-0.3.0.crate", "/api/v1/crates?q=pallet"):
        assert_error(session.get(path), 401)


def test_the_token_in_authorization_opens_the_pages_too(site: InProcess) -> None:
    response = site.session().get(f"/crates/{CORE}", headers={"Authorization": site.token})
    assert response.status_code == 200 and "<h1>pallet-core</h1>" in response.text


def test_logout_forgets_the_cookie(site: InProcess) -> None:
    session, _ = login(site, issue_token(site.data, "reader", ("read",)))
    response = session.request("POST", "/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert COOKIE not in session.cookies
    assert session.get("/").status_code == 303


def test_a_revoked_token_sends_back_to_the_login_form(site: InProcess) -> None:
    session, _ = login(site, issue_token(site.data, "leaver", ("read",)))
    assert session.get("/").status_code == 200
    accounts = Accounts(Layout(site.data).accounts)
    accounts.revoke_token(accounts.tokens("leaver")[0].id)
    response = session.get("/")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert response.headers["set-cookie"].startswith(f'{COOKIE}=""; expires=')
    assert COOKIE not in session.cookies


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "crates"])
def test_login_never_sends_to_another_site(site: InProcess, target: str) -> None:
    _, response = login(site, issue_token(site.data, "reader", ("read",)), target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_login_posted_from_another_site_is_refused(site: InProcess) -> None:
    _, response = login(site, issue_token(site.data, "reader", ("read",)), Origin="http://evil.example")
    assert response.status_code == 403 and "set-cookie" not in response.headers
    _, same = login(site, issue_token(site.data, "reader", ("read",)), Origin=site.url)
    assert same.status_code == 303


def test_the_stylesheet_and_health_need_no_token(site: InProcess) -> None:
    assert site.session().get("/static/style.css").status_code == 200
    assert site.session().get("/health").status_code == 200
