"""Crate downloads at config.json's `dl` template."""

import os

import pytest
import requests

from tests.support.http import SENTINEL, Live, assert_error, sha256


@pytest.fixture(scope="module")
def published(live: Live) -> tuple[Live, str, bytes]:
    """A crate with some incompressible content, so its file is not trivially small."""
    name = "dl_crate"
    crate = live.publish(name, "1.2.3", files={"src/blob.bin": os.urandom(20_000)})
    return live, name, crate


def dl_url(live: Live, crate: str, version: str) -> str:
    template = live.get("/index/config.json").json()["dl"]
    return template.replace("{crate}", crate).replace("{version}", version)


def test_download_matches_the_published_crate(published: tuple[Live, str, bytes]) -> None:
    live, name, crate = published
    response = requests.get(dl_url(live, name, "1.2.3"), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    stored = live.data / "crates" / name / f"{name}-1.2.3.crate"
    assert int(response.headers["content-length"]) == stored.stat().st_size == len(crate)
    assert response.content == crate
    [entry] = live.index_lines(name)
    assert sha256(response.content) == entry["cksum"]


def test_head_of_download(published: tuple[Live, str, bytes]) -> None:
    live, name, crate = published
    response = live.raw_get(f"/files/{name}/{name}-1.2.3.crate", method="HEAD")
    assert response.status == 200
    assert response.headers["content-type"] == "application/gzip"
    assert int(response.headers["content-length"]) == len(crate)
    assert response.body == b""


def test_yanked_versions_stay_downloadable(live: Live) -> None:
    # Cargo still fetches yanked versions that a Cargo.lock pins.
    name = live.unique("dl-yanked")
    crate = live.publish(name, "0.1.0")
    assert live.yank(name, "0.1.0").status_code == 200
    response = live.get(f"/files/{name}/{name}-0.1.0.crate")
    assert response.status_code == 200
    assert response.content == crate


def test_every_version_has_its_own_file(live: Live) -> None:
    name = live.unique("dl-versions")
    first = live.publish(name, "1.0.0")
    second = live.publish(name, "1.0.1-beta.1")
    assert live.get(f"/files/{name}/{name}-1.0.0.crate").content == first
    assert live.get(f"/files/{name}/{name}-1.0.1-beta.1.crate").content == second
    assert first != second


@pytest.mark.parametrize("path", [
    "/files/nosuchcrate/nosuchcrate-1.0.0.crate",
    "/files/dl_crate/dl_crate-9.9.9.crate",
    "/files/dl_crate/dl_crate-1.2.4.crate",
])
def test_unknown_crate_or_version_is_404_json(published: tuple[Live, str, bytes], path: str) -> None:
    live, _, _ = published
    assert_error(live.get(path), 404)


@pytest.mark.parametrize("path", [
    "/files/dl_crate/other-1.2.3.crate",          # file of another crate
    "/files/dl_crate/dl_crate-1.2.3.tar.gz",      # not a .crate name
    "/files/dl_crate/dl_crate-1.2.3",
    "/files/dl_crate/dl_crate1.2.3.crate",
    "/files/other/dl_crate-1.2.3.crate",          # the file exists, under another crate
    "/files/dl_crate/DL_CRATE-1.2.3.crate",
])
def test_filename_not_matching_the_crate_is_404(published: tuple[Live, str, bytes], path: str) -> None:
    live, _, _ = published
    assert_error(live.get(path), 404)


@pytest.mark.parametrize("path", [
    "/files/dl_crate/dl_crate-x.crate",           # not a version
    "/files/dl_crate/dl_crate-.crate",
    "/files/con/con-1.0.0.crate",                 # not a valid crate name
])
def test_impossible_names_are_rejected_as_json(published: tuple[Live, str, bytes], path: str) -> None:
    live, _, _ = published
    assert_error(live.get(path))


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
