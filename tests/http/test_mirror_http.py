"""The mirror through a real `palletizer-all`: index files and downloads of an upstream made by the test."""

import json
import threading
from pathlib import Path

import requests

from palletizer_lib.core.registry import Registry
from palletizer_services.metrics import MIRRORED_LABEL
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, metadata
from tests.support.prometheus import samples, value
from tests.support.server import running_server
from tests.support.static_upstream import StaticUpstream, upstream_dep


def test_index_files_and_downloads_come_from_the_upstream(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    good = make_crate("walkdir", "2.3.2")
    upstream.add("same-file", "1.0.6", make_crate("same-file", "1.0.6"))
    upstream.add("walkdir", "2.3.2", good, [upstream_dep("same-file", "^1.0.4")])
    bad = make_crate("broken", "1.0.0")
    upstream.add("broken", "1.0.0", bad, served=bad + b"tampered")
    upstream.add("shadowed", "9.0.0", make_crate("shadowed", "9.0.0"))
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    run_cli(data, "allow-name", "Shadowed")
    Registry(data).publish(metadata("Shadowed", "1.0.0"), make_crate("Shadowed", "1.0.0"))
    try:
        with running_server(data) as url:
            index = requests.get(f"{url}/index/wa/lk/walkdir", timeout=30)
            assert index.status_code == 200
            assert index.content == (upstream.root / "index/wa/lk/walkdir").read_bytes()
            etag = index.headers["ETag"]
            again = requests.get(f"{url}/index/wa/lk/walkdir", headers={"If-None-Match": etag}, timeout=30)
            assert (again.status_code, again.content) == (304, b"")
            assert upstream.requests["/index/wa/lk/walkdir"] == 1
            dependency = requests.get(f"{url}/index/sa/me/same-file", timeout=30)
            assert dependency.content == (upstream.root / "index/sa/me/same-file").read_bytes()
            assert upstream.requests["/index/sa/me/same-file"] == 1

            download = requests.get(f"{url}/files/walkdir/walkdir-2.3.2.crate", timeout=30)
            assert (download.status_code, download.content) == (200, good)

            refused = requests.get(f"{url}/files/broken/broken-1.0.0.crate", timeout=30)
            assert refused.status_code == 502
            assert "does not match the checksum" in refused.json()["errors"][0]["detail"]
            assert not (data / "mirror/crates/broken/broken-1.0.0.crate").exists()

            missing = requests.get(f"{url}/index/no/pe/nope", timeout=30)
            assert missing.status_code == 404 and missing.json()["errors"]

            local = requests.get(f"{url}/index/sh/ad/shadowed", timeout=30)
            assert [json.loads(line)["vers"] for line in local.text.splitlines()] == ["1.0.0"]
            assert requests.get(f"{url}/files/shadowed/shadowed-9.0.0.crate", timeout=30).status_code == 404
            assert upstream.requests["/index/sh/ad/shadowed"] == 0

            upstream.stop()
            cached = requests.get(f"{url}/files/walkdir/walkdir-2.3.2.crate", timeout=30)
            assert (cached.status_code, cached.content) == (200, good)
            unreachable = requests.get(f"{url}/index/se/rd/serde", timeout=60)
            assert unreachable.status_code == 502
            assert "could not be reached" in unreachable.json()["errors"][0]["detail"]

            metrics = _samples(requests.get(f"{url}/metrics", timeout=30).text)
            assert metrics['palletizer_mirror_cache_hits_total{kind="crate"}'] == 1
            assert metrics['palletizer_mirror_cache_misses_total{kind="crate"}'] == 2
            assert metrics["palletizer_mirror_upstream_errors_total"] == 2
            assert metrics["palletizer_mirror_upstream_bytes_total"] > len(good)
            assert metrics["palletizer_mirror_stale_served_total"] == 0
    finally:
        upstream.stop()


def test_a_hanging_upstream_stalls_only_its_own_request(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"))
    upstream.add("leaf", "1.0.0", make_crate("leaf", "1.0.0"))
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    run_cli(data, "allow-name", "mine")
    Registry(data).publish(metadata("mine", "1.0.0"), make_crate("mine", "1.0.0"))
    try:
        with running_server(data, "--threads", "4") as url:
            assert requests.get(f"{url}/index/wa/lk/walkdir", timeout=30).status_code == 200
            upstream.hold.clear()
            results: list[int] = []
            held = threading.Thread(
                target=lambda: results.append(
                    requests.get(f"{url}/files/walkdir/walkdir-2.3.2.crate", timeout=60).status_code
                )
            )
            held.start()
            assert upstream.held.wait(30)
            for _ in range(3):
                assert requests.get(f"{url}/index/mi/ne/mine", timeout=10).status_code == 200
                assert requests.get(f"{url}/index/wa/lk/walkdir", timeout=10).status_code == 200
                assert requests.get(f"{url}/index/le/af/leaf", timeout=10).status_code == 200
            upstream.hold.set()
            held.join(60)
            assert results == [200]
    finally:
        upstream.stop()


def _samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("palletizer_mirror_")
    }


def test_mirrored_downloads_add_one_metrics_series_however_many_crates(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    names = [f"mirrored{n}" for n in range(12)]
    for name in names:
        upstream.add(name, "1.0.0", make_crate(name, "1.0.0"))
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    Registry(data).publish(metadata("Own_Crate", "1.0.0"), make_crate("Own_Crate", "1.0.0"))
    try:
        with running_server(data) as url:
            assert requests.get(f"{url}/files/Own_Crate/Own_Crate-1.0.0.crate", timeout=30).status_code == 200
            for name in names:
                download = requests.get(f"{url}/files/{name}/{name}-1.0.0.crate", timeout=30)
                assert download.status_code == 200, download.text
            found = samples(requests.get(f"{url}/metrics", timeout=30))
    finally:
        upstream.stop()
    series = {labels for name, labels in found if name == "palletizer_crate_downloads_total"}
    assert series == {frozenset({("crate", "Own_Crate")}), frozenset({("crate", MIRRORED_LABEL)})}
    assert value(found, "palletizer_crate_downloads_total", crate=MIRRORED_LABEL) == len(names)
    assert value(found, "palletizer_crate_downloads_total", crate="Own_Crate") == 1
