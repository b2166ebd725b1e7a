"""The git index's smart HTTP endpoints, spoken to directly. (Real git over HTTP: tests/e2e/test_cargo_git*.py.)"""

import gzip

import pytest
from dulwich.protocol import pkt_line

from tests.support.inprocess import InProcess

UPLOAD_REQUEST = "application/x-git-upload-pack-request"


def _head(app: InProcess) -> str:
    return app.data.joinpath("index.git", "refs", "heads", "main").read_text().strip()


def _want_head(app: InProcess) -> bytes:
    return (
        pkt_line(f"want {_head(app)} multi_ack side-band-64k thin-pack ofs-delta\n".encode())
        + pkt_line(None)
        + pkt_line(b"done\n")
    )


def test_ref_advertisement(app: InProcess) -> None:
    app.publish(app.unique("gitadv"))
    response = app.get("/git/index/info/refs", params={"service": "git-upload-pack"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert response.content.startswith(b"001e# service=git-upload-pack\n0000")
    assert _head(app).encode() + b" HEAD" in response.content
    assert b"refs/heads/main" in response.content
    assert "no-cache" in response.headers["Cache-Control"]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_upload_pack_sends_a_pack(app: InProcess, compress: bool) -> None:
    body = _want_head(app)
    headers = {"Content-Type": UPLOAD_REQUEST}
    if compress:
        body = gzip.compress(body, mtime=0)
        headers["Content-Encoding"] = "gzip"
    response = app.request("POST", "/git/index/git-upload-pack", body=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert b"PACK" in response.content


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        pkt_line(b"want nothing\n") + pkt_line(None),
        pkt_line(b"want " + b"0" * 40 + b"\n") + pkt_line(None),
    ],
)
def test_bad_upload_pack_requests_are_client_errors(app: InProcess, body: bytes) -> None:
    response = app.request("POST", "/git/index/git-upload-pack", body=body, headers={"Content-Type": UPLOAD_REQUEST})
    assert 400 <= response.status_code < 500
    assert "errors" in response.json


def test_upload_pack_needs_its_content_type(app: InProcess) -> None:
    response = app.request("POST", "/git/index/git-upload-pack", body=_want_head(app))
    assert response.status_code == 415
    assert "errors" in response.json


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/git/index/info/refs", {"service": "git-receive-pack"}),
        ("POST", "/git/index/git-receive-pack", {}),
    ],
)
def test_push_is_refused_with_a_reason(app: InProcess, method: str, path: str, params: dict) -> None:
    before = _head(app)
    response = app.request(
        method, path, params=params, headers={"Content-Type": "application/x-git-receive-pack-request"}
    )
    assert response.status_code == 403
    assert "read-only" in response.json["errors"][0]["detail"]
    assert _head(app) == before


@pytest.mark.parametrize("params", [{}, {"service": "git-upload-archive"}])
def test_dumb_or_unknown_services_are_refused(app: InProcess, params: dict) -> None:
    response = app.get("/git/index/info/refs", params=params)
    assert response.status_code == 403
    assert "errors" in response.json
