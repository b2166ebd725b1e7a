"""The sparse index: config.json, index files, conditional requests, name spellings. (On the wire, and
traversal: tests/http/test_index.py.)"""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from palletizer_lib.domain.names import index_path
from tests.support.http import assert_error, sha256
from tests.support.inprocess import InProcess


@pytest.fixture(scope="module")
def known(app: InProcess) -> InProcess:
    """Crates several tests look up under other spellings and paths."""
    for name in ("My_Crate", "a_bc", "x", "xy", "xyz"):
        app.publish(name)
    return app


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


# -- config.json ---------------------------------------------------------------------------


def test_config_json_points_cargo_at_this_server(app: InProcess) -> None:
    response = app.get("/index/config.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json == {
        "dl": f"{app.url}/files/{{crate}}/{{crate}}-{{version}}.crate",
        "api": app.url,
        "public-url": app.url,
    }
    assert response.headers.get("ETag")


def test_config_json_is_cacheable(app: InProcess) -> None:
    first = app.get("/index/config.json")
    again = app.get("/index/config.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.content == b""


# -- index files -------------------------------------------------------------------------


def test_index_file_after_publish(app: InProcess) -> None:
    name = app.unique("idx-plain")
    crate = app.publish(name, "1.0.0")
    app.publish(name, "1.1.0")
    response = app.get(f"/index/{index_path(name)}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers.get("ETag")
    assert response.headers.get("Last-Modified")
    parsedate_to_datetime(response.headers["Last-Modified"])  # a valid HTTP date
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(e["name"], e["vers"], e["yanked"]) for e in lines] == [(name, "1.0.0", False), (name, "1.1.0", False)]
    assert lines[0]["cksum"] == sha256(crate)


def test_if_none_match_forms(app: InProcess) -> None:
    name = app.unique("idx-inm")
    app.publish(name)
    path = f"/index/{index_path(name)}"
    first = app.get(path)
    etag = first.headers["ETag"]
    assert app.get(path, headers={"If-None-Match": f'"nope", {etag}'}).status_code == 304
    assert app.get(path, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert app.get(path, headers={"If-None-Match": "*"}).status_code == 304
    other = app.get(path, headers={"If-None-Match": '"0123456789abcdef"'})
    assert other.status_code == 200
    assert other.content == first.content
    assert other.headers["ETag"] == etag


def test_if_modified_since(app: InProcess) -> None:
    name = app.unique("idx-ims")
    app.publish(name)
    path = f"/index/{index_path(name)}"
    first = app.get(path)
    modified = first.headers["Last-Modified"]
    moment = parsedate_to_datetime(modified)

    same = app.get(path, headers={"If-Modified-Since": modified})
    assert same.status_code == 304
    assert same.content == b""
    later = app.get(path, headers={"If-Modified-Since": http_date(moment + timedelta(hours=1))})
    assert later.status_code == 304
    earlier = app.get(path, headers={"If-Modified-Since": http_date(moment - timedelta(seconds=1))})
    assert earlier.status_code == 200
    assert earlier.content == first.content
    garbage = app.get(path, headers={"If-Modified-Since": "not a date"})
    assert garbage.status_code == 200
    assert garbage.content == first.content


def test_if_none_match_takes_precedence_over_if_modified_since(app: InProcess) -> None:
    name = app.unique("idx-prec")
    app.publish(name)
    path = f"/index/{index_path(name)}"
    first = app.get(path)
    future = http_date(datetime.now(UTC) + timedelta(days=1))
    response = app.get(path, headers={"If-None-Match": '"stale"', "If-Modified-Since": future})
    assert response.status_code == 200
    assert response.content == first.content


def test_yank_changes_the_etag(app: InProcess) -> None:
    name = app.unique("idx-yank")
    app.publish(name)
    path = f"/index/{index_path(name)}"
    before = app.get(path)
    old_etag = before.headers["ETag"]
    answer = app.yank(name, "1.0.0")
    assert answer.status_code == 200, answer.text

    stale = app.get(path, headers={"If-None-Match": old_etag})
    assert stale.status_code == 200
    new_etag = stale.headers["ETag"]
    assert new_etag != old_etag
    assert json.loads(stale.text.splitlines()[0])["yanked"] is True
    assert app.get(path, headers={"If-None-Match": new_etag}).status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/index/no/su/nosuchcrate",
        "/index/1/q",
        "/index/2/qq",
        "/index/3/q/qqq",
    ],
)
def test_unknown_crate_is_404_json(app: InProcess, path: str) -> None:
    assert_error(app.get(path), 404)


def test_short_names_use_their_own_directories(known: InProcess) -> None:
    app = known
    for path, name in (
        ("/index/1/x", "x"),
        ("/index/2/xy", "xy"),
        ("/index/3/x/xyz", "xyz"),
        ("/index/1/X", "x"),
        ("/index/2/XY", "xy"),
        ("/index/3/X/XYZ", "xyz"),
    ):
        response = app.get(path)
        assert response.status_code == 200, path
        assert json.loads(response.text.splitlines()[0])["name"] == name


def test_every_spelling_cargo_may_ask_for_finds_the_crate(known: InProcess) -> None:
    app = known
    expected = app.get("/index/my/_c/my_crate")
    assert expected.status_code == 200
    assert json.loads(expected.text.splitlines()[0])["name"] == "My_Crate"
    for path in (
        "/index/my/-c/my-crate",
        "/index/My/_C/My_Crate",
        "/index/MY/-C/MY-CRATE",
        "/index/my/_c/MY_crate",
        "/index/mY/-c/my-CRATE",
    ):
        response = app.get(path)
        assert response.status_code == 200, path
        assert response.content == expected.content, path
        assert response.headers["ETag"] == expected.headers["ETag"], path


def test_dash_underscore_inside_the_prefix_directories(known: InProcess) -> None:
    app = known
    for path in ("/index/a_/bc/a_bc", "/index/a-/bc/a-bc", "/index/A-/BC/A-BC"):
        response = app.get(path)
        assert response.status_code == 200, path
        assert json.loads(response.text.splitlines()[0])["name"] == "a_bc"


@pytest.mark.parametrize(
    "path",
    [
        "/index/zz/zz/abcd",
        "/index/my/zz/my_crate",  # the crate exists, but not there
        "/index/zz/_c/my_crate",
        "/index/3/m/my_crate",
        "/index/1/my_crate",
        "/index/2/my_crate",
        "/index/3/y/xyz",
        "/index/2/x",
        "/index/1/xy",
        "/index/my/-c/my_crate",  # prefix spelled differently from the name
        "/index/x/y/z",
        "/index/1/_",
        "/index/1/1",
    ],
)
def test_path_segments_must_match_the_name(known: InProcess, path: str) -> None:
    assert_error(known.get(path), 404)
