"""A publish interrupted by SIGKILL at each of its steps: after a restart the registry is consistent,
the crate is fully published or not at all, and a retry of the same publish succeeds."""

import hashlib
import json
import signal
import sys
from pathlib import Path

import pytest
import requests
from dulwich.repo import Repo

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cli import run_cli
from tests.support.crash_server import STEPS
from tests.support.cratekit import make_crate, metadata
from tests.support.publishing import put_crate
from tests.support.server import free_port, issue_token, running_process, running_service


def _crash_while_publishing(data: Path, step: str, token: str, body: bytes) -> int:
    """Kill a server at `step` of publishing `body`; return its port (restart there: a new public URL
    would commit a new config.json, whose sync would repair the registry instead of the startup)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "tests.support.crash_server",
        step,
        "--data",
        str(data),
        "--listen",
        f"127.0.0.1:{port}",
    ]
    with running_process(command, f"{url}/health", data.parent / f"crash-{step}.log") as process:
        with pytest.raises(requests.ConnectionError):
            put_crate(url, token, body)
        assert process.wait(timeout=30) == -signal.SIGKILL
    return port


def _index_lines(url: str) -> list[dict] | None:
    response = requests.get(f"{url}/index/{index_path('victim')}", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.mark.parametrize("step", STEPS)
def test_a_publish_killed_at_any_step(tmp_path: Path, step: str) -> None:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    crate = make_crate("victim", "1.0.0")
    body = encode_publish_body(metadata("victim", "1.0.0"), crate)
    checksum = hashlib.sha256(crate).hexdigest()

    port = _crash_while_publishing(data, step, token, body)

    with running_service("palletizer-all", data, port=port) as url:
        assert run_cli(data, "verify").code == 0
        seen = _index_lines(url)
        if seen is not None:
            assert [(e["vers"], e["cksum"]) for e in seen] == [("1.0.0", checksum)]
            assert requests.get(f"{url}/files/victim/victim-1.0.0.crate", timeout=10).content == crate
        else:
            assert not (data / "crates" / "victim" / "victim-1.0.0.crate").exists()

        assert put_crate(url, token, body).status_code == 200, "a retry of the same publish succeeds"
        assert [(e["vers"], e["cksum"]) for e in _index_lines(url)] == [("1.0.0", checksum)]
        assert requests.get(f"{url}/files/victim/victim-1.0.0.crate", timeout=10).content == crate
        assert run_cli(data, "owner", "list", "victim").out.split() == ["tester"]
    assert run_cli(data, "verify").code == 0
    assert not list(data.rglob(".tmp-*")) and not list((data / "index.git").rglob("*.lock"))
    messages = [entry.commit.message for entry in Repo(str(data / "index.git")).get_walker()]
    assert messages.count(b"Publish victim 1.0.0\n") == 1
    assert all(len(entry.commit.parents) <= 1 for entry in Repo(str(data / "index.git")).get_walker())
