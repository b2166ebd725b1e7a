"""Fixtures shared by all tests: a fresh registry and a running server on it."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from palletizer_lib.config import RegistryConfig
from palletizer_lib.registry import Registry
from tests.server import running_server


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
