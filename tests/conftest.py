"""Fixtures shared by all tests: a fresh registry; hypothesis profiles; the `slow` mark of the tests that run
real servers."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig

# `make test`: few examples, the same ones every run. `make fuzz` (HYPOTHESIS_PROFILE=fuzz): many, random.
settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz", max_examples=5000, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TESTS = Path(__file__).parent
REAL_SERVERS = (TESTS / "http", TESTS / "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test of tests/http (real servers) and tests/e2e (real servers and cargo)."""
    for item in items:
        if any(directory in item.path.parents for directory in REAL_SERVERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry in a temporary data directory, served at http://registry.test."""
    return Registry.create(tmp_path / "data", RegistryConfig(public_url="http://registry.test"))
