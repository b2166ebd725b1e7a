"""compose.yaml as docker compose and podman-compose 1.0 both read it (the stack itself runs in
`make test-compose`)."""

import shlex

import yaml

from tests.compose.readme_commands import readme_compose_commands
from tests.support.server import ROOT


def test_healthchecks_are_shell_strings() -> None:
    """podman-compose 1.0 removes the first item of a list-form `test` when it makes a container, so a list
    shared through the YAML anchor breaks the next container it makes (`run --rm api ...`: "unknown
    healthcheck test type"). A string is CMD-SHELL for both."""
    for file in ("compose.yaml", "compose.front.yaml"):
        services = yaml.safe_load((ROOT / file).read_text())["services"]
        assert services
        for name, service in services.items():
            test = service["healthcheck"]["test"]
            assert isinstance(test, str) and "/health" in test, (file, name, test)


def test_the_front_is_a_file_of_its_own() -> None:
    """podman-compose 1.0 ignores `profiles`: the front is added with `-f compose.front.yaml`."""
    stack = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    front = yaml.safe_load((ROOT / "compose.front.yaml").read_text())["services"]
    assert set(stack) == {"index", "api", "files"} and set(front) == {"front"}
    assert not any("profiles" in service for service in (*stack.values(), *front.values()))


def test_the_readme_s_compose_commands_name_what_exists_and_need_no_terminal() -> None:
    """Every `docker compose` command of the README (all run as written by `make test-compose`) names compose
    files and services that exist, and `exec`/`run` ask for no terminal (`-T`), so that they work in scripts
    and with input on standard input."""
    commands = readme_compose_commands()
    services = {*yaml.safe_load((ROOT / "compose.yaml").read_text())["services"],
                *yaml.safe_load((ROOT / "compose.front.yaml").read_text())["services"]}
    verbs = []
    for command in commands:
        words = shlex.split(command.split("docker compose", 1)[1])
        while words[0] == "-f":
            assert (ROOT / words[1]).is_file(), command
            words = words[2:]
        verbs.append(words[0])
        if words[0] in ("exec", "run"):
            assert "-T" in words, command
            assert next(word for word in words[1:] if not word.startswith("-")) in services, command
    assert {"up", "ps", "exec", "run", "down"} <= set(verbs), commands
