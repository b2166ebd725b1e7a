"""crates.io's read endpoints, in crates.io's shapes: `/api/v1/crates/NAME`, `/versions`, `/VERSION`,
`/VERSION/dependencies`, `/VERSION/download`, `/VERSION/readme`, `/reverse_dependencies`."""

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import falcon.testing
import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.layout import Layout
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.local import local_stores
from palletizer_lib.stores.served_index import LocalServedIndex, ServedFile
from tests.support.cratekit import dep
from tests.support.http import assert_error
from tests.support.inprocess import URL, InProcess, build_app
from tests.support.server import issue_token

# The keys of crates.io's documents (crates.io's `EncodableCrate`, `EncodableVersion`, `EncodableDependency`).
CRATE_KEYS = {
    "id",
    "name",
    "updated_at",
    "versions",
    "keywords",
    "categories",
    "badges",
    "created_at",
    "downloads",
    "recent_downloads",
    "default_version",
    "num_versions",
    "yanked",
    "max_version",
    "newest_version",
    "max_stable_version",
    "description",
    "homepage",
    "documentation",
    "repository",
    "links",
    "exact_match",
}
VERSION_KEYS = {
    "id",
    "crate",
    "num",
    "dl_path",
    "readme_path",
    "updated_at",
    "created_at",
    "downloads",
    "features",
    "yanked",
    "yank_message",
    "lib_links",
    "license",
    "links",
    "crate_size",
    "published_by",
    "audit_actions",
    "checksum",
    "rust_version",
    "has_lib",
    "bin_names",
    "edition",
    "description",
    "homepage",
    "documentation",
    "repository",
}
DEPENDENCY_KEYS = {
    "id",
    "version_id",
    "crate_id",
    "req",
    "optional",
    "default_features",
    "features",
    "target",
    "kind",
    "downloads",
}


@pytest.fixture(scope="module")
def crates(app: InProcess) -> dict[str, bytes]:
    files = {
        "base": app.publish(
            "api-base",
            "1.0.0",
            description="the base",
            license="MIT",
            keywords=["pallet"],
            categories=["no-std"],
            readme="# Base\n\nhello\n",
        )
    }
    app.publish("api-base", "1.1.0", description="the base", license="MIT", keywords=["pallet"])
    app.publish("api-base", "2.0.0-rc.1", description="the base")
    assert app.yank("api-base", "1.1.0").status_code == 200
    files["user"] = app.publish(
        "api-user",
        "0.3.0",
        description="uses base",
        deps=[dep("api-base", "^1.0"), dep("api-base", "^1", kind="dev", explicit_name_in_toml="base_for_tests")],
    )
    return files


def get(app: InProcess, path: str, **kwargs) -> falcon.testing.Result:
    return app.get(f"/api/v1/crates/{path}", **kwargs)


def test_the_crate(app: InProcess, crates: dict[str, bytes]) -> None:
    response = get(app, "API_BASE")
    assert response.status_code == 200, response.text
    document = response.json
    crate = document["crate"]
    assert set(crate) == CRATE_KEYS
    assert (crate["id"], crate["name"], crate["description"], crate["num_versions"]) == (
        "api-base",
        "api-base",
        "the base",
        3,
    )
    assert (crate["max_version"], crate["newest_version"], crate["max_stable_version"], crate["default_version"]) == (
        "1.0.0",
        "2.0.0-rc.1",
        "1.0.0",
        "1.0.0",
    )
    assert crate["yanked"] is False and crate["keywords"] == ["pallet"] and crate["categories"] == ["no-std"]
    assert crate["links"]["versions"] == "/api/v1/crates/api-base/versions"
    assert [v["num"] for v in document["versions"]] == ["2.0.0-rc.1", "1.1.0", "1.0.0"]
    assert crate["versions"] == [v["id"] for v in document["versions"]]
    assert document["keywords"][0]["keyword"] == "pallet" and document["categories"][0]["slug"] == "no-std"
    assert crate["created_at"] <= crate["updated_at"]


def test_versions_and_one_version(app: InProcess, crates: dict[str, bytes]) -> None:
    listed = get(app, "api-base/versions").json
    assert listed["meta"] == {"total": 3, "next_page": None}
    one = get(app, "api-base/1.0.0").json["version"]
    assert set(one) == VERSION_KEYS
    assert one == next(v for v in listed["versions"] if v["num"] == "1.0.0")
    assert (one["crate"], one["num"], one["license"], one["yanked"], one["crate_size"]) == (
        "api-base",
        "1.0.0",
        "MIT",
        False,
        len(crates["base"]),
    )
    assert one["checksum"] == hashlib.sha256(crates["base"]).hexdigest()
    assert one["dl_path"] == "/api/v1/crates/api-base/1.0.0/download"
    assert one["published_by"]["login"] == "tester"
    assert get(app, "api-base/1.1.0").json["version"]["yanked"] is True
    assert_error(get(app, "api-base/9.9.9"), 404)
    assert_error(get(app, "no-such-crate"), 404)
    assert_error(get(app, "no-such-crate/versions"), 404)


def test_dependencies_and_reverse_dependencies(app: InProcess, crates: dict[str, bytes]) -> None:
    deps = get(app, "api-user/0.3.0/dependencies").json["dependencies"]
    assert all(set(d) == DEPENDENCY_KEYS for d in deps)
    version_id = get(app, "api-user/0.3.0").json["version"]["id"]
    assert sorted((d["crate_id"], d["req"], d["kind"], d["version_id"]) for d in deps) == [
        ("api-base", "^1", "dev", version_id),
        ("api-base", "^1.0", "normal", version_id),
    ]
    reverse = get(app, "api-base/reverse_dependencies").json
    assert reverse["meta"] == {"total": 1}
    assert reverse["versions"] == [get(app, "api-user/0.3.0").json["version"]]
    assert [(d["crate_id"], d["req"], d["kind"], d["version_id"]) for d in reverse["dependencies"]] == [
        ("api-base", "^1.0", "normal", version_id)
    ]
    assert reverse["dependencies"] == [d for d in deps if d["kind"] == "normal"]
    assert get(app, "api-user/reverse_dependencies").json == {"dependencies": [], "versions": [], "meta": {"total": 0}}


def test_reverse_dependencies_are_paged_by_downloads_then_name(fresh_app: InProcess) -> None:
    fresh_app.publish("rd-hub", "1.0.0")
    for name in ("rd-d", "rd-b", "rd-a", "rd-c"):
        fresh_app.publish(name, "1.0.0", deps=[dep("rd-hub", "^1")])
    for _ in range(2):
        assert get(fresh_app, "rd-c/1.0.0/download").status_code == 302
        assert fresh_app.get("/files/rd-c/rd-c-1.0.0.crate").status_code == 200
    assert fresh_app.get("/files/rd-b/rd-b-1.0.0.crate").status_code == 200

    def page(query: str) -> tuple[int, list[str]]:
        document = get(fresh_app, f"rd-hub/reverse_dependencies{query}").json
        assert [d["version_id"] for d in document["dependencies"]] == [v["id"] for v in document["versions"]]
        return document["meta"]["total"], [v["crate"] for v in document["versions"]]

    assert page("") == (4, ["rd-c", "rd-b", "rd-a", "rd-d"])
    assert page("?per_page=3") == (4, ["rd-c", "rd-b", "rd-a"])
    assert page("?per_page=3&page=2") == (4, ["rd-d"])
    assert page("?page=3&per_page=3") == (4, [])
    assert page("?per_page=100") == (4, ["rd-c", "rd-b", "rd-a", "rd-d"])
    assert "from 1 to 100" in assert_error(get(fresh_app, "rd-hub/reverse_dependencies?per_page=101"), 400)
    for bad in ("?per_page=0", "?page=0", "?page=x"):
        assert_error(get(fresh_app, f"rd-hub/reverse_dependencies{bad}"), 400)
    assert_error(get(fresh_app, "rd-nothing/reverse_dependencies"), 404)


class CountingServedIndex(LocalServedIndex):
    """The served index in `index/`, counting the files read from it."""

    reads = 0

    def get(self, key: str) -> bytes | None:
        self.reads += 1
        return super().get(key)

    def read(self, key: str) -> ServedFile | None:
        self.reads += 1
        return super().read(key)


@pytest.fixture
def counting(tmp_path: Path) -> Iterator[tuple[InProcess, CountingServedIndex]]:
    """The app in process over a fresh registry whose served index counts its reads."""
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    layout = Layout(data)
    served = CountingServedIndex(layout.index)
    registry = Registry(data, replace(local_stores(layout, RegistryConfig.load(layout.config)), served=served))
    falcon_app, site = build_app(registry)
    try:
        yield InProcess(URL, data, issue_token(data), client=falcon.testing.TestClient(falcon_app)), served
    finally:
        site.catalog.download_counter.close()


def test_reverse_dependencies_read_no_index_file(counting: tuple[InProcess, CountingServedIndex]) -> None:
    app, served = counting
    app.publish("flat-base", "1.0.0")
    for i in range(12):
        app.publish(f"flat-user-{i}", "1.0.0", deps=[dep("flat-base", "^1")])
        app.publish(f"flat-other-{i}", "1.0.0")
    served.reads = 0
    document = get(app, "flat-base/reverse_dependencies?per_page=100").json
    assert document["meta"]["total"] == 12 and len(document["versions"]) == 12
    assert served.reads == 0


def test_every_link_of_the_crate_document_answers_in_crates_ios_shape(app: InProcess, crates: dict[str, bytes]) -> None:
    assert get(app, "api-base/1.0.0/download").status_code == 302
    assert app.get("/files/api-base/api-base-1.0.0.crate").status_code == 200
    document = get(app, "api-base").json
    links = document["crate"]["links"]
    for version in document["versions"]:
        links.update({f"{version['num']} {key}": path for key, path in version["links"].items()})
    answers = {}
    for key, path in links.items():
        response = app.get(path)
        assert response.status_code == 200, (key, path, response.text)
        answers[key] = response.json
    assert answers["version_downloads"] == {
        "version_downloads": [],
        "meta": {"extra_downloads": [], "total_downloads": 1},
    }
    assert answers["owner_team"] == {"teams": []}
    assert answers["owner_user"] == answers["owners"]
    assert [u["login"] for u in answers["owner_user"]["users"]] == ["tester"]
    assert answers["1.0.0 version_downloads"] == {"version_downloads": [], "meta": {"total_downloads": 1}}
    assert answers["1.1.0 version_downloads"] == {"version_downloads": [], "meta": {"total_downloads": 0}}
    assert answers["1.0.0 authors"] == {"meta": {"names": []}, "users": []}
    for path in (
        "api-nothing/downloads",
        "api-nothing/owner_user",
        "api-nothing/owner_team",
        "api-base/9.9.9/downloads",
        "api-base/9.9.9/authors",
    ):
        assert_error(get(app, path), 404)


def test_authors_are_the_published_ones(fresh_app: InProcess) -> None:
    fresh_app.publish("authored", "1.0.0", authors=["Ann <ann@example.com>", "Bob"])
    assert get(fresh_app, "authored/1.0.0/authors").json == {
        "meta": {"names": ["Ann <ann@example.com>", "Bob"]},
        "users": [],
    }


def test_search_reads_no_index_file(counting: tuple[InProcess, CountingServedIndex]) -> None:
    app, served = counting
    for i in range(12):
        app.publish(f"flat-search-{i}", "1.0.0", keywords=["flat"])
        app.publish(f"flat-search-{i}", "1.1.0-rc.1", keywords=["flat"])
    served.reads = 0
    document = app.get("/api/v1/crates?q=flat-search&per_page=100").json
    assert document["meta"]["total"] == 12
    assert {(c["newest_version"], c["keywords"][0]) for c in document["crates"]} == {("1.1.0-rc.1", "flat")}
    assert served.reads == 0


def test_download_redirects_to_the_file_and_readme_is_html(app: InProcess, crates: dict[str, bytes]) -> None:
    redirect = get(app, "api-base/1.0.0/download")
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == f"{app.url}/files/api-base/api-base-1.0.0.crate"
    followed = app.get(urlsplit(redirect.headers["Location"]).path)
    assert followed.status_code == 200 and followed.content == crates["base"]
    assert get(app, "api-base/1.0.0").json["version"]["downloads"] >= 1
    readme = get(app, "api-base/1.0.0/readme")
    assert readme.status_code == 200 and readme.headers["content-type"].startswith("text/html")
    assert "<h1>Base</h1>" in readme.text
    assert_error(get(app, "api-base/1.1.0/readme"), 404)


def test_the_readme_carries_the_pages_security_headers(app: InProcess, crates: dict[str, bytes]) -> None:
    readme = get(app, "api-base/1.0.0/readme")
    page = app.get("/crates/api-base")
    assert readme.status_code == 200 and page.status_code == 200
    policy = readme.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert policy == page.headers["content-security-policy"]
    assert readme.headers["x-content-type-options"] == "nosniff"


def test_reads_need_a_token_under_auth_required(private_app: InProcess) -> None:
    private_app.publish("api-private", "1.0.0")
    for path in (
        "api-private",
        "api-private/versions",
        "api-private/1.0.0",
        "api-private/owners",
        "api-private/1.0.0/dependencies",
        "api-private/reverse_dependencies",
    ):
        assert get(private_app, path).status_code == 401, path
        assert get(private_app, path, headers=private_app.auth()).status_code == 200, path
