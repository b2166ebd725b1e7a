"""A compose project run by podman-compose from its own folder (`compose_folder`): the README's commands as
written, podman-compose's own, and the services' containers, ports and health."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from palletizer_lib.stores.accounts import TOKEN_PREFIX
from tests.compose.readme_commands import compose_folder, readme_compose_commands, run_as_written
from tests.support.cargo import Cargo
from tests.support.readiness import NotReady, http_healthy, wait_until_ready
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_RUNTIME = ROOT.parent / "shared" / "tools" / "container-runtime"
SERVICES = ("index", "api", "files")
FRONT = "front"
WITH_FRONT = ("compose.yaml", "compose.front.yaml")
STARTUP_SECONDS = 180
README_COMMANDS = readme_compose_commands()


@dataclass
class Stack:
    """One compose project: its name, its folder, the services' URLs, the environment its commands run in, and
    a place for cargo's files."""

    project: str
    folder: Path
    urls: dict[str, str]
    env: dict[str, str]
    root: Path
    ran: list[str] = field(default_factory=list)

    def compose(
        self, *args: str, check: bool = True, files: tuple[str, ...] = ("compose.yaml",)
    ) -> subprocess.CompletedProcess:
        """`podman-compose -p PROJECT -f FILE... ARGS`; on failure (with `check`) raise with its output."""
        named = [arg for file in files for arg in ("-f", str(self.folder / file))]
        result = subprocess.run(
            ["podman-compose", "-p", self.project, *named, *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman-compose {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def readme(self, start: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run the one README command beginning `docker compose START`, as written; raise if it fails."""
        [command] = [c for c in README_COMMANDS if c.split("docker compose ", 1)[1].startswith(start)]
        self.ran.append(command)
        result = run_as_written(command, self.project, self.folder, cwd or self.root, self.env)
        if result.returncode != 0:
            raise AssertionError(f"{command} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def container(self, service: str) -> str:
        """The id of the running container of `service`."""
        found = subprocess.run(
            [
                "podman",
                "ps",
                "-q",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert len(found) == 1, found
        return found[0]

    def health_status(self, service: str) -> str:
        """What podman says of the container's healthcheck (`starting`, `healthy`, ...)."""
        return subprocess.run(
            ["podman", "inspect", "--format", "{{.State.Health.Status}}", self.container(service)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def wait_healthy(self, *services: str) -> None:
        """Wait until each of `services` answers 200 on /health over HTTP (podman without systemd runs no
        healthcheck timers, so their status is not waited on)."""
        for service in services:
            try:
                wait_until_ready(http_healthy(f"{self.urls[service]}/health"), seconds=STARTUP_SECONDS)
            except NotReady as error:
                logs = self.compose("logs", service, check=False, files=WITH_FRONT)
                raise AssertionError(f"{service}: {error}\n{logs.stdout[-4000:]}{logs.stderr[-4000:]}") from None

    def issue_token(self, user: str, *scopes: str) -> str:
        """A new token for a new `user`, made by the CLI in the api container (`token create` prints it
        alone on stdout)."""
        self.compose("exec", "-T", "api", "palletizer", "user", "add", user)
        created = self.compose(
            "exec",
            "-T",
            "api",
            "palletizer",
            "token",
            "create",
            "--user",
            user,
            *(arg for scope in scopes for arg in ("--scope", scope)),
        )
        # Only the token itself: podman-compose may print its own lines around the command's output.
        [token] = [word for word in created.stdout.split() if word.startswith(TOKEN_PREFIX)]
        return token

    def config_json(self, service: str) -> dict:
        return requests.get(f"{self.urls[service]}/index/config.json", timeout=10).json()

    def cargo(self, name: str, index_url: str, token: str | None = None) -> Cargo:
        return Cargo.create(self.root / name, index_url, token=token)


def settings(ports: dict[str, int]) -> dict[str, str]:
    """The README's settings for services published on `ports` of 127.0.0.1."""
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    return {
        "PALLETIZER_BIND": "127.0.0.1",
        "PALLETIZER_INDEX_PORT": str(ports["index"]),
        "PALLETIZER_API_PORT": str(ports["api"]),
        "PALLETIZER_FILES_PORT": str(ports["files"]),
        "PALLETIZER_FRONT_PORT": str(ports[FRONT]),
        "PALLETIZER_PUBLIC_URL": urls["index"],
        "PALLETIZER_API_URL": urls["api"],
        "PALLETIZER_FILES_URL": urls["files"],
        "PALLETIZER_FRONT_URL": urls[FRONT].replace("127.0.0.1", "localhost"),
    }


@contextmanager
def compose_project(root: Path, name: str, dotenv: bool, show_logs: bool) -> Iterator[Stack]:
    """A compose folder under `root` with the README's settings for free loopback ports: in the environment
    its commands run in, or (`dotenv`) in an `.env` beside compose.yaml and nowhere else. Everything the
    project made is removed afterwards; `show_logs()` says whether to print the services' logs first."""
    if CONTAINER_RUNTIME.is_file():
        subprocess.run([str(CONTAINER_RUNTIME)], check=True, timeout=900)
    else:
        assert shutil.which("podman-compose"), f"neither {CONTAINER_RUNTIME} nor podman-compose is here"
    ports = {service: free_port() for service in (*SERVICES, FRONT)}
    values = settings(ports)
    folder = compose_folder(root / "project")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PALLETIZER_")}
    if dotenv:
        (folder / ".env").write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    else:
        env.update(values)
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    stack = Stack(f"palletizer-{name}-{os.getpid()}", folder, urls, env, root)
    try:
        yield stack
    finally:
        if show_logs():
            for service in (*SERVICES, FRONT):
                logs = stack.compose("logs", service, check=False, files=WITH_FRONT)
                print(f"--- logs of {service} ---\n{logs.stdout[-4000:]}{logs.stderr[-4000:]}")
        stack.compose("down", "-v", check=False, files=WITH_FRONT)
