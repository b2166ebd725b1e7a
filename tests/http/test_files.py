"""Crate downloads on the wire, on a real server: a HEAD carries no body, and no path (raw bytes, no URL
normalisation) ever leaves the crates. (What a download answers: tests/services/test_files.py.)"""

import os

import pytest

from tests.support.http import SENTINEL, Live, assert_error


@pytest.fixture(scope="module")
def published(live: Live) -> tuple[Live, str, bytes]:
    """A crate with some incompressible content, so its file is not trivially small."""
    name = "dl_crate"
    crate = live.publish(name, "1.2.3", files={"src/blob.bin": os.urandom(20_000)})
    return live, name, crate


def test_head_of_download(published: tuple[Live, str, bytes]) -> None:
    live, name, crate = published
    response = live.raw_get(f"/files/{name}/{name}-1.2.3.crate", method="HEAD")
    assert response.status == 200
    assert response.headers["content-type"] == "application/gzip"
    assert int(response.headers["content-length"]) == len(crate)
    assert response.body == b""


TRAVERSALS = [
    "/files/../../config.yaml",
    "/files/../config.yaml",
    "/files/foo/..%2F..%2Fconfig.yaml",
    "/files/foo/..%2f..%2f..%2foutside.txt",
    "/files/%2e%2e/%2e%2e-1.0.0.crate",
    "/files/..%2F..%2Fconfig.yaml/x",
    "/files/dl_crate/dl_crate-..%2F..%2F..%2Fconfig.yaml.crate",
    "/files/dl_crate/dl_crate-1.2.3.crate%2F..%2F..%2F..%2Fconfig.yaml",
    "/files/dl_crate/dl_crate-1.2.3.crate/../../../config.yaml",
    "/files/..%2Fconfig.yaml%00/x-1.0.0.crate",
    "/files/foo%00/foo%00-1.0.0.crate",
    "/files/dl_crate/dl_crate-1.2.3.crate%00",
    "/files/dl_crate/dl_crate-1.2.3%00.crate",
    "/files/..%5C..%5Cconfig.yaml/x",
    "/files/%2Fetc%2Fpasswd/x",
    "/files/dl_crate/%2e%2e%2f%2e%2e%2f%2e%2e%2fconfig.yaml",
    "/files/names/..%2Fnames%2Fdl-crate.json",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_never_leaves_the_crates(published: tuple[Live, str, bytes], path: str) -> None:
    live, _, _ = published
    config_yaml = (live.data / "config.yaml").read_bytes()
    for method in ("GET", "HEAD"):
        response = live.raw_get(path, method=method)
        assert 400 <= response.status < 500, (path, response.status, response.body)
        assert SENTINEL not in response.body
        assert config_yaml not in response.body
        assert b"max_crate_size" not in response.body
        assert b'"description"' not in response.body
        if method == "GET":
            assert_error(response)
