"""Anonymous clients against the mirror of a real `palletizer-all`: names the upstream lacks leave nothing
behind, downloads keep the cache within its size, a crate with many versions is one parse and a paged list,
large index files leave memory bounded, and neither another spelling of an upstream name nor hostile upstream
entries get through."""

import json
import os
import random
from pathlib import Path

import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, metadata, publish_body
from tests.support.server import issue_token, running_server
from tests.support.static_upstream import StaticUpstream


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_names_the_upstream_lacks_leave_nothing_behind(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    upstream.add("serde", "1.0.0", make_crate("serde", "1.0.0"))
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    names = [f"zz{random.Random(n).getrandbits(64):016x}" for n in range(500)]
    try:
        with running_server(data) as url, requests.Session() as session:
            for name in names:
                assert session.get(f"{url}/index/{index_path(name)}", timeout=30).status_code == 404
            assert session.get(f"{url}/index/se/rd/serde", timeout=30).status_code == 200
            assert sum(upstream.requests[f"/index/{index_path(name)}"] for name in names) == len(names)
            assert session.get(f"{url}/index/{index_path(names[0])}", timeout=30).status_code == 404
            assert upstream.requests[f"/index/{index_path(names[0])}"] == 1
            assert session.get(f"{url}/", timeout=30).status_code == 200
            found = session.get(f"{url}/api/v1/crates", params={"q": "zz"}, timeout=30).json()
            assert found["meta"]["total"] == 0
            listed = session.get(f"{url}/api/v1/crates", params={"q": "serde"}, timeout=30).json()
            assert [c["name"] for c in listed["crates"]] == ["serde"]
            assert session.get(f"{url}/crates/serde", timeout=30).status_code == 200
        assert [p.name for p in _files(data / "mirror/index")] == ["serde"]
        status = run_cli(data, "mirror", "status").out
        assert "index files: 1 (" in status
        assert run_cli(data, "verify").code == 0
    finally:
        upstream.stop()


def test_downloads_keep_the_cache_within_its_size(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    crates = {
        f"big{n}": make_crate(f"big{n}", "1.0.0", files={"blob": random.Random(n).randbytes(50_000)}) for n in range(12)
    }
    for name, crate in crates.items():
        upstream.add(name, "1.0.0", crate)
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url, "--mirror-cache-size", "200000")
    run_cli(data, "allow-name", "mine")
    own = make_crate("mine", "1.0.0", files={"blob": random.Random(99).randbytes(50_000)})
    Registry(data).publish(metadata("mine", "1.0.0"), own)
    try:
        with running_server(data) as url, requests.Session() as session:
            for name, crate in crates.items():
                assert session.get(f"{url}/index/{index_path(name)}", timeout=30).status_code == 200
                download = session.get(f"{url}/files/{name}/{name}-1.0.0.crate", timeout=30)
                assert (download.status_code, download.content) == (200, crate)
                held = sum(p.stat().st_size for p in _files(data / "mirror/index") + _files(data / "mirror/crates"))
                assert held <= 200_000
            again = session.get(f"{url}/files/big0/big0-1.0.0.crate", timeout=30)
            assert (again.status_code, again.content) == (200, crates["big0"])
            assert session.get(f"{url}/files/mine/mine-1.0.0.crate", timeout=30).content == own
        assert (data / "crates/mine/mine-1.0.0.crate").read_bytes() == own
        assert run_cli(data, "verify").code == 0
    finally:
        upstream.stop()


def test_a_mirrored_crate_with_many_versions_is_paged(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    crate = make_crate("many", "0.0.1")
    for minor in range(250):
        upstream.add("many", f"0.{minor}.0", crate)
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    try:
        with running_server(data) as url:
            index = requests.get(f"{url}/index/ma/ny/many", timeout=30)
            assert len(index.text.splitlines()) == 250
            first = requests.get(f"{url}/crates/many", timeout=30)
            assert first.status_code == 200
            assert "versions page 1 of 3" in first.text and "0.249.0" in first.text and ">0.10.0<" not in first.text
            last = requests.get(f"{url}/crates/many/0.3.0", params={"versions": 3}, timeout=30)
            assert last.status_code == 200
            assert "versions page 3 of 3" in last.text and ">0.0.0<" in last.text and ">0.249.0<" not in last.text
            assert json.loads(index.text.splitlines()[3])["vers"] == "0.3.0"
    finally:
        upstream.stop()


def test_a_mixed_spelling_and_hostile_entries_are_kept_out(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    upstream.add("foo_bar-baz", "1.0.0", make_crate("foo_bar-baz", "1.0.0"))
    good = {"name": "evil", "vers": "1.0.0", "deps": [], "cksum": "a" * 64, "features": {}, "yanked": False}
    hostile = [{**good, "vers": "../../../x"}, {**good, "vers": "1.0.1\r\n"}, {**good, "name": "EVIL", "vers": "1.0.2"}]
    path = upstream.root / "index/ev/il/evil"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in [good, *hostile]))
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    token = issue_token(data)
    try:
        with running_server(data) as url:
            refused = requests.put(
                f"{url}/api/v1/crates/new",
                data=publish_body("foo-bar_baz", "1.0.0"),
                headers={"Authorization": token},
                timeout=30,
            )
            assert refused.status_code == 403
            assert "as `foo_bar-baz`" in refused.json()["errors"][0]["detail"]
            served = requests.get(f"{url}/index/fo/o_/foo_bar-baz", timeout=30)
            assert [json.loads(line)["name"] for line in served.text.splitlines()] == ["foo_bar-baz"]
            evil = requests.get(f"{url}/index/ev/il/evil", timeout=30)
            assert evil.status_code == 200 and evil.text == json.dumps(good) + "\n"
        assert not (data / "crates/foo-bar_baz").exists()
    finally:
        upstream.stop()


def test_large_upstream_index_files_leave_memory_bounded(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    padding = {"pad": ["a" * 1000] * 1000}
    for number in range(24):
        name = f"wide{number}"
        entries = [
            {"name": name, "vers": f"1.0.{v}", "deps": [], "cksum": "a" * 64, "features": padding, "yanked": False}
            for v in range(8)
        ]
        path = upstream.root / "index" / index_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    try:
        with running_server(data) as url, requests.Session() as session:
            idle = _resident_mib(url)
            for _ in range(2):
                for number in range(24):
                    answer = session.get(f"{url}/index/{index_path(f'wide{number}')}", timeout=60)
                    assert answer.status_code == 200 and len(answer.content) > 7_000_000
            assert session.get(f"{url}/health", timeout=30).status_code == 200
            assert _resident_mib(url) - idle < 200
    finally:
        upstream.stop()


def _resident_mib(url: str) -> int:
    """The resident memory of the server listening at `url`, in MiB."""
    port = url.rsplit(":", 1)[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{int(port):04X}") and fields[3] == "0A":
            inode = fields[9]
            break
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if any(os.readlink(fd) == f"socket:[{inode}]" for fd in (proc / "fd").iterdir()):
                    status = (proc / "status").read_text()
                    return int(status.split("VmRSS:")[1].split()[0]) // 1024
            except OSError:
                continue
    raise AssertionError(f"no process listens on port {port}")
