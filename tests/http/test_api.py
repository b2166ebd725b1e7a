"""Cargo's web API: publish answers, yank/unyank, owners, methods and unknown routes."""

import pytest
import requests

from palletizer_lib.config import CRATES_IO_INDEX
from palletizer_lib.publish_body import encode_publish_body
from tests.cratekit import dep, make_crate, metadata, publish_body
from tests.http.support import Live, assert_error


def yank(live: Live, name: str, version: str) -> requests.Response:
    return requests.delete(f"{live.url}/api/v1/crates/{name}/{version}/yank", timeout=10)


def unyank(live: Live, name: str, version: str) -> requests.Response:
    return requests.put(f"{live.url}/api/v1/crates/{name}/{version}/unyank", timeout=10)


# -- publish -------------------------------------------------------------------------------

def test_publish_answers_with_warnings(live: Live) -> None:
    name = live.unique("api-ok")
    response = live.put_body(publish_body(name, "0.1.0"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert "warnings" in document
    warnings = document["warnings"]
    for key in ("invalid_categories", "invalid_badges", "other"):
        assert warnings[key] == []


def test_published_entry_carries_the_metadata(live: Live) -> None:
    name = live.unique("api-entry")
    body = encode_publish_body(
        metadata(name, "2.0.0", deps=[dep("serde", "^1.0", registry=CRATES_IO_INDEX, features=["derive"])],
                 features={"default": ["fast"], "fast": []}, links=None, rust_version="1.70"),
        make_crate(name, "2.0.0"),
    )
    assert live.put_body(body).status_code == 200
    [entry] = live.index_lines(name)
    assert entry["name"] == name and entry["vers"] == "2.0.0" and entry["yanked"] is False
    assert entry["features"] == {"default": ["fast"], "fast": []}
    assert entry["rust_version"] == "1.70"
    [serde] = entry["deps"]
    assert serde["name"] == "serde" and serde["req"] == "^1.0" and serde["features"] == ["derive"]
    assert serde["registry"] == CRATES_IO_INDEX


def test_republishing_a_version_is_409(live: Live) -> None:
    name = live.unique("api-dup")
    original = live.publish(name, "1.0.0")
    before = live.snapshot()
    again = live.put_body(publish_body(name, "1.0.0", description="changed"))
    detail = assert_error(again, 409)
    assert "1.0.0" in detail
    assert live.snapshot() == before
    assert live.get(f"/files/{name}/{name}-1.0.0.crate").content == original


def test_republishing_with_build_metadata_is_409(live: Live) -> None:
    name = live.unique("api-build")
    live.publish(name, "1.0.0")
    before = live.snapshot()
    detail = assert_error(live.put_body(publish_body(name, "1.0.0+other")), 409)
    assert "1.0.0" in detail
    assert live.snapshot() == before


def test_another_spelling_of_an_existing_crate_is_409(live: Live) -> None:
    live.publish("Spelled_Once", "1.0.0")
    before = live.snapshot()
    detail = assert_error(live.put_body(publish_body("spelled-once", "1.1.0")), 409)
    assert "Spelled_Once" in detail
    assert live.snapshot() == before


def test_dependency_from_a_registry_not_allowed_is_403(live: Live) -> None:
    name = live.unique("api-foreign")
    before = live.snapshot()
    body = encode_publish_body(
        metadata(name, "1.0.0", deps=[dep("foreign_dep", registry="https://elsewhere.example/index")]),
        make_crate(name, "1.0.0"),
    )
    detail = assert_error(live.put_body(body), 403)
    assert "foreign_dep" in detail
    assert live.snapshot() == before
    assert_error(live.get(f"/files/{name}/{name}-1.0.0.crate"), 404)


def test_renamed_dependency_from_a_registry_not_allowed_names_the_real_crate(live: Live) -> None:
    name = live.unique("api-renamed")
    before = live.snapshot()
    body = encode_publish_body(
        metadata(name, "1.0.0", deps=[dep("real_pkg", registry="https://elsewhere.example/index",
                                          explicit_name_in_toml="alias")]),
        make_crate(name, "1.0.0"),
    )
    detail = assert_error(live.put_body(body), 403)
    assert "real_pkg" in detail
    assert live.snapshot() == before


def test_crates_io_dependency_is_allowed_by_default(live: Live) -> None:
    name = live.unique("api-cratesio")
    live.publish(name, deps=[dep("serde", "^1", registry=CRATES_IO_INDEX)])


# -- yank / unyank ---------------------------------------------------------------------

def test_yank_and_unyank(live: Live) -> None:
    name = live.unique("api-yank")
    live.publish(name, "1.0.0")
    live.publish(name, "1.1.0")

    response = yank(live, name, "1.0.0")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert [e["yanked"] for e in live.index_lines(name)] == [True, False]

    # Yanking twice is not an error.
    assert yank(live, name, "1.0.0").json() == {"ok": True}
    assert [e["yanked"] for e in live.index_lines(name)] == [True, False]

    response = unyank(live, name, "1.0.0")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert [e["yanked"] for e in live.index_lines(name)] == [False, False]
    assert unyank(live, name, "1.0.0").json() == {"ok": True}


def test_yank_by_another_spelling(live: Live) -> None:
    live.publish("Yank_Me", "0.3.0")
    assert yank(live, "yank-me", "0.3.0").json() == {"ok": True}
    assert live.index_lines("Yank_Me")[0]["yanked"] is True
    assert unyank(live, "YANK_ME", "0.3.0").json() == {"ok": True}
    assert live.index_lines("Yank_Me")[0]["yanked"] is False


def test_yank_unknown_version_or_crate_is_404(live: Live) -> None:
    name = live.unique("api-yank404")
    live.publish(name, "1.0.0")
    before = live.snapshot()
    assert "1.0.1" in assert_error(yank(live, name, "1.0.1"), 404)
    assert_error(unyank(live, name, "2.0.0"), 404)
    assert_error(yank(live, "no-such-crate", "1.0.0"), 404)
    assert_error(unyank(live, "no-such-crate", "1.0.0"), 404)
    assert live.snapshot() == before


def test_yank_with_an_invalid_version_is_a_client_error(live: Live) -> None:
    name = live.unique("api-yankbad")
    live.publish(name, "1.0.0")
    before = live.snapshot()
    assert_error(yank(live, name, "not-a-version"))
    assert_error(unyank(live, name, "1.0"))
    assert live.snapshot() == before


def test_yank_wrong_method(live: Live) -> None:
    name = live.unique("api-yankmethod")
    live.publish(name, "1.0.0")
    assert_error(requests.put(f"{live.url}/api/v1/crates/{name}/1.0.0/yank", timeout=10), 405)
    assert_error(requests.delete(f"{live.url}/api/v1/crates/{name}/1.0.0/unyank", timeout=10), 405)
    assert live.index_lines(name)[0]["yanked"] is False


# -- what is not offered ---------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_owners_endpoints_answer_501(live: Live, method: str) -> None:
    name = live.unique("api-owners")
    live.publish(name)
    kwargs = {"json": {"users": ["someone"]}} if method != "GET" else {}
    response = requests.request(method, f"{live.url}/api/v1/crates/{name}/owners", timeout=10, **kwargs)
    detail = assert_error(response, 501)
    assert "owner" in detail


def test_owners_of_unknown_crate_also_answers_501(live: Live) -> None:
    assert_error(live.get("/api/v1/crates/whatever/owners"), 501)


def test_me_explains_tokens(live: Live) -> None:
    response = live.get("/me")
    assert response.status_code == 200
    assert "token" in response.text


@pytest.mark.parametrize("method", ["PATCH", "GET", "POST", "DELETE"])
def test_wrong_method_on_publish_is_405(live: Live, method: str) -> None:
    before = live.snapshot()
    response = requests.request(method, f"{live.url}/api/v1/crates/new", data=b"x", timeout=10)
    assert_error(response, 405)
    assert "PUT" in response.headers.get("Allow", "")
    assert live.snapshot() == before


@pytest.mark.parametrize("path", [
    "/nope",
    "/api/v1/nope",
    "/api/v2/crates/new",
    "/api/v1/crates/x/1.0.0/download",
    "/api/v1/crates/x/1.0.0/yank/extra",
    "/index/config.yaml",
    "/index",
    "/files/x",
    "/",
])
def test_unknown_route_is_404_json(live: Live, path: str) -> None:
    assert_error(live.get(path), 404)
