"""The README's compose commands, as written, with every setting in an `.env` beside compose.yaml (as the README
invites) and none in the shell: `make test-compose`. podman-compose 1.0 lets `.env` win over the shell's
variables (docker compose the reverse), so a command that set the URLs in the shell kept `.env`'s in
config.json; and podman without systemd runs no healthcheck timers, so a status is only what `podman
healthcheck run` last found. Each test is one step, in order."""

import subprocess
from collections.abc import Iterator

import pytest
import requests

from tests.compose.stack import FRONT, SERVICES, Stack, compose_project


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    with compose_project(
        tmp_path_factory.mktemp("dotenv"), "dotenv", dotenv=True, show_logs=lambda: request.session.testsfailed
    ) as stack:
        assert not any(key.startswith("PALLETIZER_") for key in stack.env)
        stack.readme("up -d --build")
        stack.wait_healthy(*SERVICES)
        yield stack


def test_the_services_take_their_urls_and_ports_from_the_env_file(stack: Stack) -> None:
    config = stack.config_json("index")
    assert config["api"] == stack.urls["api"]
    assert config["dl"].startswith(f"{stack.urls['files']}/files/")
    listed = stack.readme("ps").stdout
    assert all(f"{stack.project}_{service}_1" in listed for service in SERVICES), listed


def test_a_healthcheck_run_by_hand_makes_the_status_healthy(stack: Stack) -> None:
    for service in SERVICES:
        subprocess.run(["podman", "healthcheck", "run", stack.container(service)], check=True, timeout=60)
        assert stack.health_status(service) == "healthy"


def test_the_front_s_commands_send_cargo_through_the_front(stack: Stack) -> None:
    stack.readme("down")
    stack.readme("-f compose.yaml -f compose.front.yaml up -d --build")
    stack.wait_healthy(*SERVICES, FRONT)
    front_url = stack.urls[FRONT].replace("127.0.0.1", "localhost")
    config = stack.config_json(FRONT)
    assert config == stack.config_json("index")
    assert config["api"] == front_url
    assert config["dl"].startswith(f"{front_url}/files/")
    assert requests.get(f"{stack.urls[FRONT]}/index/config.json", timeout=10).status_code == 200
