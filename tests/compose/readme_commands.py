"""The `docker compose` commands the README shows, as written, a shell that runs them with podman-compose, and
the folder they run in: a copy of the compose files and of what their images are built from, where an `.env`
of the test's own (and none of the checkout's) sits beside compose.yaml."""

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COMPOSE_FOLDER = (
    "compose.yaml",
    "compose.front.yaml",
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "docker",
    "shared",
    "services",
)
_SHELL_BLOCK = re.compile(r"^ *```sh\n(.*?)^ *```", re.MULTILINE | re.DOTALL)


def readme_compose_commands(readme: Path = README) -> list[str]:
    """Every command of the README's `sh` blocks that runs `docker compose`, in order, continuation lines
    joined and comments dropped."""
    commands = []
    for block in _SHELL_BLOCK.findall(readme.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if "docker compose" in command:
                commands.append(" ".join(command.split()))
    return commands


def compose_folder(destination: Path) -> Path:
    """`destination` made a folder to run compose in: the checkout's compose files and what the images are
    built from (podman-compose 1.0 reads `.env` beside the first compose file, and builds from there)."""
    destination.mkdir(parents=True)
    for name in COMPOSE_FOLDER:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            )
        else:
            shutil.copy2(ROOT / name, destination / name)
    return destination


def run_as_written(
    command: str, project: str, folder: Path, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    """`command` run by bash in `cwd`, with `docker compose ...` standing for
    `podman-compose -p PROJECT ...` run from `folder` (where `docker compose` finds compose.yaml)."""
    shim = (
        'docker() { [ "$1" = compose ] || return 127; shift; '
        '(cd "$PALLETIZER_COMPOSE_FOLDER" && exec podman-compose -p "$PALLETIZER_PROJECT" "$@"); }\n'
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", shim + command],
        cwd=cwd,
        env={**env, "PALLETIZER_COMPOSE_FOLDER": str(folder), "PALLETIZER_PROJECT": project},
        capture_output=True,
        text=True,
        timeout=900,
    )
