"""Cached mirrored crates in search and on the web pages, through a real `palletizer-all`: marked as
mirrored with the upstream named, local crates first and shadowing upstream ones, never asking the upstream."""

import json
import re
import time
from pathlib import Path

import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.mirror.cache_files import encode_cached
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, metadata
from tests.support.server import running_server
from tests.support.static_upstream import StaticUpstream, upstream_dep


def _yank_upstream(upstream: StaticUpstream, path: str, version: str) -> None:
    file = upstream.root / "index" / path
    entries = [json.loads(line) for line in file.read_text().splitlines()]
    for entry in entries:
        entry["yanked"] = entry["yanked"] or entry["vers"] == version
    file.write_text("".join(json.dumps(e) + "\n" for e in entries))


def _written(path: Path) -> bytes:
    """The content of a file the mirror writes behind its answer, once it is there (at most 30 s)."""
    for _ in range(300):
        if path.is_file():
            return path.read_bytes()
        time.sleep(0.1)
    return path.read_bytes()


def _asked_once(upstream: StaticUpstream, path: str, seconds: float = 30.0) -> None:
    """Wait until the upstream was asked for `path` (a read-ahead the server does in the background), so that
    what is counted after it is only what the test's own requests ask."""
    deadline = time.monotonic() + seconds
    while upstream.requests[path] < 1:
        assert time.monotonic() < deadline, f"the upstream was never asked for {path}"
        time.sleep(0.02)


def test_search_and_pages_show_cached_mirrored_crates(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"), deps=[upstream_dep("same-file", "1")])
    upstream.add("walkdir", "2.4.0", make_crate("walkdir", "2.4.0"))
    _yank_upstream(upstream, "wa/lk/walkdir", "2.4.0")
    upstream.add("walk_local", "5.0.0", make_crate("walk_local", "5.0.0"))
    upstream.add("walkabout", "0.1.0", make_crate("walkabout", "0.1.0"))
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    run_cli(data, "allow-name", "walk-local")
    Registry(data).publish(
        metadata("walk-local", "1.0.0", description="our own walker"), make_crate("walk-local", "1.0.0")
    )
    try:
        with running_server(data) as url:
            assert requests.get(f"{url}/index/wa/lk/walkdir", timeout=30).status_code == 200
            _asked_once(upstream, "/index/sa/me/same-file")  # walkdir's dependency, read ahead in the background
            (data / "mirror/index/wa/lk").mkdir(parents=True, exist_ok=True)
            (data / "mirror/index/wa/lk/walk_local").write_bytes(
                _written(data / "mirror/index/wa/lk/walkdir").split(b"\n")[0]
                + b"\n"
                + (upstream.root / "index/wa/lk/walk_local").read_bytes()
            )
            assert requests.get(f"{url}/index/no/pe/nope", timeout=30).status_code == 404
            asked = sum(upstream.requests.values())

            found = requests.get(f"{url}/api/v1/crates", params={"q": "walk"}, timeout=30)
            assert found.status_code == 200, found.text
            shown = ("name", "max_version", "description", "downloads")
            assert [{key: crate[key] for key in shown} for crate in found.json()["crates"]] == [
                {"name": "walk-local", "max_version": "1.0.0", "description": "our own walker", "downloads": 0},
                {
                    "name": "walkdir",
                    "max_version": "2.3.2",
                    "description": f"mirrored from {upstream.index_url}",
                    "downloads": 0,
                },
            ]
            assert found.json()["meta"] == {"total": 2, "next_page": None, "prev_page": None}
            limited = requests.get(f"{url}/api/v1/crates", params={"q": "walk", "per_page": 1}, timeout=30).json()
            assert [c["name"] for c in limited["crates"]] == ["walk-local"] and limited["meta"]["total"] == 2
            assert requests.get(f"{url}/api/v1/crates", params={"q": "nope"}, timeout=30).json()["meta"]["total"] == 0
            assert (
                requests.get(f"{url}/api/v1/crates", params={"q": "mirrored"}, timeout=30).json()["meta"]["total"] == 0
            )

            listing = requests.get(f"{url}/", timeout=30)
            assert listing.status_code == 200
            assert "2 crates" in listing.text
            assert listing.text.index("walk-local") < listing.text.index("walkdir")
            assert listing.text.count("mirrored from") == 1
            assert f"mirrored from {upstream.index_url}" in listing.text
            searched = requests.get(f"{url}/", params={"q": "walkd"}, timeout=30)
            assert "1 crate matching" in searched.text and f"mirrored from {upstream.index_url}" in searched.text

            page = requests.get(f"{url}/crates/walkdir", timeout=30)
            assert page.status_code == 200, page.text
            assert "mirrored</span> from " + upstream.index_url in page.text
            assert "no README here" in page.text
            assert '<span class="version">2.3.2</span>' in page.text
            assert re.search(
                r'<li class="yanked">\s*<span class="vers"><a href="/crates/walkdir/2.4.0">2.4.0</a>\s*'
                r'<span class="badge yanked">',
                page.text,
            )
            assert not re.search(r'2\.3\.2</a>\s*<span class="badge yanked">', page.text)
            assert 'href="/crates/same-file">same-file</a>' in page.text
            yanked = requests.get(f"{url}/crates/walkdir/2.4.0", timeout=30)
            assert yanked.status_code == 200
            assert re.search(r'<span class="version">2\.4\.0</span>\s*<span class="badge yanked">', yanked.text)
            assert requests.get(f"{url}/crates/walkdir/9.9.9", timeout=30).status_code == 404

            local = requests.get(f"{url}/crates/walk_local", timeout=30)
            assert local.status_code == 200 and "mirrored" not in local.text
            assert '<span class="version">1.0.0</span>' in local.text and "5.0.0" not in local.text
            for name in ("walkabout", "nope", "serde"):
                assert requests.get(f"{url}/crates/{name}", timeout=30).status_code == 404

            assert sum(upstream.requests.values()) == asked
    finally:
        upstream.stop()


def test_without_an_upstream_the_cache_is_not_shown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(data, "init")
    cached = data / "mirror/index/wa/lk/walkdir"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(
        encode_cached(
            {},
            json.dumps(
                {"name": "walkdir", "vers": "1.0.0", "deps": [], "cksum": "0" * 64, "features": {}, "yanked": False}
            ).encode()
            + b"\n",
        )
    )
    with running_server(data) as url:
        assert requests.get(f"{url}/api/v1/crates", params={"q": "walk"}, timeout=30).json()["meta"]["total"] == 0
        assert requests.get(f"{url}/crates/walkdir", timeout=30).status_code == 404
