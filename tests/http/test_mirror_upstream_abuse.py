"""A hostile or private upstream through a real `palletizer-all`: an upstream that accepts and never answers
holds at most the bound of threads (the rest get 503 with Retry-After, local crates and /health are
served), and an upstream's password is sent to it but never shown nor kept in config.yaml."""

import base64
import json
import stat
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, metadata
from tests.support.hostile_upstream import HoldingUpstream, ScriptedUpstream, answer
from tests.support.server import running_server
from tests.support.static_upstream import upstream_entry

SAFETY_TIMEOUT = 60
BOUND = 2


def _get(url: str, results: list[requests.Response]) -> None:
    results.append(requests.get(url, timeout=SAFETY_TIMEOUT))


def test_a_hanging_upstream_holds_at_most_the_bound_of_threads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(data, "init")
    mine = make_crate("mine", "1.0.0")
    Registry(data).publish(metadata("mine", "1.0.0"), mine)
    upstream = HoldingUpstream()
    config = RegistryConfig.load(data / "config.yaml")
    config.upstream = upstream.index_url
    config.upstream_concurrency = BOUND
    config.upstream_failure_hold = 600
    config.save(data / "config.yaml")
    try:
        with running_server(data, "--threads", "8") as url:
            held: list[requests.Response] = []
            waiting = [threading.Thread(target=_get, args=(f"{url}/index/ha/ng/hang{n}", held)) for n in range(BOUND)]
            for thread in waiting:
                thread.start()
            assert upstream.wait_for(BOUND, SAFETY_TIMEOUT)
            for n in range(3):
                extra = requests.get(f"{url}/index/ex/tr/extra{n}", timeout=SAFETY_TIMEOUT)
                assert extra.status_code == 503, extra.text
                assert int(extra.headers["Retry-After"]) >= 1
                assert extra.json()["errors"][0]["detail"]
                assert requests.get(f"{url}/health", timeout=SAFETY_TIMEOUT).status_code == 200
                assert requests.get(f"{url}/index/mi/ne/mine", timeout=SAFETY_TIMEOUT).status_code == 200
                local = requests.get(f"{url}/files/mine/mine-1.0.0.crate", timeout=SAFETY_TIMEOUT)
                assert (local.status_code, local.content) == (200, mine)
            assert upstream.accepted == BOUND
            upstream.release()
            for thread in waiting:
                thread.join(SAFETY_TIMEOUT)
            assert sorted(r.status_code for r in held) == [502] * BOUND
            remembered = requests.get(f"{url}/index/af/te/after", timeout=SAFETY_TIMEOUT)
            assert remembered.status_code == 503 and int(remembered.headers["Retry-After"]) >= 1
            assert upstream.accepted == BOUND
    finally:
        upstream.release()


def test_an_upstream_password_is_sent_but_never_shown_nor_in_config_yaml(tmp_path: Path) -> None:
    password = "s3cret-Pa55word"
    expected = "Basic " + base64.b64encode(f"mirror-user:{password}".encode()).decode()
    crate = make_crate("walkdir", "2.3.2")
    entry = json.dumps(upstream_entry("walkdir", "2.3.2", crate)).encode() + b"\n"
    seen: list[str | None] = []

    def script(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        seen.append(handler.headers.get("Authorization"))
        if handler.headers.get("Authorization") != expected:
            answer(handler, 401, headers={"WWW-Authenticate": 'Basic realm="upstream"'})
        elif handler.path == "/index/config.json":
            answer(handler, 200, json.dumps({"dl": f"{upstream.url}/crates"}).encode())
        elif handler.path == "/index/wa/lk/walkdir":
            answer(handler, 200, entry)
        elif handler.path == "/crates/walkdir/2.3.2/download":
            answer(handler, 200, crate)
        else:
            answer(handler, 404)

    upstream = ScriptedUpstream(script)
    data = tmp_path / "data"
    with_password = f"sparse+{upstream.url.replace('http://', f'http://mirror-user:{password}@')}/index/"
    try:
        run_cli(data, "init", "--upstream", with_password)
        assert password not in (data / "config.yaml").read_text()
        assert RegistryConfig.load(data / "config.yaml").upstream == upstream.index_url
        assert stat.S_IMODE((data / "upstream-credentials").stat().st_mode) == 0o600
        with running_server(data) as url:
            assert requests.get(f"{url}/index/wa/lk/walkdir", timeout=SAFETY_TIMEOUT).content == entry
            download = requests.get(f"{url}/files/walkdir/walkdir-2.3.2.crate", timeout=SAFETY_TIMEOUT)
            assert (download.status_code, download.content) == (200, crate)
            assert seen and all(header == expected for header in seen)
            front = requests.get(f"{url}/", timeout=SAFETY_TIMEOUT).text
            assert f"mirrored from {upstream.index_url}" in front
            for path in (
                "/",
                "/crates/walkdir",
                "/api/v1/crates?q=walkdir",
                "/api/v1/crates/walkdir",
                "/api/v1/crates/walkdir/2.3.2",
                "/index/config.json",
                "/metrics",
                "/index/no/pe/nope",
            ):
                shown = requests.get(f"{url}{path}", timeout=SAFETY_TIMEOUT)
                assert password not in shown.text and "mirror-user" not in shown.text, path
        assert password not in run_cli(data, "mirror", "status").out
        assert all(password not in log.read_text() for log in tmp_path.glob("*.log"))

        (data / "config.yaml").write_text((data / "config.yaml").read_text().replace(upstream.index_url, with_password))
        refused = run_cli(data, "mirror", "status", check=False)
        assert refused.code != 0
        assert "upstream-credentials" in refused.err and len(refused.err.strip().splitlines()) == 1
        assert password not in refused.err
    finally:
        upstream.stop()
