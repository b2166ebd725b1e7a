"""Crate downloads at config.json's `dl` template. (On the wire, and traversal: tests/http/test_files.py.)"""

import os
from urllib.parse import urlsplit

import pytest

from tests.support.http import assert_error, sha256
from tests.support.inprocess import InProcess


@pytest.fixture(scope="module")
def published(app: InProcess) -> tuple[InProcess, str, bytes]:
    """A crate with some incompressible content, so its file is not trivially small."""
    name = "dl_crate"
    crate = app.publish(name, "1.2.3", files={"src/blob.bin": os.urandom(20_000)})
    return app, name, crate


def dl_url(app: InProcess, crate: str, version: str) -> str:
    template = app.get("/index/config.json").json["dl"]
    return template.replace("{crate}", crate).replace("{version}", version)


def test_download_matches_the_published_crate(published: tuple[InProcess, str, bytes]) -> None:
    app, name, crate = published
    response = app.get(urlsplit(dl_url(app, name, "1.2.3")).path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    stored = app.data / "crates" / name / f"{name}-1.2.3.crate"
    assert int(response.headers["content-length"]) == stored.stat().st_size == len(crate)
    assert response.content == crate
    [entry] = app.index_lines(name)
    assert sha256(response.content) == entry["cksum"]


def test_yanked_versions_stay_downloadable(app: InProcess) -> None:
    # Cargo still fetches yanked versions that a Cargo.lock pins.
    name = app.unique("dl-yanked")
    crate = app.publish(name, "0.1.0")
    assert app.yank(name, "0.1.0").status_code == 200
    response = app.get(f"/files/{name}/{name}-0.1.0.crate")
    assert response.status_code == 200
    assert response.content == crate


def test_every_version_has_its_own_file(app: InProcess) -> None:
    name = app.unique("dl-versions")
    first = app.publish(name, "1.0.0")
    second = app.publish(name, "1.0.1-beta.1")
    assert app.get(f"/files/{name}/{name}-1.0.0.crate").content == first
    assert app.get(f"/files/{name}/{name}-1.0.1-beta.1.crate").content == second
    assert first != second


@pytest.mark.parametrize(
    "path",
    [
        "/files/nosuchcrate/nosuchcrate-1.0.0.crate",
        "/files/dl_crate/dl_crate-9.9.9.crate",
        "/files/dl_crate/dl_crate-1.2.4.crate",
    ],
)
def test_unknown_crate_or_version_is_404_json(published: tuple[InProcess, str, bytes], path: str) -> None:
    app, _, _ = published
    assert_error(app.get(path), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/files/dl_crate/other-1.2.3.crate",  # file of another crate
        "/files/dl_crate/dl_crate-1.2.3.tar.gz",  # not a .crate name
        "/files/dl_crate/dl_crate-1.2.3",
        "/files/dl_crate/dl_crate1.2.3.crate",
        "/files/other/dl_crate-1.2.3.crate",  # the file exists, under another crate
        "/files/dl_crate/DL_CRATE-1.2.3.crate",
    ],
)
def test_filename_not_matching_the_crate_is_404(published: tuple[InProcess, str, bytes], path: str) -> None:
    app, _, _ = published
    assert_error(app.get(path), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/files/dl_crate/dl_crate-x.crate",  # not a version
        "/files/dl_crate/dl_crate-.crate",
        "/files/con/con-1.0.0.crate",  # not a valid crate name
    ],
)
def test_impossible_names_are_rejected_as_json(published: tuple[InProcess, str, bytes], path: str) -> None:
    app, _, _ = published
    assert_error(app.get(path))
