"""Read access as each resource declares it, in process: under `auth_required` the index, downloads, git,
search, metrics and crates.io's read endpoints need a `read` token; `/health`, `/me` and unrouted paths do not."""

from pathlib import Path

import falcon
import falcon.testing
import pytest

from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.urls import ServedUrls
from palletizer_lib.settings.config import RegistryConfig
from palletizer_services import all as all_services
from palletizer_services.base_app import create_app
from palletizer_services.read_access import READS, GetNeedsRead, NeedsRead
from tests.support.cratekit import make_crate
from tests.support.server import issue_token

CHALLENGE = 'Cargo login_url="http://api.test/me"'
GIT_CHALLENGE = 'Basic realm="palletizer registry (user: anything, password: a token)"'
NEED_READ = [
    ("GET", "/index/config.json"),
    ("HEAD", "/index/config.json"),
    ("GET", "/index/3/a/abc"),
    ("GET", "/index/ab/cd/abcd"),
    ("GET", "/files/abc/abc-1.0.0.crate"),
    ("HEAD", "/files/abc/abc-1.0.0.crate"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/crates"),
    ("HEAD", "/api/v1/crates"),
    ("GET", "/api/v1/crates/abc"),
    ("GET", "/api/v1/crates/abc/versions"),
    ("GET", "/api/v1/crates/abc/reverse_dependencies"),
    ("GET", "/api/v1/crates/abc/1.0.0"),
    ("GET", "/api/v1/crates/abc/1.0.0/download"),
    ("GET", "/api/v1/crates/abc/1.0.0/readme"),
    ("GET", "/api/v1/crates/abc/owners"),
    ("GET", "/api/v1/crates/new"),
    ("GET", "/api/v1/crates/abc/1.0.0/yank"),
]
NEED_READ_GIT = [
    ("GET", "/git/index/info/refs"),
    ("POST", "/git/index/git-upload-pack"),
    ("POST", "/git/index/git-receive-pack"),
]
OPEN = [("GET", "/health"), ("GET", "/me"), ("GET", "/login"), ("GET", "/index/a/b/c/d/e"), ("GET", "/nowhere")]


def client_over(data: Path, config: RegistryConfig) -> tuple[Registry, falcon.testing.TestClient]:
    registry = Registry.create(data, config)
    registry.set_urls(ServedUrls("http://index.test", "http://api.test", "http://files.test"))
    registry.add(make_crate("abc", "1.0.0"))
    return registry, falcon.testing.TestClient(all_services.create(compose(registry)))


@pytest.fixture
def private(tmp_path: Path) -> tuple[falcon.testing.TestClient, str]:
    registry, client = client_over(tmp_path / "data", RegistryConfig(auth_required=True))
    return client, issue_token(registry.layout.root, scopes=("read",))


@pytest.mark.parametrize(("method", "path"), NEED_READ)
def test_reads_without_a_token_get_cargos_challenge(private: tuple, method: str, path: str) -> None:
    client, token = private
    anonymous = client.simulate_request(method, path)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == CHALLENGE
    if method == "GET":
        assert "token" in anonymous.json["errors"][0]["detail"]
    assert client.simulate_request(method, path, headers={"Authorization": token}).status_code != 401


@pytest.mark.parametrize(("method", "path"), NEED_READ_GIT)
def test_git_without_a_token_gets_basics_challenge(private: tuple, method: str, path: str) -> None:
    client, token = private
    anonymous = client.simulate_request(method, path)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == GIT_CHALLENGE
    assert client.simulate_request(method, path, headers={"Authorization": token}).status_code != 401


@pytest.mark.parametrize(("method", "path"), OPEN)
def test_health_login_and_unrouted_paths_need_no_token(private: tuple, method: str, path: str) -> None:
    client, _ = private
    assert client.simulate_request(method, path).status_code in (200, 404)


def test_a_registry_without_auth_required_checks_no_read_token(tmp_path: Path) -> None:
    _, client = client_over(tmp_path / "data", RegistryConfig())
    for method, path in NEED_READ[:6]:
        assert client.simulate_request(method, path).status_code in (200, 404), path
    assert client.simulate_get("/index/ab/cd/abcd").json == {"errors": [{"detail": "no such crate in this registry"}]}


def test_a_write_checks_its_own_scope_not_read(private: tuple) -> None:
    client, token = private
    response = client.simulate_delete("/api/v1/crates/abc/1.0.0/yank", headers={"Authorization": token})
    assert response.status_code == 403
    assert "yank" in response.json["errors"][0]["detail"]


class _Declared(GetNeedsRead):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"ok": True}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"ok": True}


class _Everything(NeedsRead):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"ok": True}


def test_the_middleware_checks_exactly_the_methods_a_resource_declares(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig(auth_required=True))
    token = issue_token(registry.layout.root, scopes=("read",))
    app = create_app(compose(registry))
    app.add_route("/declared", _Declared())
    app.add_route("/everything", _Everything())
    client = falcon.testing.TestClient(app)
    assert {"GET", "HEAD"} == READS
    assert client.simulate_get("/declared").status_code == 401
    assert client.simulate_get("/declared", headers={"Authorization": token}).status_code == 200
    assert client.simulate_post("/declared").status_code == 200
    assert client.simulate_post("/everything").status_code == 401
    assert client.simulate_post("/everything", headers={"Authorization": token}).status_code == 200
    assert client.simulate_get("/elsewhere").status_code == 404


def test_the_login_url_is_the_one_fixed_at_start_up_not_read_back_from_git(private: tuple, tmp_path: Path) -> None:
    client, _ = private
    Registry(tmp_path / "data").set_urls(ServedUrls("http://moved.test", "http://moved.test", "http://moved.test"))
    assert client.simulate_get("/index/config.json").headers["WWW-Authenticate"] == CHALLENGE
