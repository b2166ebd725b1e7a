"""The compose stack for real, driven by real cargo: `make test-compose` (not part of `make test`).

Runs ../shared/tools/container-runtime where it is (podman, podman-compose and a local python:3.11-slim image; as
root, about a minute the first time), then the README's `docker compose up -d --build`, as written, through
podman-compose, with the three services on free loopback ports (set by the variables the README lists).
Every `docker compose` command of the README runs once, as written (`readme_commands.py`), and each is
checked by what it did. The stack and its volume are removed afterwards, also when a test fails.
Each test is one step, in order; a new step (another index protocol, say) is one more function.
Cargo publishes with a token made inside the stack by the CLI, as an administrator would.
"""

import subprocess
from collections.abc import Iterator

import pytest
import requests

from palletizer_lib.stores.accounts import TOKEN_PREFIX
from tests.compose.stack import FRONT, README_COMMANDS, SERVICES, Stack, compose_project
from tests.support.cargo import REGISTRY
from tests.support.cratekit import make_crate, publish_body
from tests.support.graph import EXPECTED_OUTPUT, publish_graph, reg, write_app

PUBLISHER = "stack-publisher"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    with compose_project(
        tmp_path_factory.mktemp("compose"), "test", dotenv=False, show_logs=lambda: request.session.testsfailed
    ) as stack:
        stack.readme("up -d --build")
        stack.wait_healthy(*SERVICES)
        yield stack


@pytest.fixture(scope="module")
def token(stack: Stack) -> str:
    """An admin token of PUBLISHER, issued inside the stack."""
    return stack.issue_token(PUBLISHER, "admin")


def test_the_three_services_are_healthy(stack: Stack) -> None:
    for service in SERVICES:
        assert requests.get(f"{stack.urls[service]}/health", timeout=10).json() == {"status": "ok"}
        # the healthcheck compose.yaml declares, run inside the container
        subprocess.run(["podman", "healthcheck", "run", stack.container(service)], check=True, timeout=60)
        assert stack.health_status(service) == "healthy"


def test_the_stack_alone_starts_no_front(stack: Stack) -> None:
    running = subprocess.run(
        ["podman", "ps", "--format", "{{.Names}}", "--filter", f"label=com.docker.compose.project={stack.project}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(name.split("_")[-2] for name in running) == sorted(SERVICES), running


def test_the_readme_s_ps_lists_the_services(stack: Stack) -> None:
    listed = stack.readme("ps").stdout
    for service in SERVICES:
        assert f"{stack.project}_{service}_1" in listed, listed


def test_the_readme_s_command_line_examples_work_as_written(stack: Stack) -> None:
    """user add, token create, add from standard input, yank from a one-off container, verify."""
    here = stack.root / "readme"
    here.mkdir()
    crate = make_crate("foo", "0.1.0")
    (here / "foo-0.1.0.crate").write_bytes(crate)
    stack.readme("exec -T api palletizer user add")
    assert "alice" in stack.compose("exec", "-T", "api", "palletizer", "user", "list").stdout.split()
    [alice] = [
        w for w in stack.readme("exec -T api palletizer token create").stdout.split() if w.startswith(TOKEN_PREFIX)
    ]
    assert "added foo 0.1.0" in stack.readme("exec -T api palletizer add -", cwd=here).stdout
    assert requests.get(f"{stack.urls['files']}/files/foo/foo-0.1.0.crate", timeout=10).content == crate
    assert "yanked foo 0.1.0" in stack.readme("run --rm --no-deps -T api palletizer yank").stdout
    entry = requests.get(f"{stack.urls['index']}/index/3/f/foo", timeout=10).json()
    assert entry["vers"] == "0.1.0" and entry["yanked"] is True
    verified = stack.readme("exec -T api palletizer verify")
    assert "the registry is consistent" in verified.stdout + verified.stderr

    unyank = f"{stack.urls['api']}/api/v1/crates/foo/0.1.0/unyank"
    assert requests.put(unyank, timeout=10).status_code == 401
    # alice's token is valid: she is refused as someone who owns nothing
    assert requests.put(unyank, headers={"Authorization": alice}, timeout=10).status_code == 403


def test_the_volume_was_initialised_once(stack: Stack) -> None:
    logs = [stack.compose("logs", service) for service in SERVICES]
    assert sum("initialised an empty registry" in log.stdout + log.stderr for log in logs) == 1, logs


def test_config_json_sends_cargo_to_the_api_and_files_services(stack: Stack) -> None:
    config = requests.get(f"{stack.urls['index']}/index/config.json", timeout=10).json()
    assert config["api"] == stack.urls["api"]
    assert config["dl"] == f"{stack.urls['files']}/files/{{crate}}/{{crate}}-{{version}}.crate"


def test_cargo_publishes_then_builds_a_dependent_crate(stack: Stack, token: str) -> None:
    publisher = stack.cargo("publisher", f"sparse+{stack.urls['index']}/index/", token)
    publish_graph(publisher, stack.root / "src")
    builder = stack.cargo("builder", f"sparse+{stack.urls['index']}/index/")
    app = write_app(stack.root / "apps")
    builder.run(app, "build")
    assert builder.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT
    owners = publisher.run(stack.root, "owner", "--list", "--registry", REGISTRY, "ab")
    assert owners.stdout.split() == [PUBLISHER, f"({PUBLISHER})"], owners.stdout


def test_a_yank_by_the_cli_in_the_stack_is_seen_by_cargo(stack: Stack) -> None:
    cargo = stack.cargo("yank", f"sparse+{stack.urls['index']}/index/")
    pinned = write_app(stack.root / "yank-apps", "pinned_app", reg("ab", "=0.1.1"))
    cargo.run(pinned, "generate-lockfile")

    yanked = stack.compose("run", "--rm", "--no-deps", "-T", "api", "palletizer", "yank", "ab", "0.1.1")
    assert "yanked ab 0.1.1" in yanked.stdout
    refused = cargo.run(pinned, "generate-lockfile", check=False)
    assert refused.returncode != 0 and "yanked" in refused.stderr

    stack.compose("exec", "-T", "api", "palletizer", "unyank", "ab", "0.1.1")
    cargo.run(pinned, "generate-lockfile")


def test_cargo_builds_through_the_git_index(stack: Stack) -> None:
    git_index = f"{stack.urls['index']}/git/index"
    refs = subprocess.run(["git", "ls-remote", git_index], capture_output=True, text=True, timeout=60, check=True)
    assert "refs/heads/main" in refs.stdout
    cargo = stack.cargo("git", git_index)
    app = write_app(stack.root / "git-apps")
    cargo.run(app, "build")
    assert cargo.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT


def test_the_registry_in_the_volume_is_consistent(stack: Stack) -> None:
    verified = stack.compose("exec", "-T", "api", "palletizer", "verify")
    assert "the registry is consistent" in verified.stdout + verified.stderr
    listed = stack.compose("exec", "-T", "api", "palletizer", "list").stdout
    assert "middle 0.1.0" in listed and "ab 0.1.1" in listed


def test_the_nginx_front_serves_files_itself_and_proxies_the_rest(stack: Stack, token: str) -> None:
    """compose.front.yaml: nginx answers index and crate files from the volume (its ETags are `"mtime-size"`,
    Palletizer's a hash), sends other spellings of a name to the index service and publishes to the api."""
    stack.readme("down")
    stack.readme("-f compose.yaml -f compose.front.yaml up -d --build")
    front = stack.urls[FRONT]
    stack.wait_healthy(*SERVICES, FRONT)

    config = requests.get(f"{front}/index/config.json", timeout=10)
    assert config.json() == requests.get(f"{stack.urls['index']}/index/config.json", timeout=10).json()
    assert config.json()["api"] == front.replace("127.0.0.1", "localhost")
    assert config.json()["dl"].startswith(front.replace("127.0.0.1", "localhost") + "/files/")
    assert "-" in config.headers["ETag"]
    direct = requests.get(f"{stack.urls['index']}/index/mi/dd/middle", timeout=10)
    static = requests.get(f"{front}/index/mi/dd/middle", timeout=10)
    assert static.status_code == 200 and static.content == direct.content
    assert "-" in static.headers["ETag"]
    assert (
        requests.get(
            f"{front}/index/mi/dd/middle", headers={"If-None-Match": static.headers["ETag"]}, timeout=10
        ).status_code
        == 304
    )
    spelled = requests.get(f"{front}/index/mi/dd/MIDDLE", timeout=10)
    assert spelled.status_code == 200 and spelled.content == direct.content
    assert spelled.headers["ETag"] == direct.headers["ETag"]  # answered by the index service
    assert requests.get(f"{front}/index/.head", timeout=10).status_code == 404
    crate = requests.get(f"{front}/files/middle/middle-0.1.0.crate", timeout=10)
    assert crate.status_code == 200
    assert crate.content == requests.get(f"{stack.urls['files']}/files/middle/middle-0.1.0.crate", timeout=10).content

    body = publish_body("through-front", "1.0.0")
    published = requests.put(f"{front}/api/v1/crates/new", data=body, headers={"Authorization": token}, timeout=30)
    assert published.status_code == 200, published.text
    listed = requests.get(f"{front}/index/th/ro/through-front", timeout=10)
    assert listed.status_code == 200 and '"vers":"1.0.0"' in listed.text.replace(" ", "")
    refused = requests.put(f"{front}/api/v1/crates/new", data=body, timeout=30)
    assert refused.status_code == 401


def test_every_compose_command_of_the_readme_was_run(stack: Stack) -> None:
    assert sorted(stack.ran) == sorted(README_COMMANDS)
