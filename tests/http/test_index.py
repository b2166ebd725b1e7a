"""The sparse index on the wire, on a real server: a 304 and a HEAD carry no body, and no path (raw bytes, no
URL normalisation) ever leaves the index. (What the index answers: tests/services/test_index.py.)"""

import pytest

from palletizer_lib.domain.names import index_path
from tests.support.http import SENTINEL, Live, assert_error


@pytest.fixture(scope="module")
def known(live: Live) -> Live:
    """Crates several tests look up under other spellings and paths."""
    for name in ("My_Crate", "a_bc", "x", "xy", "xyz"):
        live.publish(name)
    return live


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


def test_head_of_index_file(live: Live) -> None:
    name = live.unique("idx-head")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    full = live.get(path)
    raw = live.raw_get(path, method="HEAD")
    assert raw.status == 200
    assert raw.body == b""
    assert raw.headers["etag"] == full.headers["ETag"]


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
    response = live.raw(b"GET /index/ab/cd/abcd\x00/../../config.yaml HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert 400 <= response.status < 500
    assert b"max_crate_size" not in response.body
    assert live.get("/index/config.json").status_code == 200
