"""Cargo's web API: publish answers, yank/unyank, owners, tokens, methods and unknown routes."""

import falcon.testing
import pytest

from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from tests.support.cratekit import crate_for, dep, metadata, publish_body
from tests.support.http import assert_error
from tests.support.inprocess import InProcess
from tests.support.server import issue_token


def owner_logins(app: InProcess, name: str) -> list[str]:
    response = app.owners("GET", name)
    assert response.status_code == 200, response.text
    return [user["login"] for user in response.json["users"]]


# -- publish -------------------------------------------------------------------------------


def test_publish_answers_with_warnings(app: InProcess) -> None:
    name = app.unique("api-ok")
    response = app.put_body(publish_body(name, "0.1.0"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json
    assert "warnings" in document
    warnings = document["warnings"]
    for key in ("invalid_categories", "invalid_badges", "other"):
        assert warnings[key] == []


def test_published_entry_carries_the_metadata(app: InProcess) -> None:
    name = app.unique("api-entry")
    meta = metadata(
        name,
        "2.0.0",
        deps=[dep("serde", "^1.0", registry=CRATES_IO_INDEX, features=["derive"])],
        features={"default": ["fast"], "fast": []},
        links=None,
        rust_version="1.70",
    )
    body = encode_publish_body(meta, crate_for(meta))
    assert app.put_body(body).status_code == 200
    [entry] = app.index_lines(name)
    assert entry["name"] == name and entry["vers"] == "2.0.0" and entry["yanked"] is False
    assert entry["features"] == {"default": ["fast"], "fast": []}
    assert entry["rust_version"] == "1.70"
    [serde] = entry["deps"]
    assert serde["name"] == "serde" and serde["req"] == "^1.0" and serde["features"] == ["derive"]
    assert serde["registry"] == CRATES_IO_INDEX


def test_republishing_a_version_is_409(app: InProcess) -> None:
    name = app.unique("api-dup")
    original = app.publish(name, "1.0.0")
    before = app.snapshot()
    again = app.put_body(publish_body(name, "1.0.0", 'description = "changed bytes"\n', description="changed"))
    detail = assert_error(again, 409)
    assert "1.0.0" in detail
    assert app.snapshot() == before
    assert app.get(f"/files/{name}/{name}-1.0.0.crate").content == original


def test_republishing_with_build_metadata_is_409(app: InProcess) -> None:
    name = app.unique("api-build")
    app.publish(name, "1.0.0")
    before = app.snapshot()
    detail = assert_error(app.put_body(publish_body(name, "1.0.0+other")), 409)
    assert "1.0.0" in detail
    assert app.snapshot() == before


def test_another_spelling_of_an_existing_crate_is_409(app: InProcess) -> None:
    app.publish("Spelled_Once", "1.0.0")
    before = app.snapshot()
    detail = assert_error(app.put_body(publish_body("spelled-once", "1.1.0")), 409)
    assert "Spelled_Once" in detail
    assert app.snapshot() == before


def test_dependency_from_a_registry_not_allowed_is_403(app: InProcess) -> None:
    name = app.unique("api-foreign")
    before = app.snapshot()
    meta = metadata(name, "1.0.0", deps=[dep("foreign_dep", registry="https://elsewhere.example/index")])
    body = encode_publish_body(meta, crate_for(meta))
    detail = assert_error(app.put_body(body), 403)
    assert "foreign_dep" in detail
    assert app.snapshot() == before
    assert_error(app.get(f"/files/{name}/{name}-1.0.0.crate"), 404)


def test_renamed_dependency_from_a_registry_not_allowed_names_the_real_crate(app: InProcess) -> None:
    name = app.unique("api-renamed")
    before = app.snapshot()
    meta = metadata(
        name, "1.0.0", deps=[dep("real_pkg", registry="https://elsewhere.example/index", explicit_name_in_toml="alias")]
    )
    body = encode_publish_body(meta, crate_for(meta))
    detail = assert_error(app.put_body(body), 403)
    assert "real_pkg" in detail
    assert app.snapshot() == before


def test_crates_io_dependency_is_allowed_by_default(app: InProcess) -> None:
    name = app.unique("api-cratesio")
    app.publish(name, deps=[dep("serde", "^1", registry=CRATES_IO_INDEX)])


# -- yank / unyank ---------------------------------------------------------------------


def test_yank_and_unyank(app: InProcess) -> None:
    name = app.unique("api-yank")
    app.publish(name, "1.0.0")
    app.publish(name, "1.1.0")

    response = app.yank(name, "1.0.0")
    assert response.status_code == 200
    assert response.json == {"ok": True}
    assert [e["yanked"] for e in app.index_lines(name)] == [True, False]

    # Yanking twice is not an error.
    assert app.yank(name, "1.0.0").json == {"ok": True}
    assert [e["yanked"] for e in app.index_lines(name)] == [True, False]

    response = app.unyank(name, "1.0.0")
    assert response.status_code == 200
    assert response.json == {"ok": True}
    assert [e["yanked"] for e in app.index_lines(name)] == [False, False]
    assert app.unyank(name, "1.0.0").json == {"ok": True}


def test_yank_by_another_spelling(app: InProcess) -> None:
    app.publish("Yank_Me", "0.3.0")
    assert app.yank("yank-me", "0.3.0").json == {"ok": True}
    assert app.index_lines("Yank_Me")[0]["yanked"] is True
    assert app.unyank("YANK_ME", "0.3.0").json == {"ok": True}
    assert app.index_lines("Yank_Me")[0]["yanked"] is False


def test_yank_unknown_version_or_crate_is_404(app: InProcess) -> None:
    name = app.unique("api-yank404")
    app.publish(name, "1.0.0")
    before = app.snapshot()
    assert "1.0.1" in assert_error(app.yank(name, "1.0.1"), 404)
    assert_error(app.unyank(name, "2.0.0"), 404)
    assert_error(app.yank("no-such-crate", "1.0.0"), 404)
    assert_error(app.unyank("no-such-crate", "1.0.0"), 404)
    assert app.snapshot() == before


def test_yank_with_an_invalid_version_is_a_client_error(app: InProcess) -> None:
    name = app.unique("api-yankbad")
    app.publish(name, "1.0.0")
    before = app.snapshot()
    assert_error(app.yank(name, "not-a-version"))
    assert_error(app.unyank(name, "1.0"))
    assert app.snapshot() == before


def test_yank_wrong_method(app: InProcess) -> None:
    name = app.unique("api-yankmethod")
    app.publish(name, "1.0.0")
    assert_error(app.request("PUT", f"/api/v1/crates/{name}/1.0.0/yank", headers=app.auth()), 405)
    assert_error(app.request("DELETE", f"/api/v1/crates/{name}/1.0.0/unyank", headers=app.auth()), 405)
    assert app.index_lines(name)[0]["yanked"] is False


# -- owners ------------------------------------------------------------------------------


def test_owners_lists_the_first_publisher(app: InProcess) -> None:
    name = app.unique("api-owners")
    app.publish(name)
    response = app.owners("GET", name)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json
    assert set(document) == {"users"}
    [user] = document["users"]
    assert set(user) == {"id", "login", "kind", "name", "url", "avatar"}
    assert isinstance(user["id"], int)
    assert (user["login"], user["name"], user["kind"]) == ("tester", "tester", "user")


def test_owners_by_another_spelling(app: InProcess) -> None:
    app.publish("Owned_Crate")
    assert owner_logins(app, "owned-crate") == ["tester"]
    assert app.owners("PUT", "OWNED-CRATE", json={"users": ["spelling-friend"]}).status_code == 404
    issue_token(app.data, "spelling-friend", ("read",))
    assert app.owners("PUT", "OWNED-CRATE", json={"users": ["spelling-friend"]}).json["ok"] is True
    assert owner_logins(app, "Owned_Crate") == ["spelling-friend", "tester"]


def test_add_and_remove_owners(app: InProcess) -> None:
    name = app.unique("api-owners-change")
    app.publish(name)
    issue_token(app.data, "helper", ("read",))
    issue_token(app.data, "other-helper", ("read",))

    added = app.owners("PUT", name, json={"users": ["helper", "other-helper"]})
    assert added.status_code == 200, added.text
    document = added.json
    assert set(document) == {"ok", "msg"} and document["ok"] is True
    assert document["msg"] == (
        f"user helper has been added as an owner of crate {name},"
        f"user other-helper has been added as an owner of crate {name}"
    )
    assert owner_logins(app, name) == ["helper", "other-helper", "tester"]

    # Adding an owner again is not an error.
    assert app.owners("PUT", name, json={"users": ["helper"]}).json["ok"] is True
    assert owner_logins(app, name) == ["helper", "other-helper", "tester"]

    removed = app.owners("DELETE", name, json={"users": ["other-helper", "tester"]})
    assert removed.status_code == 200, removed.text
    document = removed.json
    assert set(document) == {"ok", "msg"} and document["ok"] is True
    assert document["msg"] == "owners successfully removed"
    assert owner_logins(app, name) == ["helper"]


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_an_owners_json_body_is_read_whatever_its_content_type(app: InProcess, content_type: str | None) -> None:
    name = app.unique("api-owners-type")
    app.publish(name)
    issue_token(app.data, "typed-helper", ("read",))
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"users": ["typed-helper"]}'
    added = app.owners("PUT", name, body=body, headers=headers)
    assert added.status_code == 200, added.text
    assert owner_logins(app, name) == ["tester", "typed-helper"]
    removed = app.owners("DELETE", name, body=body, headers=headers)
    assert removed.status_code == 200, removed.text
    assert owner_logins(app, name) == ["tester"]
    assert "expected a JSON body like" in assert_error(app.owners("PUT", name, body=b"users=x", headers=headers), 400)


def test_an_owner_who_is_not_admin_may_change_owners_and_others_may_not(app: InProcess) -> None:
    name = app.unique("api-owners-scoped")
    owner = issue_token(app.data, "plain-owner", ("publish", "owners"))
    outsider = issue_token(app.data, "outsider", ("publish", "yank", "owners"))
    assert app.put_body(publish_body(name, "1.0.0"), token=owner).status_code == 200
    assert owner_logins(app, name) == ["plain-owner"]
    before = app.snapshot()

    assert "outsider" in assert_error(app.owners("PUT", name, token=outsider, json={"users": ["outsider"]}), 403)
    assert_error(app.put_body(publish_body(name, "1.1.0"), token=outsider), 403)
    assert_error(app.yank(name, "1.0.0", token=outsider), 403)
    assert app.snapshot() == before
    assert owner_logins(app, name) == ["plain-owner"]

    assert app.owners("PUT", name, token=owner, json={"users": ["outsider"]}).json["ok"] is True
    assert app.put_body(publish_body(name, "1.1.0"), token=outsider).status_code == 200
    assert owner_logins(app, name) == ["outsider", "plain-owner"]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize(
    "body",
    [
        {"json": {}},
        {"json": {"logins": ["tester"]}},
        {"json": {"users": []}},
        {"json": {"users": "tester"}},
        {"json": {"users": [1]}},
        {"json": ["tester"]},
        {"body": b""},
    ],
    ids=["empty-object", "other-key", "no-users", "not-a-list", "not-names", "a-list", "no-body"],
)
def test_owners_change_without_users_is_400_json(app: InProcess, method: str, body: dict) -> None:
    name = app.unique("api-owners-bad")
    app.publish(name)
    detail = assert_error(app.owners(method, name, **body), 400)
    assert "users" in detail
    assert owner_logins(app, name) == ["tester"]


def test_owners_change_with_malformed_json_is_400_json(app: InProcess) -> None:
    name = app.unique("api-owners-json")
    app.publish(name)
    response = app.owners("PUT", name, body=b'{"users": [', headers={"Content-Type": "application/json"})
    assert_error(response, 400)
    assert owner_logins(app, name) == ["tester"]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_owners_change_naming_an_unknown_user_is_404_and_changes_nothing(app: InProcess, method: str) -> None:
    name = app.unique("api-owners-ghost")
    app.publish(name)
    issue_token(app.data, "known-user", ("read",))
    detail = assert_error(app.owners(method, name, json={"users": ["known-user", "nobody-at-all"]}), 404)
    assert "nobody-at-all" in detail
    assert owner_logins(app, name) == ["tester"]


def test_removing_someone_who_is_not_an_owner_is_404(app: InProcess) -> None:
    name = app.unique("api-owners-notone")
    app.publish(name)
    issue_token(app.data, "bystander", ("read",))
    assert "bystander" in assert_error(app.owners("DELETE", name, json={"users": ["bystander"]}), 404)
    assert owner_logins(app, name) == ["tester"]


def test_removing_the_last_owner_is_409(app: InProcess) -> None:
    name = app.unique("api-owners-last")
    app.publish(name)
    detail = assert_error(app.owners("DELETE", name, json={"users": ["tester"]}), 409)
    assert name in detail
    assert owner_logins(app, name) == ["tester"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_owners_of_an_unknown_crate_is_404(app: InProcess, method: str) -> None:
    kwargs = {"json": {"users": ["tester"]}} if method != "GET" else {}
    assert "whatever" in assert_error(app.owners(method, "whatever", **kwargs), 404)


# -- tokens ------------------------------------------------------------------------------


def assert_needs_a_token(app: InProcess, response: falcon.testing.Result) -> None:
    """401 in Cargo's error JSON, telling cargo and its user where to get a token."""
    detail = assert_error(response, 401)
    assert "cargo login" in detail
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Cargo login_url="), challenge
    assert challenge == f'Cargo login_url="{app.url}/me"'


def test_publish_without_a_token_is_401(app: InProcess) -> None:
    name = app.unique("api-anonymous")
    before = app.snapshot()
    assert_needs_a_token(app, app.put_body(publish_body(name, "1.0.0"), token=None))
    assert app.snapshot() == before
    assert_error(app.get(f"/files/{name}/{name}-1.0.0.crate"), 404)


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer  "])
def test_publish_with_an_empty_authorization_is_401(app: InProcess, header: str) -> None:
    before = app.snapshot()
    assert_needs_a_token(app, app.put_body(publish_body(app.unique("api-empty"), "1.0.0"), token=header))
    assert app.snapshot() == before


def test_yank_and_unyank_without_a_token_are_401(app: InProcess) -> None:
    name = app.unique("api-anon-yank")
    app.publish(name, "1.0.0")
    app.publish(name, "1.1.0")
    assert app.yank(name, "1.1.0").json == {"ok": True}
    before = app.snapshot()
    assert_needs_a_token(app, app.yank(name, "1.0.0", token=None))
    assert_needs_a_token(app, app.unyank(name, "1.1.0", token=None))
    assert app.snapshot() == before
    assert [e["yanked"] for e in app.index_lines(name)] == [False, True]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_owner_changes_without_a_token_are_401(app: InProcess, method: str) -> None:
    name = app.unique("api-anon-owners")
    app.publish(name)
    issue_token(app.data, "would-be-owner", ("read",))
    assert_needs_a_token(app, app.owners(method, name, token=None, json={"users": ["would-be-owner"]}))
    assert owner_logins(app, name) == ["tester"]


def test_owners_are_readable_without_a_token_where_reads_are_open(app: InProcess) -> None:
    name = app.unique("api-open-owners")
    app.publish(name)
    listed = app.owners("GET", name, token=None)
    assert listed.status_code == 200 and [u["login"] for u in listed.json["users"]] == ["tester"]


def test_a_bad_token_is_401(app: InProcess) -> None:
    # Only a few: the server refuses an address after 10 bad tokens within a minute.
    name = app.unique("api-badtoken")
    app.publish(name, "1.0.0")
    before = app.snapshot()
    wrong = "pltz_" + "x" * 43
    detail = assert_error(app.put_body(publish_body(name, "1.1.0"), token=wrong), 401)
    assert "cargo login" in detail
    assert (
        app.put_body(publish_body(name, "1.1.0"), token=wrong)
        .headers["WWW-Authenticate"]
        .startswith("Cargo login_url=")
    )
    assert_error(app.yank(name, "1.0.0", token=app.token + "x"), 401)
    assert app.snapshot() == before


def test_a_token_as_bearer_is_accepted(app: InProcess) -> None:
    name = app.unique("api-bearer")
    assert app.put_body(publish_body(name, "1.0.0"), token=f"Bearer {app.token}").status_code == 200
    assert app.yank(name, "1.0.0", token=f"Bearer {app.token}").json == {"ok": True}


def test_reads_need_no_token(app: InProcess) -> None:
    name = app.unique("api-reads")
    crate = app.publish(name)
    assert app.get("/index/config.json").status_code == 200
    assert app.get(f"/files/{name}/{name}-1.0.0.crate").content == crate
    assert app.get("/api/v1/crates", params={"q": name}).status_code == 200


def test_me_explains_how_to_get_a_token(app: InProcess) -> None:
    response = app.get("/me")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "token" in response.text
    assert "palletizer token create" in response.text
    assert "cargo login" in response.text


@pytest.mark.parametrize("method", ["PATCH", "GET", "POST", "DELETE"])
def test_wrong_method_on_publish_is_405(app: InProcess, method: str) -> None:
    before = app.snapshot()
    response = app.request(method, "/api/v1/crates/new", body=b"x", headers=app.auth())
    assert_error(response, 405)
    assert "PUT" in response.headers.get("Allow", "")
    assert app.snapshot() == before


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/v1/nope",
        "/api/v2/crates/new",
        "/api/v1/crates/x/1.0.0/download",
        "/api/v1/crates/x/1.0.0/yank/extra",
        "/index/config.yaml",
        "/index",
        "/files/x",
        "/crates/x/1.0.0/extra",
    ],
)
def test_unknown_route_is_404_json(app: InProcess, path: str) -> None:
    assert_error(app.get(path), 404)
