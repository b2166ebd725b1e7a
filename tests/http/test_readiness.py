"""The harness's wait for a server it started: a readiness probe that times out is tried again, so a server
too busy to answer its first probe in time (a loaded machine) is waited for, not taken for dead."""

import sys
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support import readiness
from tests.support.server import free_port, running_process


def test_a_server_whose_first_health_answer_is_late_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readiness, "PROBE_SECONDS", 1.0)  # the first probe times out sooner
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "tests.support.slow_health_server",
        "--data",
        str(data),
        "--listen",
        f"127.0.0.1:{port}",
    ]
    with running_process(command, f"{url}/health", tmp_path / "server.log"):
        assert requests.get(f"{url}/index/config.json", timeout=10).json()["dl"].startswith(url)
