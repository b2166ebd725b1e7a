"""palletizer-api, palletizer-index and palletizer-files as separate processes over one data directory."""

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from dulwich.repo import Repo

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, publish_body
from tests.support.http import assert_error
from tests.support.publishing import publish_over_http, put_crate
from tests.support.server import BIN, Split, issue_token, running_service, running_split


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Split, Path]]:
    data = tmp_path_factory.mktemp("split") / "data"
    Registry.create(data, RegistryConfig())
    with running_split(data) as urls:
        yield urls, data


def index_versions(index_url: str, name: str) -> list[str]:
    response = requests.get(f"{index_url}/index/{index_path(name)}", timeout=10)
    assert response.status_code == 200, response.text
    return [json.loads(line)["vers"] for line in response.text.splitlines()]


def test_config_json_sends_cargo_to_the_api_and_files_services(split: tuple[Split, Path]) -> None:
    urls, _ = split
    assert requests.get(f"{urls.index}/index/config.json", timeout=10).json() == {
        "dl": f"{urls.files}/files/{{crate}}/{{crate}}-{{version}}.crate",
        "api": urls.api,
        "public-url": urls.index,
    }


def test_a_publish_to_the_api_is_served_by_the_index_and_the_files(split: tuple[Split, Path]) -> None:
    urls, data = split
    token = issue_token(data)
    publish_over_http(urls.api, token, "apart")
    assert index_versions(urls.index, "apart") == ["1.0.0"]
    template = requests.get(f"{urls.index}/index/config.json", timeout=10).json()["dl"]
    download = requests.get(template.format(crate="apart", version="1.0.0"), timeout=10)
    assert download.status_code == 200
    assert download.content == make_crate("apart", "1.0.0")


def test_the_api_service_sends_cargo_to_its_own_me_for_a_token(split: tuple[Split, Path]) -> None:
    urls, data = split
    before = Registry(data).log.head()
    response = requests.put(f"{urls.api}/api/v1/crates/new", data=publish_body("anonymous", "1.0.0"), timeout=10)
    assert "cargo login" in assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == f'Cargo login_url="{urls.api}/me"'
    assert "palletizer token create" in requests.get(f"{urls.api}/me", timeout=10).text
    assert Registry(data).log.head() == before
    assert_error(requests.get(f"{urls.index}/index/{index_path('anonymous')}", timeout=10), 404)


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("api", "/index/config.json"),
        ("api", "/files/apart/apart-1.0.0.crate"),
        ("index", "/api/v1/crates?q=apart"),
        ("index", "/files/apart/apart-1.0.0.crate"),
        ("files", "/index/config.json"),
        ("files", "/api/v1/crates?q=apart"),
    ],
)
def test_each_service_serves_only_its_part(split: tuple[Split, Path], service: str, path: str) -> None:
    urls, _ = split
    assert_error(requests.get(getattr(urls, service) + path, timeout=10), 404)


@pytest.mark.parametrize("service", ["api", "index", "files"])
def test_every_service_answers_health(split: tuple[Split, Path], service: str) -> None:
    urls, _ = split
    response = requests.get(f"{getattr(urls, service)}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_every_service_reports_a_broken_data_directory(split: tuple[Split, Path]) -> None:
    urls, data = split
    (data / "crates").rename(data.parent / "crates-aside")
    try:
        for url in (urls.api, urls.index, urls.files):
            assert "crates/ is missing" in assert_error(requests.get(f"{url}/health", timeout=10), 503)
    finally:
        (data.parent / "crates-aside").rename(data / "crates")
    assert all(requests.get(f"{url}/health", timeout=10).ok for url in (urls.api, urls.index, urls.files))


def test_the_api_and_files_services_do_not_write_config_json(split: tuple[Split, Path]) -> None:
    _, data = split
    registry = Registry(data)
    head = registry.log.head()
    for program in ("palletizer-api", "palletizer-files"):
        with running_service(program, data, "--public-url", "http://elsewhere.test"):
            pass
    assert registry.log.head() == head
    assert b"elsewhere" not in registry.log.read("config.json")


# -- two writer processes at once ----------------------------------------------------------------

HTTP_VERSIONS = 40
CLI_VERSIONS = 20


def test_the_api_service_and_the_cli_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    """`palletizer add` runs while palletizer-api takes publishes; both write `shared` and crates of their own."""
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    by_cli = [("shared", f"1.{i}.0") if i % 2 else ("by-cli", f"0.{i}.0") for i in range(CLI_VERSIONS)]
    by_api = [("shared", f"2.{i}.0") if i % 2 else ("by-api", f"0.{i}.0") for i in range(HTTP_VERSIONS)]
    files = []
    for name, version in by_cli:
        files.append(tmp_path / f"{name}-{version}.crate")
        files[-1].write_bytes(make_crate(name, version))

    token = issue_token(data)
    with running_split(data) as urls:

        def publish(upload: tuple[str, str]) -> int:
            return put_crate(urls.api, token, publish_body(*upload)).status_code

        cli = subprocess.Popen(
            [str(BIN / "palletizer"), "--data", str(data), "add", *map(str, files)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # The publishes start once the CLI has committed its first version, so that both are under way
            # (a fixed pause would guess at how long the CLI takes to start).
            cli_messages = {f"Publish {name} {version}\n".encode() for name, version in by_cli}
            deadline = time.monotonic() + 60
            while True:
                exited = cli.poll() is not None
                with Repo(str(data / "index.git")) as repo:
                    if any(entry.commit.message in cli_messages for entry in repo.get_walker()):
                        break
                assert not exited and time.monotonic() < deadline, "the CLI committed nothing"
                time.sleep(0.01)
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(publish, by_api))
            _, stderr = cli.communicate(timeout=120)
        finally:
            cli.kill()
            cli.wait()
        assert answers == [200] * HTTP_VERSIONS
        assert cli.returncode == 0, stderr

        for name in ("shared", "by-cli", "by-api"):
            expected = sorted(v for n, v in by_cli + by_api if n == name)
            assert sorted(index_versions(urls.index, name)) == expected, name

    assert run_cli(data, "verify").code == 0
    commits = [entry.commit for entry in Repo(str(data / "index.git")).get_walker()]
    assert len(commits) == HTTP_VERSIONS + CLI_VERSIONS + 1  # and config.json, written by the index service
    assert all(len(commit.parents) <= 1 for commit in commits)
    # The writers really took turns: the CLI's commits are not one unbroken run.
    writers = [commit.message in cli_messages for commit in reversed(commits[:-1])]
    assert sum(a != b for a, b in zip(writers, writers[1:], strict=False)) >= 2, writers
