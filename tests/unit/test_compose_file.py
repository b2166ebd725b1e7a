"""compose.yaml as docker compose and podman-compose 1.0 both read it (the stack itself runs in
`make test-compose`)."""

import yaml

from tests.server import ROOT


def test_healthchecks_are_shell_strings() -> None:
    """podman-compose 1.0 removes the first item of a list-form `test` when it makes a container, so a list
    shared through the YAML anchor breaks the next container it makes (`run --rm api ...`: "unknown
    healthcheck test type"). A string is CMD-SHELL for both."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert services
    for name, service in services.items():
        test = service["healthcheck"]["test"]
        assert isinstance(test, str) and "/health" in test, (name, test)
