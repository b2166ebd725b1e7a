"""The `docker compose` commands the README shows, as written, and a shell that runs them with podman-compose."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
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


def run_as_written(command: str, project: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`command` run by bash in `cwd`, with `docker compose ...` standing for
    `podman-compose -p PROJECT ...` run from the checkout (where `docker compose` finds compose.yaml)."""
    shim = ('docker() { [ "$1" = compose ] || return 127; shift; '
            '(cd "$PALLETIZER_CHECKOUT" && exec podman-compose -p "$PALLETIZER_PROJECT" "$@"); }\n')
    return subprocess.run(["bash", "-euo", "pipefail", "-c", shim + command], cwd=cwd,
                          env={**env, "PALLETIZER_CHECKOUT": str(ROOT), "PALLETIZER_PROJECT": project},
                          capture_output=True, text=True, timeout=900)
