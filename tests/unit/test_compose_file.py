"""compose.yaml as docker compose and podman-compose 1.0 both read it (the stack itself runs in
`make test-compose`)."""

import yaml

from tests.server import ROOT


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
