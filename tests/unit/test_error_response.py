"""The one error renderer: Cargo's error JSON with its headers, for library errors and Falcon's own, in process."""

from pathlib import Path

import falcon.testing

from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import NotFound, TooManyRequests, Unauthorized
from palletizer_lib.domain.urls import ServedUrls
from palletizer_lib.settings.config import RegistryConfig
from palletizer_services import all as all_services
from palletizer_services.error_response import GIT_CHALLENGE, render, render_error

URLS = ServedUrls("http://index.test", "http://api.test/", "http://files.test")


def test_an_error_is_cargos_json_with_its_status() -> None:
    answer = render_error(NotFound("no such crate"), "/index/3/a/abc", URLS)
    assert (answer.status, answer.status_line) == (404, "404 Not Found")
    assert answer.headers == [("Content-Type", "application/json")]
    assert answer.body == b'{"errors": [{"detail": "no such crate"}]}'


def test_a_401_sends_cargo_to_the_served_apis_me_and_git_to_basic() -> None:
    assert ("WWW-Authenticate", 'Cargo login_url="http://api.test/me"') in render_error(
        Unauthorized("a token"), "/api/v1/crates/new", URLS
    ).headers
    assert ("WWW-Authenticate", GIT_CHALLENGE) in render_error(
        Unauthorized("a token"), "/git/index/info/refs", URLS
    ).headers
    assert ("WWW-Authenticate", 'Cargo login_url="http://came.test/me"') in render_error(
        Unauthorized("a token"), "/index/config.json", None, "http://came.test/"
    ).headers


def test_a_429_says_how_long_to_wait() -> None:
    answer = render_error(TooManyRequests("slow down", 7), "/api/v1/crates/new", URLS)
    assert answer.status_line == "429 Too Many Requests"
    assert ("Retry-After", "7") in answer.headers


def test_falcons_own_errors_are_rendered_the_same(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig(public_url="http://registry.test"))
    client = falcon.testing.TestClient(all_services.create(compose(registry)))
    unrouted = client.simulate_get("/nowhere")
    assert unrouted.status_code == 404
    assert unrouted.headers["Content-Type"] == "application/json"
    assert unrouted.content == render(404, "404 Not Found").body
    not_allowed = client.simulate_patch("/health")
    assert not_allowed.status_code == 405
    assert "GET" in not_allowed.headers["Allow"]
    assert set(not_allowed.json) == {"errors"}
    library = client.simulate_get("/api/v1/crates/missing")
    assert library.status_code == 404
    assert library.content == render(404, library.json["errors"][0]["detail"]).body
