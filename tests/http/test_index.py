"""The sparse index: config.json, index files, conditional requests, name spellings, traversal."""

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from palletizer_lib.crate_names import index_path
from tests.support.http import SENTINEL, Live, assert_error, sha256


@pytest.fixture(scope="module")
def known(live: Live) -> Live:
    """Crates several tests look up under other spellings and paths."""
    for name in ("My_Crate", "a_bc", "x", "xy", "xyz"):
        live.publish(name)
    return live


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


# -- config.json ---------------------------------------------------------------------------

def test_config_json_points_cargo_at_this_server(live: Live) -> None:
    response = live.get("/index/config.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "dl": f"{live.url}/files/{{crate}}/{{crate}}-{{version}}.crate",
        "api": live.url,
        "public-url": live.url,
    }
    assert response.headers.get("ETag")


def test_config_json_is_cacheable(live: Live) -> None:
    first = live.get("/index/config.json")
    again = live.get("/index/config.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.content == b""


# -- index files -------------------------------------------------------------------------

def test_index_file_after_publish(live: Live) -> None:
    name = live.unique("idx-plain")
    crate = live.publish(name, "1.0.0")
    live.publish(name, "1.1.0")
    response = live.get(f"/index/{index_path(name)}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers.get("ETag")
    assert response.headers.get("Last-Modified")
    parsedate_to_datetime(response.headers["Last-Modified"])  # a valid HTTP date
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(e["name"], e["vers"], e["yanked"]) for e in lines] == [(name, "1.0.0", False), (name, "1.1.0", False)]
    assert lines[0]["cksum"] == sha256(crate)


def test_if_none_match_with_current_etag_is_304_without_body(live: Live) -> None:
    name = live.unique("idx-etag")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    etag = live.get(path).headers["ETag"]
    response = live.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers.get("ETag") == etag
    # On the wire too: nothing after the headers.
    raw = live.raw_get(path, headers={"If-None-Match": etag})
    assert raw.status == 304
    assert raw.body == b""


def test_if_none_match_forms(live: Live) -> None:
    name = live.unique("idx-inm")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    first = live.get(path)
    etag = first.headers["ETag"]
    assert live.get(path, headers={"If-None-Match": f'"nope", {etag}'}).status_code == 304
    assert live.get(path, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert live.get(path, headers={"If-None-Match": "*"}).status_code == 304
    other = live.get(path, headers={"If-None-Match": '"0123456789abcdef"'})
    assert other.status_code == 200
    assert other.content == first.content
    assert other.headers["ETag"] == etag


def test_if_modified_since(live: Live) -> None:
    name = live.unique("idx-ims")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    first = live.get(path)
    modified = first.headers["Last-Modified"]
    moment = parsedate_to_datetime(modified)

    same = live.get(path, headers={"If-Modified-Since": modified})
    assert same.status_code == 304
    assert same.content == b""
    later = live.get(path, headers={"If-Modified-Since": http_date(moment + timedelta(hours=1))})
    assert later.status_code == 304
    earlier = live.get(path, headers={"If-Modified-Since": http_date(moment - timedelta(seconds=1))})
    assert earlier.status_code == 200
    assert earlier.content == first.content
    garbage = live.get(path, headers={"If-Modified-Since": "not a date"})
    assert garbage.status_code == 200
    assert garbage.content == first.content


def test_if_none_match_takes_precedence_over_if_modified_since(live: Live) -> None:
    name = live.unique("idx-prec")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    first = live.get(path)
    future = http_date(datetime.now(timezone.utc) + timedelta(days=1))
    response = live.get(path, headers={"If-None-Match": '"stale"', "If-Modified-Since": future})
    assert response.status_code == 200
    assert response.content == first.content


def test_yank_changes_the_etag(live: Live) -> None:
    name = live.unique("idx-yank")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    before = live.get(path)
    old_etag = before.headers["ETag"]
    answer = live.yank(name, "1.0.0")
    assert answer.status_code == 200, answer.text

    stale = live.get(path, headers={"If-None-Match": old_etag})
    assert stale.status_code == 200
    new_etag = stale.headers["ETag"]
    assert new_etag != old_etag
    assert json.loads(stale.text.splitlines()[0])["yanked"] is True
    assert live.get(path, headers={"If-None-Match": new_etag}).status_code == 304


def test_head_of_index_file(live: Live) -> None:
    name = live.unique("idx-head")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    full = live.get(path)
    raw = live.raw_get(path, method="HEAD")
    assert raw.status == 200
    assert raw.body == b""
    assert raw.headers["etag"] == full.headers["ETag"]


@pytest.mark.parametrize("path", [
    "/index/no/su/nosuchcrate",
    "/index/1/q",
    "/index/2/qq",
    "/index/3/q/qqq",
])
def test_unknown_crate_is_404_json(live: Live, path: str) -> None:
    assert_error(live.get(path), 404)


def test_short_names_use_their_own_directories(known: Live) -> None:
    live = known
    for path, name in (("/index/1/x", "x"), ("/index/2/xy", "xy"), ("/index/3/x/xyz", "xyz"),
                       ("/index/1/X", "x"), ("/index/2/XY", "xy"), ("/index/3/X/XYZ", "xyz")):
        response = live.get(path)
        assert response.status_code == 200, path
        assert json.loads(response.text.splitlines()[0])["name"] == name


def test_every_spelling_cargo_may_ask_for_finds_the_crate(known: Live) -> None:
    live = known
    expected = live.get("/index/my/_c/my_crate")
    assert expected.status_code == 200
    assert json.loads(expected.text.splitlines()[0])["name"] == "My_Crate"
    for path in ("/index/my/-c/my-crate", "/index/My/_C/My_Crate", "/index/MY/-C/MY-CRATE",
                 "/index/my/_c/MY_crate", "/index/mY/-c/my-CRATE"):
        response = live.get(path)
        assert response.status_code == 200, path
        assert response.content == expected.content, path
        assert response.headers["ETag"] == expected.headers["ETag"], path


def test_dash_underscore_inside_the_prefix_directories(known: Live) -> None:
    live = known
    for path in ("/index/a_/bc/a_bc", "/index/a-/bc/a-bc", "/index/A-/BC/A-BC"):
        response = live.get(path)
        assert response.status_code == 200, path
        assert json.loads(response.text.splitlines()[0])["name"] == "a_bc"


@pytest.mark.parametrize("path", [
    "/index/zz/zz/abcd",
    "/index/my/zz/my_crate",      # the crate exists, but not there
    "/index/zz/_c/my_crate",
    "/index/3/m/my_crate",
    "/index/1/my_crate",
    "/index/2/my_crate",
    "/index/3/y/xyz",
    "/index/2/x",
    "/index/1/xy",
    "/index/my/-c/my_crate",      # prefix spelled differently from the name
    "/index/x/y/z",
    "/index/1/_",
    "/index/1/1",
])
def test_path_segments_must_match_the_name(known: Live, path: str) -> None:
    assert_error(known.get(path), 404)


# -- traversal -------------------------------------------------------------------------

TRAVERSALS = [
    "/index/../config.yaml",
    "/index/../../outside.txt",
    "/index/%2e%2e/%2e%2e/config.yaml",
    "/index/%2e%2e/%2e%2e/outside.txt",
    "/index/%2E%2E/config.yaml",
    "/index/..%2Fconfig.yaml",
    "/index/..%2f..%2foutside.txt",
    "/index/co/nf/..%2F..%2F..%2Fconfig.yaml",
    "/index/3/../../config.yaml",
    "/index/3/%2e%2e/%2e%2e%2fconfig.yaml",
    "/index/..\\config.yaml",
    "/index/..%5Cconfig.yaml",
    "/index/.head",
    "/index/1/.head",
    "/index/%2F/etc/passwd",
    "/index//etc/passwd",
    "/index/ab/cd/abcd%00",
    "/index/ab/cd/ab%00cd",
    "/index/%00/%00",
    "/index/../index.git/HEAD",
    "/index/%2e%2e/index.git/HEAD",
    "/index/in/de/index.git%2FHEAD",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_never_leaves_the_index(known: Live, path: str) -> None:
    live = known
    config_yaml = (live.data / "config.yaml").read_bytes()
    git_head = (live.data / "index.git" / "HEAD").read_bytes()
    for method in ("GET", "HEAD"):
        response = live.raw_get(path, method=method)
        assert 400 <= response.status < 500, (path, response.status, response.body)
        assert SENTINEL not in response.body
        assert config_yaml not in response.body
        assert b"max_crate_size" not in response.body
        assert git_head not in response.body
        if method == "GET" and response.headers.get("content-type", "").startswith("application/json"):
            assert_error(response)


def test_literal_nul_byte_in_index_path(live: Live) -> None:
    response = live.raw(b"GET /index/ab/cd/abcd\x00/../../config.yaml HTTP/1.1\r\nHost: t\r\n"
                        b"Connection: close\r\n\r\n")
    assert 400 <= response.status < 500
    assert b"max_crate_size" not in response.body
    assert live.get("/index/config.json").status_code == 200
