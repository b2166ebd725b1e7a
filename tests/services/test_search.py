"""`GET /api/v1/crates?q=...&page=...&per_page=...` over a registry whose every crate the module knows."""

import pytest

from tests.support.http import assert_error
from tests.support.inprocess import InProcess

BULK = 105
CRATES = {
    "k": "a one-letter crate",
    "kw": "a two-letter crate",
    "Search_Me": "finds needles in haystacks",
    "search-you": "the other searcher",
    "searchable": "indexes everything",
    "unrelated": "nothing to see",
    "undescribed": "",
}


@pytest.fixture(scope="module")
def catalogue(app: InProcess) -> InProcess:
    for name, description in CRATES.items():
        app.publish(name, "1.0.0", description=description)
    app.publish("searchable", "1.2.0", description=CRATES["searchable"])
    app.publish("searchable", "2.0.0-rc.1", description=CRATES["searchable"])
    app.publish("yanky", "1.0.0", description="changes its mind")
    app.publish("yanky", "1.1.0", description="changes its mind")
    for i in range(BULK):
        app.publish(f"bulk-{i:03}", "0.1.0", description="one of many")
    return app


def search(app: InProcess, **params: object) -> dict:
    response = app.get("/api/v1/crates", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json


def names(document: dict) -> list[str]:
    return [c["name"] for c in document["crates"]]


def test_total_counts_every_match_and_per_page_limits_the_list(catalogue: InProcess) -> None:
    found = search(catalogue, q="search", per_page=1)
    assert found["meta"]["total"] == 3
    assert len(found["crates"]) == 1
    everything = search(catalogue, q="search", per_page=10)
    assert sorted(names(everything)) == ["Search_Me", "search-you", "searchable"]
    assert everything["meta"]["total"] == 3


def test_per_page_over_100_is_refused_naming_the_maximum(catalogue: InProcess) -> None:
    exactly = search(catalogue, q="bulk", per_page=100)
    assert exactly["meta"]["total"] == BULK
    assert len(exactly["crates"]) == 100
    for over in (101, 1000):
        detail = assert_error(catalogue.get("/api/v1/crates", params={"q": "bulk", "per_page": over}), 400)
        assert "from 1 to 100" in detail and str(over) in detail


def test_default_page_size(catalogue: InProcess) -> None:
    found = search(catalogue, q="bulk")
    assert found["meta"]["total"] == BULK
    assert 1 <= len(found["crates"]) <= 100


def test_empty_query_lists_everything(catalogue: InProcess) -> None:
    found = search(catalogue, q="", per_page=100)
    assert found["meta"]["total"] == len(CRATES) + 1 + BULK


@pytest.mark.parametrize("bad", ["0", "-1", "many", "1.5"])
def test_bad_per_page_is_400_json(catalogue: InProcess, bad: str) -> None:
    response = catalogue.get("/api/v1/crates", params={"q": "k", "per_page": bad})
    assert_error(response, 400)


def test_one_and_two_character_names(catalogue: InProcess) -> None:
    one = search(catalogue, q="k", per_page=100)
    assert names(one)[0] == "k"
    two = search(catalogue, q="kw", per_page=100)
    assert names(two)[0] == "kw"
    assert "k" not in names(two)
    assert search(catalogue, q="K", per_page=100)["crates"][0]["name"] == "k"


@pytest.mark.parametrize("query", ["Search_Me", "search_me", "search-me", "SEARCH-ME", "Search-Me", "sEaRcH_mE"])
def test_dash_underscore_and_case_match_loosely(catalogue: InProcess, query: str) -> None:
    found = search(catalogue, q=query, per_page=100)
    assert names(found)[0] == "Search_Me"  # the exact match comes first, in its own spelling
    assert found["meta"]["total"] >= 1


def test_results_show_description_and_max_version(catalogue: InProcess) -> None:
    found = search(catalogue, q="Search_Me")
    [hit] = [c for c in found["crates"] if c["name"] == "Search_Me"]
    assert {key: hit[key] for key in ("name", "max_version", "description", "downloads")} == {
        "name": "Search_Me",
        "max_version": "1.0.0",
        "description": "finds needles in haystacks",
        "downloads": 0,
    }
    searchable = [c for c in search(catalogue, q="searchable")["crates"] if c["name"] == "searchable"][0]
    assert searchable["max_version"] == "1.2.0"  # releases beat a newer pre-release
    assert searchable["description"] == "indexes everything"


def test_description_words_are_searched(catalogue: InProcess) -> None:
    assert names(search(catalogue, q="needles")) == ["Search_Me"]
    assert names(search(catalogue, q="haystacks needles")) == ["Search_Me"]
    assert search(catalogue, q="one of many")["meta"]["total"] == BULK


def test_no_match(catalogue: InProcess) -> None:
    found = search(catalogue, q="zzzzzz-nothing")
    assert found == {"crates": [], "meta": {"total": 0, "next_page": None, "prev_page": None}}


def test_yank_moves_max_version(catalogue: InProcess) -> None:
    assert catalogue.yank("yanky", "1.1.0").status_code == 200
    [hit] = search(catalogue, q="yanky")["crates"]
    assert hit["max_version"] == "1.0.0"
    assert catalogue.unyank("yanky", "1.1.0").status_code == 200
    [hit] = search(catalogue, q="yanky")["crates"]
    assert hit["max_version"] == "1.1.0"


def test_pages_reach_every_match_once(catalogue: InProcess) -> None:
    seen: list[str] = []
    page = 1
    while True:
        found = search(catalogue, q="bulk", per_page=40, page=page)
        assert found["meta"]["total"] == BULK
        seen += names(found)
        if found["meta"]["next_page"] is None:
            break
        assert found["meta"]["next_page"] == f"?q=bulk&page={page + 1}&per_page=40"
        page += 1
    assert page == 3 and seen == [f"bulk-{i:03}" for i in range(BULK)]
    assert search(catalogue, q="bulk", per_page=40, page=2)["meta"]["prev_page"] == "?q=bulk&page=1&per_page=40"
    assert search(catalogue, q="bulk", per_page=40, page=1)["meta"]["prev_page"] is None
    beyond = search(catalogue, q="bulk", per_page=40, page=9)
    assert beyond["crates"] == [] and beyond["meta"]["total"] == BULK and beyond["meta"]["next_page"] is None
    assert names(search(catalogue, q="bulk", per_page=100, page=2)) == [f"bulk-{i:03}" for i in range(100, BULK)]


@pytest.mark.parametrize("bad", ["0", "-2", "first"])
def test_bad_page_is_400_json(catalogue: InProcess, bad: str) -> None:
    response = catalogue.get("/api/v1/crates", params={"q": "k", "page": bad})
    assert_error(response, 400)


SEARCH_KEYS = {
    "id",
    "name",
    "newest_version",
    "max_stable_version",
    "max_version",
    "updated_at",
    "created_at",
    "exact_match",
    "homepage",
    "repository",
    "documentation",
    "keywords",
    "categories",
    "recent_downloads",
    "downloads",
    "description",
}


def test_results_carry_crates_ios_fields(catalogue: InProcess) -> None:
    found = search(catalogue, q="searchable")["crates"]
    assert all(set(c) == SEARCH_KEYS for c in found)
    [hit] = [c for c in found if c["name"] == "searchable"]
    assert (hit["id"], hit["max_version"], hit["newest_version"], hit["max_stable_version"], hit["exact_match"]) == (
        "searchable",
        "1.2.0",
        "2.0.0-rc.1",
        "1.2.0",
        True,
    )
    assert hit["created_at"] < hit["updated_at"]
    others = [c for c in search(catalogue, q="search")["crates"] if c["name"] != "searchable"]
    assert others and not any(c["exact_match"] for c in others)


def test_results_carry_the_shown_versions_links_and_tags(fresh_app: InProcess) -> None:
    fresh_app.publish("tagged-hit", "1.0.0", description="old", keywords=["old"])
    fresh_app.publish(
        "tagged-hit",
        "1.1.0",
        description="tagged",
        keywords=["pallet", "crate"],
        categories=["no-std"],
        homepage="https://example.com/h",
        repository="https://example.com/r",
        documentation="https://example.com/d",
    )
    [hit] = search(fresh_app, q="tagged-hit")["crates"]
    assert (hit["keywords"], hit["categories"], hit["description"]) == (["pallet", "crate"], ["no-std"], "tagged")
    assert (hit["homepage"], hit["repository"], hit["documentation"]) == (
        "https://example.com/h",
        "https://example.com/r",
        "https://example.com/d",
    )
    crate = fresh_app.get("/api/v1/crates/tagged-hit").json["crate"]
    assert {key: crate[key] for key in SEARCH_KEYS} == {**hit, "exact_match": False}


def test_a_crate_without_description_has_null(catalogue: InProcess) -> None:
    [hit] = [c for c in search(catalogue, q="undescribed")["crates"] if c["name"] == "undescribed"]
    assert hit["description"] is None


def test_search_results_carry_each_crates_downloads(fresh_app: InProcess) -> None:
    fresh_app.publish("popular")
    fresh_app.publish("popular", "1.1.0")
    fresh_app.publish("popular_not")
    for version in ("1.0.0", "1.1.0", "1.1.0"):
        response = fresh_app.get(f"/files/popular/popular-{version}.crate")
        assert response.status_code == 200, response.text
    found = search(fresh_app, q="popular")
    assert {c["name"]: c["downloads"] for c in found["crates"]} == {"popular": 3, "popular_not": 0}
