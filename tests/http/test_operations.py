"""Operations on real servers: `/metrics` behind read access and from every server command, the access log,
`--log-level`. (What `/metrics` counts: tests/services/test_metrics.py.)"""

import base64
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.prometheus import Samples, samples, value
from tests.support.publishing import publish_over_http
from tests.support.server import BIN, issue_token, running_server, running_service

PROGRAMS = ("palletizer-all", "palletizer-api", "palletizer-index", "palletizer-files")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    Registry.create(path, RegistryConfig())
    return path


def download(files: str, name: str, version: str = "1.0.0") -> None:
    response = requests.get(f"{files}/files/{name}/{name}-{version}.crate", timeout=10)
    assert response.status_code == 200, response.text


def metrics(url: str) -> Samples:
    return samples(requests.get(f"{url}/metrics", timeout=10))


def access_lines(url: str, data: Path, program: str = "palletizer-all", expected: int = 0) -> list[str]:
    """The access log lines the server at `url` wrote so far (waiting a little for `expected` of them)."""
    log = data.parent / f"{program}-{url.rsplit(':', 1)[1]}.log"
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in log.read_text().splitlines() if " palletizer.access " in line]
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines


def fields(line: str) -> dict[str, str]:
    """The key=value fields of an access log line (values quoted as JSON strings when not plain)."""
    found = {}
    rest = line.split(" palletizer.access INFO ", 1)[1]
    while rest:
        key, _, rest = rest.partition("=")
        if rest.startswith('"'):
            decoder = json.JSONDecoder()
            found[key], end = decoder.raw_decode(rest)
            rest = rest[end:].lstrip(" ")
        else:
            found[key], _, rest = rest.partition(" ")
    return found


def test_metrics_need_a_read_token_when_reads_do(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig(auth_required=True))
    token = issue_token(data, "reader", ("read",))
    with running_server(data) as url:
        assert requests.get(f"{url}/metrics", timeout=10).status_code == 401
        assert requests.get(f"{url}/index/3/a/abc", timeout=10).status_code == 401
        allowed = requests.get(f"{url}/metrics", timeout=10, headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and "palletizer_index_crates" in allowed.text
        assert requests.get(f"{url}/health", timeout=10).status_code == 200
    found = samples(allowed)
    # Refused before Falcon routed them, they still count under their route template.
    for route in ("/metrics", "/index/{a}/{b}/{c}"):
        assert value(found, "palletizer_http_requests_total", method="GET", route=route, status="401") == 1


def test_the_access_log_has_one_line_per_request_and_never_a_token(data: Path) -> None:
    token = issue_token(data)
    basic = base64.b64encode(f"cargo:{token}".encode()).decode()
    with running_server(data) as url:
        before = len(access_lines(url, data))
        publish_over_http(url, token, "logged")
        config = requests.get(
            f"{url}/index/config.json?token={token}", timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
        requests.get(
            f"{url}/git/index/info/refs?service=git-upload-pack",
            timeout=10,
            headers={"Authorization": f"Basic {basic}"},
        )
        requests.head(f"{url}/files/logged/logged-1.0.0.crate", timeout=10)
        requests.get(f"{url}/index/3/l/logged%0Aforged=1 x", timeout=10)
        lines = access_lines(url, data, expected=before + 5)[before:]
        text = (data.parent / f"palletizer-all-{url.rsplit(':', 1)[1]}.log").read_text()

    assert token not in text and basic not in text and "Authorization" not in text
    assert len(lines) == 5, lines
    logged = [fields(line) for line in lines]
    assert all(set(f) == {"method", "path", "route", "status", "duration_ms", "client", "bytes"} for f in logged)
    assert {k: logged[0][k] for k in ("method", "path", "route", "status", "client")} == {
        "method": "PUT",
        "path": "/api/v1/crates/new",
        "route": "/api/v1/crates/new",
        "status": "200",
        "client": "127.0.0.1",
    }
    assert logged[1]["path"] == "/index/config.json"  # no query string
    assert logged[1]["bytes"] == str(len(config.content))
    assert logged[2]["route"] == "/git/index/info/refs" and logged[2]["bytes"] == "-"  # a stream of unknown size
    assert (logged[3]["method"], logged[3]["bytes"]) == ("HEAD", "0")
    assert logged[4]["path"] == "/index/3/l/logged\nforged=1 x"  # quoted: still one line
    assert float(logged[4]["duration_ms"]) >= 0


@pytest.mark.parametrize(
    ("option", "environment", "logged"),
    [
        ((), None, True),  # the default, INFO, includes the access log
        (("--log-level", "warning"), None, False),
        ((), "ERROR", False),
        (("--log-level", "info"), "ERROR", True),  # the option wins over the environment
    ],
)
def test_the_log_level_decides_whether_requests_are_logged(
    data: Path, monkeypatch: pytest.MonkeyPatch, option: tuple[str, ...], environment: str | None, logged: bool
) -> None:
    if environment is None:
        monkeypatch.delenv("PALLETIZER_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("PALLETIZER_LOG_LEVEL", environment)
    with running_server(data, *option) as url:
        requests.get(f"{url}/index/config.json", timeout=10)
        lines = access_lines(url, data, expected=2 if logged else 0)
    assert bool(lines) == logged
    if logged:
        assert any("path=/index/config.json" in line for line in lines)


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_server_command_refuses_an_unknown_log_level(program: str, data: Path) -> None:
    result = subprocess.run(
        [str(BIN / program), "--data", str(data), "--log-level", "loud"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "invalid log level `loud`: choose one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in result.stderr


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_server_command_serves_metrics(program: str, data: Path) -> None:
    with running_service(program, data) as url:
        samples = metrics(url)
    assert value(samples, "palletizer_http_requests_total", method="GET", route="/health", status="200") >= 1
