"""Fixtures shared by all tests: a fresh registry and a running server on it; hypothesis profiles."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.server import running_server

# `make test`: few examples, the same ones every run. `make fuzz` (HYPOTHESIS_PROFILE=fuzz): many, random.
settings.register_profile("ci", max_examples=60, derandomize=True, database=None, deadline=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry in a temporary data directory, served at http://registry.test."""
    return Registry.create(tmp_path / "data", RegistryConfig(public_url="http://registry.test"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`palletizer-all` on a free loopback port over a fresh registry: (base URL, data dir)."""
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    with running_server(data) as url:
        yield url, data
