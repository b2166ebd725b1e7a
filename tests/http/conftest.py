"""HTTP-level fixtures: one real `palletizer-all` per test module.

Tests in one module share a server, so each test publishes crates under names of its own.
"""

from collections.abc import Iterator

import pytest

from palletizer_lib.settings.config import RegistryConfig
from tests.support.http import SMALL_MAX_CRATE_SIZE, Live, serve_live


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`palletizer-all` over a fresh registry with default settings, shared by one module."""
    yield from serve_live(tmp_path_factory, RegistryConfig())


@pytest.fixture(scope="module")
def small_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server whose registry accepts crates of at most SMALL_MAX_CRATE_SIZE bytes."""
    yield from serve_live(tmp_path_factory, RegistryConfig(max_crate_size=SMALL_MAX_CRATE_SIZE))
